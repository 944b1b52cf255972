"""Snapshot mounts: a snapshot's disks attached read-only to a recovery VM (t4o.workloads.mounts)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from t4o.api.handlers import Body, Query
from t4o.common.context import RequestContext
from t4o.db.models import SnapshotMount
from t4o.workloads.mounts import SnapshotMounts

MOUNTS = SnapshotMounts()

_DISK_FIELDS = ("vm_id", "disk", "device", "serial")


def _ts(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="microseconds") + "Z" if value else None


def view(mount: SnapshotMount, snapshot_name: str) -> dict[str, Any]:
    return {
        "id": mount.id,
        "snapshot_id": mount.snapshot_id,
        "snapshot_name": snapshot_name,
        "workload_id": mount.workload_id,
        "mount_vm_id": mount.mount_vm_id,
        "host": mount.host,
        "status": mount.status,
        "error_msg": mount.error_msg,
        "disks": [{k: d.get(k) for k in _DISK_FIELDS} for d in mount.disks or []],
        "mounted_at": _ts(mount.mounted_at),
        "last_used_at": _ts(mount.last_used_at),
        "expires_at": _ts(MOUNTS.expires_at(mount)),
        "dismounted_at": _ts(mount.dismounted_at),
        "dismount_reason": mount.dismount_reason,
    }


def mount_snapshot(ctx: RequestContext, body: Body, query: Query, project_id: str, snapshot_id: str) -> Any:
    return {"mount": view(*MOUNTS.mount(ctx, snapshot_id, body["mount"]["mount_vm_id"]))}


def dismount_snapshot(
    ctx: RequestContext, body: Body, query: Query, project_id: str, snapshot_id: str
) -> Any:
    return {"mount": view(*MOUNTS.dismount(ctx, snapshot_id))}


def list_mounted(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    return {"mounted_snapshots": [view(m, name) for m, name in MOUNTS.list_mounted(ctx)]}
