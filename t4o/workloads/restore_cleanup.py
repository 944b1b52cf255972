"""Removing what a restore created when its worker died before it could (kill -9, a crash, a lost host).

A restore's ledger is recorded in the database as it grows (``Ledger.restore_id``). Its worker removes
everything on a failure and forgets the rows; a worker that dies leaves them, and its restore is failed
by the scheduler (no heartbeat for ``service_down_time``) or by the worker itself when it starts again
under the same host name. Every worker then looks, every ``report_interval``, for restores that ended
with rows left (``undo_orphaned``): it takes a lease on one, removes its resources newest first, and adds
to the restore's error message what it removed or could not.

The worker acts as the restore's user, through that user's Keystone trust to the T4O service user (the
trust scheduled jobs use, ``[trustee]``): the caller's token went with the dead worker and may have
expired by then, and a trust lets T4O do no more than the user could. ``Ledger.recorded`` makes sure the
user has one when a restore starts, while their token is at hand. Without ``[trustee]`` (or when the
trust cannot be made) the resources are not removed and the restore's error message lists them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from t4o.common.config import CONF
from t4o.common.context import RequestContext
from t4o.common.log import get_logger
from t4o.db import restore_resources_api, states
from t4o.openstack import keystone_trusts
from t4o.openstack.connection import UserCloud, user_cloud
from t4o.policies import trusts
from t4o.workloads.flows import config
from t4o.workloads.flows.ledger import Ledger

LOG = get_logger(__name__)

# How long one cleaner holds a restore's resources before another may take them (it died meanwhile):
# above the time removing a restore's servers and volumes can take (each waits up to volume_timeout).
LEASE = dt.timedelta(minutes=30)


def _owner_cloud(project_id: str, user_id: str) -> UserCloud | None:
    """The cloud as the restore's user, through their trust; None when they have none."""
    trust_id = trusts.owner_trust_id(project_id, user_id)
    if trust_id is None:
        return None
    keystone_trusts.ensure_registered(CONF)
    return user_cloud(RequestContext(user_id=user_id or None, project_id=project_id, trust_id=trust_id))


def undo_orphaned(host: str, cloud_for: Callable[[str, str], UserCloud | None] = _owner_cloud) -> int:
    """Remove the resources of every restore that ended with some recorded; how many restores were done.

    ``cloud_for(project_id, user_id)`` is the cloud to remove them with (None: no credentials)."""
    config.ensure_registered()
    done = 0
    for orphan in restore_resources_api.orphaned():
        items = restore_resources_api.claim(orphan.restore_id, host, LEASE)
        if not items:
            continue  # another worker took it
        done += 1
        if orphan.status == states.AVAILABLE:
            # its worker died after the restore completed, before it forgot them: they are the user's
            restore_resources_api.forget(orphan.restore_id)
            continue
        listed = ", ".join(f"{kind} {rid}" for kind, rid in items)
        try:
            cloud = cloud_for(orphan.project_id, orphan.user_id)
        except Exception as exc:  # a revoked trust, Keystone down: said in the restore, not retried
            LOG.warning("Cannot act as the user of restore %s: %s", orphan.restore_id, exc)
            cloud, why = None, str(exc)
        else:
            why = "the user has no trust for T4O"
        if cloud is None:
            restore_resources_api.note(orphan.restore_id, f"Left in the cloud ({why}): {listed}.")
            restore_resources_api.forget(orphan.restore_id)
            LOG.error("Restore %s left %s: %s", orphan.restore_id, listed, why)
            continue
        ledger = Ledger(cloud, float(CONF.workflows.volume_timeout), items=list(items))
        problems = ledger.undo()
        restore_resources_api.forget(orphan.restore_id)
        if problems:
            message = f"Removed what it had created, but not: {'; '.join(problems)}."
        else:
            message = f"Removed what it had created: {listed}."
        restore_resources_api.note(orphan.restore_id, message)
        LOG.warning("Restore %s ended without its worker. %s", orphan.restore_id, message)
    return done
