"""Handlers of the operations in t4o.api.spec_policies (same signature as t4o.api.handlers).

Each operation is authorized by its own oslo.policy rule (t4o.common.policy), so a policy.yaml can
grant or restrict any of them.
"""

from __future__ import annotations

from typing import Any

from t4o.api import pagination
from t4o.common import errors, policy
from t4o.common.config import CONF
from t4o.common.context import RequestContext
from t4o.common.log import get_logger
from t4o.db import api as db
from t4o.db import policy_api
from t4o.db.models import utcnow
from t4o.policies import quotas
from t4o.policies import workload_policies as wp

__all__ = [
    "assign_workload_policy",
    "create_project_allowed_quotas",
    "create_workload_policy",
    "delete_project_allowed_quota",
    "delete_workload_policy",
    "get_metrics",
    "list_assigned_workload_policies",
    "list_nodes",
    "list_project_allowed_quotas",
    "list_project_quota_types",
    "list_scheduled_runs",
    "list_workload_policies",
    "show_workload_policy",
    "update_node",
    "update_project_allowed_quota",
    "update_workload_policy",
]

LOG = get_logger(__name__)

Body = dict[str, Any]
Query = dict[str, Any]


def _page(query: Query, sort_key: str, sort_dir: str = "asc") -> db.Page:
    """The page asked for; these lists default to oldest first (``sort_key`` ascending)."""
    given = {k: v for k, v in query.items() if v not in (None, "")}
    return pagination.page_from_query({"sort_key": sort_key, "sort_dir": sort_dir, **given})


def _listing(key: str, items: list[dict[str, Any]], page: db.Page) -> dict[str, Any]:
    return {key: items, **pagination.links(key, items, page)}


# ---------------------------------------------------------------- workload policies
def list_workload_policies(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    page = _page(query, "created_at")
    return _listing("policy_list", [wp.view(p) for p in wp.visible(ctx, page)], page)


def create_workload_policy(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    return {"policy": wp.view(wp.create(ctx, body["workload_policy"]), [])}


def show_workload_policy(
    ctx: RequestContext, body: Body, query: Query, project_id: str, policy_id: str
) -> Any:
    pol, projects = wp.get(ctx, policy_id)
    return {"policy": wp.view(pol, projects)}


def update_workload_policy(
    ctx: RequestContext, body: Body, query: Query, project_id: str, policy_id: str
) -> Any:
    return {"policy": wp.view(wp.update(ctx, policy_id, body["workload_policy"]))}


def delete_workload_policy(
    ctx: RequestContext, body: Body, query: Query, project_id: str, policy_id: str
) -> Any:
    policy.authorize(ctx, "workload_policy:delete")
    policy_api.policy_delete(policy_id)


def assign_workload_policy(
    ctx: RequestContext, body: Body, query: Query, project_id: str, policy_id: str
) -> Any:
    policy.authorize(ctx, "workload_policy:assign")
    req = body["policy"]
    projects = policy_api.policy_assign(
        policy_id, req.get("add_projects", []), req.get("remove_projects", [])
    )
    return {"policy": wp.view(policy_api.policy_get(policy_id), projects), "failed_ids": []}


def list_assigned_workload_policies(
    ctx: RequestContext, body: Body, query: Query, project_id: str, assigned_project_id: str
) -> Any:
    policy.authorize(ctx, "workload_policy:get_assigned", assigned_project_id)
    page = _page(query, "created_at")
    return _listing("policies", [wp.view(p) for p in policy_api.policy_list(assigned_project_id, page)], page)


# ---------------------------------------------------------------- quotas
def list_project_quota_types(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    policy.authorize(ctx, "project_quota_type:get")
    return {
        "quota_types": [
            {
                "id": t["id"],
                "display_name": t["display_name"],
                "display_description": f"{t['display_name']} quota",
            }
            for t in quotas.QUOTA_TYPES
        ]
    }


def list_project_allowed_quotas(
    ctx: RequestContext, body: Body, query: Query, project_id: str, quota_project_id: str
) -> Any:
    policy.authorize(ctx, "project_quota:get", quota_project_id)
    page = _page(query, "created_at")
    usage = policy_api.project_usage(quota_project_id)
    items = [quotas.view(q, usage) for q in policy_api.quota_list(quota_project_id, page)]
    return _listing("allowed_quotas", items, page)


def create_project_allowed_quotas(
    ctx: RequestContext, body: Body, query: Query, project_id: str, quota_project_id: str
) -> Any:
    policy.authorize(ctx, "project_quota:create", quota_project_id)
    items = [quotas.parse_item(i) for i in body["allowed_quotas"]]
    saved = [policy_api.quota_upsert(quota_project_id, t, a, h) for t, a, h in items]
    return {"allowed_quotas": [quotas.view(q) for q in saved]}


def update_project_allowed_quota(
    ctx: RequestContext, body: Body, query: Query, project_id: str, quota_id: str
) -> Any:
    policy.authorize(ctx, "project_quota:update")
    current = policy_api.quota_get(quota_id)
    item = {"quota_type_id": current.quota_type_id, **body["allowed_quotas"]}
    type_id, allowed, high = quotas.parse_item(item)
    if type_id != current.quota_type_id:
        raise errors.BadRequest("The quota_type_id of an allowed quota cannot change; delete it instead.")
    return {"allowed_quotas": quotas.view(policy_api.quota_update(quota_id, allowed, high))}


def delete_project_allowed_quota(
    ctx: RequestContext, body: Body, query: Query, project_id: str, quota_id: str
) -> Any:
    policy.authorize(ctx, "project_quota:delete")
    policy_api.quota_delete(quota_id)


# ---------------------------------------------------------------- scheduled runs
def list_scheduled_runs(
    ctx: RequestContext, body: Body, query: Query, project_id: str, workload_id: str
) -> Any:
    policy.authorize(ctx, "workload:get_scheduled_runs")
    db.workload_get(workload_id, None if ctx.is_admin else ctx.project_id)  # 404 for other projects
    page = _page(query, "scheduled_time")
    items = [
        {
            "id": r.id,
            "scheduled_time": r.scheduled_time.isoformat(),
            "status": r.status,
            "snapshot_id": r.snapshot_id,
            "snapshot_type": r.snapshot_type,
            "host": r.host,
            "message": r.message,
        }
        for r in policy_api.run_list(workload_id, page)
    ]
    return _listing("scheduled_runs", items, page)


# ---------------------------------------------------------------- admin metrics and nodes
def get_metrics(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    policy.authorize(ctx, "metrics:get")
    down_after = float(CONF.service_down_time)
    now = utcnow()
    nodes = [_node(svc, now, down_after) for svc in db.service_list()]
    return {
        "metrics": {
            "storage_usage": policy_api.storage_per_project(),
            "protected_vms": policy_api.protected_vms(),
            "protected_volumes": policy_api.protected_volumes(),
            "recent_activity": policy_api.recent_jobs(int(query.get("limit") or 20)),
            "nodes": nodes,
        }
    }


def _node(svc: Any, now: Any, down_after: float) -> dict[str, Any]:
    return {
        "id": str(svc.id),
        "host": svc.host,
        "binary": svc.binary,
        "state": "up" if (now - svc.updated_at).total_seconds() <= down_after else "down",
        "disabled": svc.disabled,
        "last_heartbeat": svc.updated_at.isoformat(),
    }


def list_nodes(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    """Every service that reported (one per host and binary), with its state."""
    policy.authorize(ctx, "node:get_all")
    page = _page(query, "created_at")
    now, down_after = utcnow(), float(CONF.service_down_time)
    return _listing("nodes", [_node(svc, now, down_after) for svc in policy_api.node_list(page)], page)


def update_node(ctx: RequestContext, body: Body, query: Query, project_id: str, node_host: str) -> Any:
    """Disable a workloads node (the scheduler places no new job there) or enable it again."""
    policy.authorize(ctx, "node:update")
    disabled = bool(body["node"]["disabled"])
    svc = policy_api.service_set_disabled(node_host, CONF.workloads_topic, disabled)
    LOG.info("Workloads node %s %s by user %s", node_host, "disabled" if disabled else "enabled", ctx.user_id)
    return {"node": _node(svc, utcnow(), float(CONF.service_down_time))}
