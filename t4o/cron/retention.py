"""Retention of one workload: expired snapshots leave the backup target, then the database, then gc.

Each expired snapshot goes the way a REST delete goes (t4o.workloads.target_cleanup): its row shows
``deleting`` while its manifests and document are removed from the target, and only then is the row
deleted. A snapshot an object lock still protects stays, with the reason on its row; a mounted snapshot
stays until it is dismounted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from t4o.common import errors
from t4o.common.log import get_logger
from t4o.db import api as db
from t4o.db import mount_api, policy_api
from t4o.policies import retention
from t4o.policies.jobschedule import JobSchedule
from t4o.vault import Repository
from t4o.workloads import target_cleanup

LOG = get_logger(__name__)

VaultOpener = Callable[[], Any]  # returns a t4o.vault.Repository, or None when there is no vault


def default_vault() -> Repository | None:
    """The configured backup target's vault (never created here), or None when none is configured."""
    return target_cleanup.configured_target()


def apply(
    workload_id: str,
    schedule: JobSchedule,
    now: dt.datetime,
    vault: VaultOpener = default_vault,
    gc: bool = True,
) -> list[str]:
    """Delete what retention lets go; returns the snapshot ids deleted."""
    snaps = [
        retention.SnapshotInfo(
            id=r["id"],
            created_at=r["scheduled_time"] or r["created_at"],
            status=r["status"],
            metadata=r["metadata"],
        )
        for r in policy_api.snapshot_rows(workload_id)
    ]
    expired = _unmounted(workload_id, retention.expired(schedule, snaps, now))
    if not expired:
        return []
    # The default opens the workload's own backup target; tests pass an opener of their own.
    repo = target_cleanup.workload_target(workload_id) if vault is default_vault else vault()
    gone = [snap_id for snap_id in expired if _delete(repo, workload_id, snap_id)]
    if not gone:
        return gone
    LOG.info("Retention deleted %d snapshot(s) of workload %s: %s", len(gone), workload_id, ", ".join(gone))
    if gc and repo is not None:
        LOG.info("Vault gc after retention of workload %s: %s", workload_id, repo.gc())
    return gone


def _unmounted(workload_id: str, expired: list[str]) -> list[str]:
    """The expired snapshots without a live mount: a mounted one stays until it is dismounted."""
    mounts = mount_api.live_mounts(expired)
    for m in mounts:
        LOG.info(
            "Retention of workload %s keeps snapshot %s while it is mounted on VM %s (mount %s)",
            workload_id, m.snapshot_id, m.mount_vm_id, m.id,
        )  # fmt: skip
    kept = {m.snapshot_id for m in mounts}
    return [snap_id for snap_id in expired if snap_id not in kept]


def _delete(repo: Repository | None, workload_id: str, snap_id: str) -> bool:
    try:
        _row, before = db.snapshot_mark_deleting(snap_id, None)
    except (errors.NotFound, errors.Conflict) as exc:  # deleted, being deleted or reset meanwhile
        LOG.info("Retention of workload %s left snapshot %s: %s", workload_id, snap_id, exc)
        return False
    if repo is not None:
        try:
            target_cleanup.delete_snapshot(repo, snap_id)
        except Exception as exc:  # an object lock, or the target failing: the row says why
            LOG.warning("Retention of workload %s kept snapshot %s: %s", workload_id, snap_id, exc)
            db.snapshot_delete_failed(snap_id, before, str(exc))
            return False
    try:
        db.snapshot_delete(snap_id, None)
    except (errors.NotFound, errors.Conflict):
        return False
    return True
