"""The workload and snapshot documents T4O writes to the backup target, and reading them back.

A snapshot writes ``workloads/<id>.json`` and the ``metadata`` of ``snapshots/<id>/snapshot.json``
(docs/vault-format.md). They hold everything an import needs to rebuild the database rows from the
target alone. ``document_version`` says which fields a document has: documents written before it existed
are version 1 (identity, name, project and VM records only); readers refuse a version newer than
DOCUMENT_VERSION rather than import half of what a newer T4O wrote.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from t4o.common import errors

DOCUMENT_VERSION = 2


class NewerFormat(errors.BadRequest):
    """The target was written by a newer T4O: importing it would lose what this one cannot read."""


def _iso(value: dt.datetime | None) -> str | None:
    return value.replace(tzinfo=dt.UTC).isoformat(timespec="seconds") if value is not None else None


def parse_time(value: Any) -> dt.datetime | None:
    """A document's ISO 8601 time as the database stores it (naive UTC)."""
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed.astimezone(dt.UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def workload_document(workload: Any) -> dict[str, Any]:
    """The workload row as the target keeps it: enough to re-create it and its schedule."""
    return {
        "document_version": DOCUMENT_VERSION,
        "id": workload.id,
        "name": workload.name,
        "description": workload.description,
        "project_id": workload.project_id,
        "user_id": workload.user_id,
        "workload_type_id": workload.workload_type_id,
        "source_platform": workload.source_platform,
        "jobschedule": workload.jobschedule,
        "metadata": workload.metadata_,
        "encryption": workload.encryption,
        "secret_uuid": workload.secret_uuid,
        "created_at": _iso(workload.created_at),
        "vms": [{"id": v.vm_id, "name": v.vm_name, "volume_count": v.volume_count} for v in workload.vms],
    }


def snapshot_document(
    snap: Any, records: list[dict[str, Any]], notes: list[str], kind: str, parent_id: str | None
) -> dict[str, Any]:
    """A finished snapshot as the target keeps it: its VM records, sizes, times and place in the chain."""
    disks = [d for r in records for d in r["disks"]]
    return {
        "document_version": DOCUMENT_VERSION,
        "t4o_snapshot_id": snap.id,
        "name": snap.name,
        "description": snap.description,
        "project_id": snap.project_id,
        "user_id": snap.user_id,
        "snapshot_type": kind,
        "parent_snapshot_id": parent_id,
        "size": sum(r["size"] for r in records),
        "uploaded_size": sum(d.get("new_bytes", 0) for d in disks),
        "host": snap.host,
        "created_at": _iso(snap.created_at),
        "started_at": _iso(snap.started_at),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "metadata": snap.metadata_,
        "notes": notes,
        "vms": records,
    }


def check_version(doc: dict[str, Any], what: str) -> int:
    version = int(doc.get("document_version") or 1)
    if version > DOCUMENT_VERSION:
        raise NewerFormat(
            f"{what} was written with document version {version}; this T4O reads up to version "
            f"{DOCUMENT_VERSION}. Upgrade T4O before importing from this target."
        )
    return version
