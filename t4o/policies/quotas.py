"""Project quotas (Trilio's project_quota_types and project_allowed_quotas) and their check.

``check`` raises 403 with a message naming the quota when an action would go beyond an allowed value.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from t4o.common import errors
from t4o.db import policy_api as db
from t4o.db import states
from t4o.db.models import Snapshot
from t4o.db.session import session_scope

# A snapshot that failed or was cancelled holds no restorable data: it does not count against the
# Snapshots quota (queued and running ones do, so that concurrent requests cannot pass it).
UNCOUNTED_SNAPSHOTS = (states.ERROR, states.CANCELLED)

# Fixed ids, so that clients can keep them; "usage" names the key of policy_api.project_usage.
QUOTA_TYPES: list[dict[str, Any]] = [
    {"id": "5c5d3f9e-5f7b-4a55-9a3e-1d0e6c8a0001", "display_name": "Workloads", "usage": "workloads"},
    {"id": "5c5d3f9e-5f7b-4a55-9a3e-1d0e6c8a0002", "display_name": "Snapshots", "usage": "snapshots"},
    {"id": "5c5d3f9e-5f7b-4a55-9a3e-1d0e6c8a0003", "display_name": "VMs", "usage": "vms"},
    {"id": "5c5d3f9e-5f7b-4a55-9a3e-1d0e6c8a0004", "display_name": "Volumes", "usage": "volumes"},
    {"id": "5c5d3f9e-5f7b-4a55-9a3e-1d0e6c8a0005", "display_name": "Storage", "usage": "storage"},
]
_BY_ID = {t["id"]: t for t in QUOTA_TYPES}
_BY_USAGE = {t["usage"]: t for t in QUOTA_TYPES}


def quota_type(type_id: str) -> dict[str, Any]:
    try:
        return _BY_ID[type_id]
    except KeyError:
        raise errors.BadRequest(
            f"Unknown quota_type_id {type_id}; see GET /project_quota_types for the valid ones."
        ) from None


def _int(value: Any, name: str) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        number = int(value)
    except (TypeError, ValueError):
        raise errors.BadRequest(f"{name} must be an integer, not {value!r}.") from None
    if number < -1:
        raise errors.BadRequest(f"{name} must be -1 (unlimited) or more, not {number}.")
    return number


def parse_item(item: Any) -> tuple[str, int, int]:
    if not isinstance(item, dict):
        raise errors.BadRequest("Each allowed quota must be an object.")
    type_id = quota_type(str(item.get("quota_type_id", "")))["id"]
    allowed = _int(item.get("allowed_value"), "allowed_value")
    high = _int(item.get("high_watermark", allowed), "high_watermark")
    if allowed >= 0 and high > allowed:
        raise errors.BadRequest(f"high_watermark ({high}) must not exceed allowed_value ({allowed}).")
    return type_id, allowed, high


def usage(project_id: str, s: Session | None = None) -> dict[str, int]:
    """What the project uses now, as the quotas count it (counted in ``s`` when given): every live
    snapshot except failed and cancelled ones; storage is the bytes stored (``uploaded_size``)."""
    if s is None:
        with session_scope() as own:
            return usage(project_id, own)
    used = db.project_usage(project_id, s)
    failed = s.scalar(
        select(func.count())
        .select_from(Snapshot)
        .where(
            Snapshot.project_id == project_id,
            Snapshot.deleted.is_(False),
            Snapshot.status.in_(UNCOUNTED_SNAPSHOTS),
        )
    )
    return {**used, "snapshots": used["snapshots"] - int(failed or 0)}


def check(project_id: str, usage: str, adding: int = 1) -> None:
    """403 if ``adding`` more of ``usage`` (workloads, snapshots, vms, volumes, storage) exceeds the quota."""
    check_all(project_id, {usage: adding})


def check_all(project_id: str, adding: dict[str, int], s: Session | None = None) -> None:
    """403 naming the first quota that ``adding`` ({usage key: count}) would exceed.

    With ``s`` (the transaction that then inserts what is added), the project's quotas are locked in it
    first, so that concurrent requests of the project are checked one after the other; without it the
    check is a quick early refusal that the locked one confirms.

    Counted kinds (workloads, snapshots, vms, volumes) are checked when something is added: usage plus
    the addition must stay within the allowed value. ``storage`` (bytes the project's snapshots hold in
    the vault) cannot be known before a snapshot runs, so a snapshot is refused once the project already
    holds its allowed bytes or more.
    """
    rows = db.quota_list(project_id) if s is None else db.quotas_locked(s, project_id)
    limits = {
        q.quota_type_id: q.allowed_value for q in rows if q.allowed_value >= 0 and q.quota_type_id in _BY_ID
    }
    wanted = [(key, n) for key, n in adding.items() if _BY_USAGE[key]["id"] in limits]
    if not wanted:
        return
    used = usage(project_id, s)
    for key, n in wanted:
        quota_t = _BY_USAGE[key]
        allowed, have = limits[quota_t["id"]], used.get(key, 0)
        if key == "storage" and have >= allowed:
            raise errors.Forbidden(
                f"Quota exceeded: project {project_id} may store {allowed} bytes (Storage quota); its "
                f"snapshots already hold {have} bytes, so no new snapshot can be taken."
            )
        if key != "storage" and n > 0 and have + n > allowed:
            raise errors.Forbidden(
                f"Quota exceeded: project {project_id} may have {allowed} {quota_t['display_name']}; it has "
                f"{have} and this request adds {n}."
            )
