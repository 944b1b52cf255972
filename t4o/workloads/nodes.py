"""The service's own state for administrators: its nodes (every service that reported, one per host and
binary; up or down by its heartbeat), disabling a workloads node, and the service-wide metrics (with each
backup target's capacity)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from t4o.common import policy
from t4o.common.config import CONF
from t4o.common.context import RequestContext
from t4o.common.log import get_logger
from t4o.db import api as db
from t4o.db import policy_api
from t4o.db.api import Page
from t4o.db.models import Service, utcnow
from t4o.workloads import target_capacity

LOG = get_logger(__name__)


def _node(svc: Service, now: dt.datetime) -> dict[str, Any]:
    up = (now - svc.updated_at).total_seconds() <= float(CONF.service_down_time)
    return {
        "id": str(svc.id),
        "host": svc.host,
        "binary": svc.binary,
        "state": "up" if up else "down",
        "disabled": svc.disabled,
        "last_heartbeat": svc.updated_at.isoformat(),
    }


def list_nodes(ctx: RequestContext, page: Page) -> list[dict[str, Any]]:
    policy.authorize(ctx, "node:get_all")
    now = utcnow()
    return [_node(svc, now) for svc in policy_api.node_list(page)]


def set_disabled(ctx: RequestContext, host: str, disabled: bool) -> dict[str, Any]:
    """Disable a workloads node (the scheduler places no new job there; it finishes those it runs) or
    enable it again."""
    policy.authorize(ctx, "node:update")
    svc = policy_api.service_set_disabled(host, CONF.workloads_topic, disabled)
    LOG.info("Workloads node %s %s by user %s", host, "disabled" if disabled else "enabled", ctx.user_id)
    return _node(svc, utcnow())


def metrics(ctx: RequestContext, recent: int, targets: bool = True) -> dict[str, Any]:
    """Storage per project, protected VMs and volumes, the ``recent`` newest jobs and every node; with
    ``targets``, the backup targets' capacity too (``backup_targets``: it reads their filesystems)."""
    policy.authorize(ctx, "metrics:get")
    now = utcnow()
    usage = policy_api.storage_per_project()
    found: dict[str, Any] = {}
    if targets:
        found["backup_targets"] = target_capacity.every_target()
    return {
        **found,
        "storage_usage": usage,
        "protected_vms": policy_api.protected_vms(),
        "protected_volumes": policy_api.protected_volumes(),
        "recent_activity": policy_api.recent_jobs(recent),
        "nodes": [_node(svc, now) for svc in db.service_list()],
    }
