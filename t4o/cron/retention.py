"""Retention of one workload: expired snapshots go from the database, then from the vault, then gc.

The database row goes first: once it is deleted nobody can restore from or mount the snapshot, so
removing its manifests afterwards is safe. (A crash in between leaves manifests of a deleted snapshot in
the vault; ``t4o-vault`` lists them and deletes them by id.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from oslo_config import cfg

from t4o.common import errors
from t4o.common.log import get_logger
from t4o.db import api as db
from t4o.db import policy_api
from t4o.policies import retention
from t4o.policies.jobschedule import JobSchedule
from t4o.vault import Repository, open_configured_target, register_opts

LOG = get_logger(__name__)

VaultOpener = Callable[[], Any]  # returns a t4o.vault.Repository, or None when there is no vault


def default_vault() -> Repository | None:
    """The configured backup target's vault (never created here), or None when none is configured."""
    register_opts(cfg.CONF)
    if not cfg.CONF.backup_target.url:
        return None
    return open_configured_target(cfg.CONF)


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
    gone: list[str] = []
    for snap_id in retention.expired(schedule, snaps, now):
        try:
            db.snapshot_delete(snap_id, None)
        except (errors.NotFound, errors.Conflict) as exc:  # deleted or reset meanwhile: leave it
            LOG.info("Retention of workload %s left snapshot %s: %s", workload_id, snap_id, exc)
            continue
        gone.append(snap_id)
    if not gone:
        return gone
    LOG.info("Retention deleted %d snapshot(s) of workload %s: %s", len(gone), workload_id, ", ".join(gone))
    repo = vault()
    if repo is None:
        return gone
    in_vault = {str(d["snapshot_id"]) for d in repo.list_snapshots(workload_id)}
    for snap_id in gone:
        if snap_id in in_vault:
            repo.delete_snapshot(snap_id)
    if gc:
        LOG.info("Vault gc after retention of workload %s: %s", workload_id, repo.gc())
    return gone
