"""Deleting snapshots and workloads from the backup target: their manifests and documents, never chunks.

The one place that decides how a snapshot leaves the target: the REST deletes run it on a workloads worker
(where the snapshot workflow opens the target too; the API process may not have it mounted) and retention
runs it in cron. Chunks stay: the vault's gc frees the ones no manifest references any more.

A snapshot whose objects an S3 object lock still protects is refused whole, with the date it can go,
before anything is deleted (a workload delete checks every snapshot first).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from oslo_config import cfg

from t4o.common import errors
from t4o.common.log import get_logger
from t4o.vault import Repository, TargetHoldsNoVault, open_configured_target, register_opts
from t4o.workloads import targets

LOG = get_logger(__name__)

# Opens the configured backup target, or returns None when none is configured.
TargetOpener = Callable[[], Repository | None]


def configured_target() -> Repository | None:
    """The configured backup target's vault (never created here), or None when none is configured or
    it holds no vault."""
    register_opts(cfg.CONF)
    if not cfg.CONF.backup_target.url:
        return None
    try:
        return open_configured_target(cfg.CONF)
    except TargetHoldsNoVault as exc:
        # Nothing was ever backed up there: nothing to delete. (Were it an unmounted share, its data is
        # not lost: the reconcile reports it once the share is back.)
        LOG.warning("Nothing to delete from the backup target: %s", exc)
        return None


def workload_target(workload_id: str) -> Repository | None:
    """The vault of the workload's own backup target (never created here), or None when it holds none."""
    target = targets.for_workload(workload_id)
    if target.id == targets.CONFIG_TARGET_ID:
        return configured_target()
    try:
        return targets.open_target(target)
    except TargetHoldsNoVault as exc:
        LOG.warning("Nothing to delete from the backup target: %s", exc)
        return None


class SnapshotProtected(errors.Conflict):
    """An object lock keeps the snapshot on the target until a date."""

    def __init__(self, snapshot_id: str, until: dt.datetime) -> None:
        self.snapshot_id = snapshot_id
        self.until = until
        super().__init__(
            f"Snapshot {snapshot_id} is protected by an object lock on the backup target until "
            f"{until.isoformat()}; it can be deleted after that date."
        )


def check_deletable(repo: Repository, snapshot_ids: Iterable[str]) -> None:
    """Raise SnapshotProtected for the first snapshot still under object lock."""
    for snapshot_id in snapshot_ids:
        until = repo.archive.snapshot_locked_until(snapshot_id)
        if until is not None:
            raise SnapshotProtected(snapshot_id, until)


def delete_snapshot(repo: Repository, snapshot_id: str) -> bool:
    """Remove the snapshot's manifests and document; False when the target holds no disk of it."""
    check_deletable(repo, [snapshot_id])
    return _remove_snapshot(repo, snapshot_id)


def _remove_snapshot(repo: Repository, snapshot_id: str) -> bool:
    """``delete_snapshot`` once the caller has checked the object locks (of a whole set, first)."""
    if not repo.list_disks(snapshot_id):
        return False
    repo.delete_snapshot(snapshot_id)
    return True


def delete_workload(repo: Repository, workload_id: str, snapshot_ids: Iterable[str]) -> list[str]:
    """Every snapshot of the workload (those named and any other the target attributes to it), then its
    document; refused before any delete when one snapshot is locked. Returns the snapshots removed."""
    ids = sorted(set(snapshot_ids) | {str(d["snapshot_id"]) for d in repo.list_snapshots(workload_id)})
    check_deletable(repo, ids)
    gone = [sid for sid in ids if _remove_snapshot(repo, sid)]
    repo.archive.delete_workload(workload_id)
    LOG.info("Workload %s removed from the backup target with %d snapshot(s)", workload_id, len(gone))
    return gone


def run_delete(
    open_repo: TargetOpener, workload_id: str, snapshot_ids: list[str], whole_workload: bool
) -> dict[str, Any]:
    """What a worker answers the API: ``deleted`` (ids), or ``refused`` (object lock) or ``error`` (any
    other failure) with the message to show on the row. Never raises: the answer crosses RPC."""
    try:
        repo = open_repo()
        if repo is None:
            LOG.info("No backup target is configured: nothing to delete for workload %s", workload_id)
            return {"deleted": []}
        try:
            if whole_workload:
                return {"deleted": delete_workload(repo, workload_id, snapshot_ids)}
            check_deletable(repo, snapshot_ids)
            return {"deleted": [sid for sid in snapshot_ids if _remove_snapshot(repo, sid)]}
        finally:
            repo.backend.close()
    except SnapshotProtected as exc:
        LOG.info("%s", exc)
        return {"refused": str(exc)}
    except Exception as exc:  # any failure (target unreachable, backend refusal) ends up on the row
        LOG.exception("Deleting from the backup target failed (workload %s)", workload_id)
        return {"error": f"Deleting from the backup target failed: {exc}"}
