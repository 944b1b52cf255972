"""How database rows look in API responses."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from t4o.policies import setting_secrets
from t4o.policies.quotas import QUOTA_TYPES


def _ts(value: dt.datetime | str | None) -> str | None:
    # UTC with microseconds, as Trilio's API writes them; jobs a few milliseconds apart stay ordered.
    if not value:
        return None
    if isinstance(value, str):  # a listing's 'YYYY-MM-DD HH:MM:SS[.ffffff]' as the database wrote it
        if len(value) == 19:  # whole seconds (MariaDB's DATETIME): the common case of a large page
            return f"{value[:10]}T{value[11:]}.000000Z"
        return f"{value[:10]}T{value[11:19]}.{value[20:26].ljust(6, '0')}Z"
    return value.isoformat(timespec="microseconds") + "Z"


def workload_type(wt: Any) -> dict[str, Any]:
    return {
        "id": wt.id,
        "name": wt.name,
        "description": wt.description,
        "is_public": wt.is_public,
        "metadata": wt.metadata_,
        "created_at": _ts(wt.created_at),
    }


def workload(
    wl: Any, usage: dict[str, Any] | None = None, rpo: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A workload; with ``usage`` its storage usage, with ``rpo`` how it stands against its RPO
    (rpo_hours, rpo_breached, last_snapshot_at, last_snapshot_age_seconds: t4o.policies.rpo)."""
    out = {
        "id": wl.id,
        "name": wl.name,
        "description": wl.description,
        "project_id": wl.project_id,
        "user_id": wl.user_id,
        "workload_type_id": wl.workload_type_id,
        "source_platform": wl.source_platform,
        "status": wl.status,
        "error_msg": wl.error_msg,
        "jobschedule": wl.jobschedule,
        "metadata": wl.metadata_,
        "encryption": wl.encryption,
        "secret_uuid": wl.secret_uuid,
        "backup_target_id": wl.backup_target_id or "config",
        "instances": [{"id": vm.vm_id, "name": vm.vm_name} for vm in wl.vms],
        "created_at": _ts(wl.created_at),
        "updated_at": _ts(wl.updated_at),
    }
    if usage is not None:
        out["storage_usage"] = usage
    if rpo is not None:
        out.update(rpo)
    return out


_WORKLOAD_ROW_KEYS = (
    "id",
    "name",
    "description",
    "project_id",
    "user_id",
    "workload_type_id",
    "source_platform",
    "status",
    "error_msg",
    "jobschedule",
    "metadata",
    "encryption",
    "secret_uuid",
    "backup_target_id",
    "instances",
)
_WORKLOAD_SUMMARY_KEYS = (
    "id",
    "name",
    "description",
    "status",
    "project_id",
    "workload_type_id",
    "instances",
)


def workload_row(row: dict[str, Any], detail: bool = True) -> dict[str, Any]:
    """A workload row of WorkloadAPI.list_workloads (the keys of _WORKLOAD_ROW_KEYS and the timestamps);
    the same fields as :func:`workload`.

    A detailed row becomes its view in place (a listing renders up to a thousand of them). JSON columns
    read as text (``raw_json``) are embedded as they are, without decoding them.
    """
    out = row if detail else {k: row[k] for k in _WORKLOAD_SUMMARY_KEYS}
    for key in ("jobschedule", "metadata"):
        value = out.get(key)
        if isinstance(value, str):
            out[key] = orjson.Fragment(value)
    out["created_at"] = _ts(row["created_at"])
    if detail:
        out["backup_target_id"] = row.get("backup_target_id") or "config"
        out["updated_at"] = _ts(row["updated_at"])
    return out


def _job(job: Any) -> dict[str, Any]:
    return {
        "id": job.id,
        "name": job.name,
        "description": job.description,
        "project_id": job.project_id,
        "user_id": job.user_id,
        "workload_id": job.workload_id,
        "status": job.status,
        "progress_percent": job.progress_percent,
        "progress_msg": job.progress_msg,
        "warning_msg": job.warning_msg,
        "error_msg": job.error_msg,
        "time_taken": job.time_taken,
        "size": job.size,
        "uploaded_size": job.uploaded_size,
        "host": job.host,
        "created_at": _ts(job.created_at),
        "updated_at": _ts(job.updated_at),
        "finished_at": _ts(job.finished_at),
    }


def snapshot(snap: Any, detail: bool = True) -> dict[str, Any]:
    out = _job(snap)
    out["snapshot_type"] = snap.snapshot_type
    if detail:
        out["instances"] = [
            {
                "id": vm.vm_id,
                "name": vm.vm_name,
                "status": vm.status,
                "size": vm.size,
                "metadata": vm.definition,
                "vdisks": vm.disks,
            }
            for vm in snap.vms
        ]
    return out


def restore(r: Any) -> dict[str, Any]:
    out = _job(r)
    out.update(
        snapshot_id=r.snapshot_id,
        restore_type=r.restore_type,
        restore_options=r.restore_options,
        instances=r.instances,
    )
    return out


def setting(st: Any) -> dict[str, Any]:
    return {
        "name": st.name,
        "value": setting_secrets.shown_value(st.name, st.value, st.metadata_),
        "category": st.category,
        "type": st.type,
        "description": st.description,
        "is_public": st.is_public,
        "is_hidden": st.is_hidden,
        "metadata": st.metadata_,
        "project_id": st.project_id,
    }


_ATTEMPT_KEYS = (
    "attempt",
    "started_at",
    "ended_at",
    "result",
    "snapshot_id",
    "error",
    "will_retry",
    "next_attempt_at",
    "retry_reason",
)


def scheduled_run(run: Any) -> dict[str, Any]:
    """A scheduled run with its attempts and, when missed, why (as the cron service recorded them)."""
    details = run.details or {}
    next_at = run.next_attempt_at
    return {
        "id": run.id,
        "scheduled_time": run.scheduled_time.isoformat(),
        "status": run.status,
        "snapshot_id": run.snapshot_id,
        "snapshot_type": run.snapshot_type,
        "host": run.host,
        "message": run.message,
        "attempt_count": run.attempts,
        # Only a waiting or retrying run is tried again: a settled run keeps its last value in the row.
        "next_attempt_at": (
            next_at.strftime("%Y-%m-%dT%H:%M:%SZ")
            if next_at and run.status in ("waiting", "retrying")
            else None
        ),
        "attempts": [{k: a.get(k) for k in _ATTEMPT_KEYS} for a in details.get("attempts") or []],
        "missed": details.get("missed"),
    }


def workload_policy(pol: Any, projects: list[str] | None = None) -> dict[str, Any]:
    """A workload policy; with ``projects``, those it is assigned to (for callers who see them)."""
    out: dict[str, Any] = {
        "id": pol.id,
        "name": pol.name,
        "display_name": pol.name,
        "display_description": pol.description,
        "field_values": pol.field_values,
        "metadata": pol.metadata_,
        "created_at": pol.created_at.isoformat(),
        "updated_at": pol.updated_at.isoformat(),
    }
    if projects is not None:
        out["project_list"] = projects
    return out


_QUOTA_TYPES = {t["id"]: t for t in QUOTA_TYPES}


def quota(q: Any, usage: dict[str, int] | None = None) -> dict[str, Any]:
    """An allowed quota; with ``usage`` (the project's, by kind), how much of it is used."""
    kind = _QUOTA_TYPES.get(q.quota_type_id, {"display_name": "", "usage": ""})
    out = {
        "id": q.id,
        "project_id": q.project_id,
        "quota_type_id": q.quota_type_id,
        "quota_type_name": kind["display_name"],
        "allowed_value": q.allowed_value,
        "high_watermark": q.high_watermark,
    }
    if usage is not None:
        out["usage"] = usage.get(kind["usage"], 0)
    return out
