"""Reconcile of the backup target with the database: what the target holds that the database does not.

Workloads and snapshots found on the target with no live row (a ``database_only`` delete, a lost or
restored-from-backup database, another installation's data) are reported, never deleted: they may be
import candidates. Only the keys of documents and manifests are listed, never chunks, so a run costs in
proportion to the number of snapshots, not to the data.
"""

from __future__ import annotations

from typing import Any

from oslo_config import cfg

from t4o.common.context import RequestContext
from t4o.common.log import get_logger
from t4o.db import api as db
from t4o.policies import notify
from t4o.vault import Repository

LOG = get_logger(__name__)


def unknown(repo: Repository) -> dict[str, list[str]]:
    """The ids on the target without a live database row."""
    on_target_workloads, on_target_snapshots = repo.archive.stored_ids()
    live_workloads, live_snapshots = db.live_ids()
    return {
        "workloads": sorted(on_target_workloads - live_workloads),
        "snapshots": sorted(on_target_snapshots - live_snapshots),
    }


def run(conf: cfg.ConfigOpts, repo: Repository | None) -> dict[str, Any] | None:
    """One reconcile: log and notify what is unknown; None when no target is configured."""
    if repo is None:
        return None
    found = unknown(repo)
    if not found["workloads"] and not found["snapshots"]:
        LOG.info("Reconcile: every workload and snapshot on the backup target is in the database")
        return found
    LOG.warning(
        "Reconcile: on the backup target but not in the database (not deleted; import candidates?): "
        "%d workload(s) %s, %d snapshot(s) %s",
        len(found["workloads"]),
        ", ".join(found["workloads"]),
        len(found["snapshots"]),
        ", ".join(found["snapshots"]),
    )
    notify.emit(conf, RequestContext(is_admin=True, overwrite=False), "reconcile", "report", found)
    return found
