"""Workload policies: schedule and retention templates an administrator assigns to projects."""

from __future__ import annotations

from typing import Any

from t4o.api import pagination, views
from t4o.api.handlers import Body, Query
from t4o.common.context import RequestContext
from t4o.policies import api as rules
from t4o.workloads import paging

_OLDEST_FIRST = ("created_at", "asc")


def list_workload_policies(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    page = paging.page(query, _OLDEST_FIRST)
    policies = rules.list_policies(ctx, page)
    return pagination.listing("policy_list", [views.workload_policy(p) for p in policies], page)


def create_workload_policy(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    return {"policy": views.workload_policy(rules.create_policy(ctx, body["workload_policy"]), [])}


def show_workload_policy(
    ctx: RequestContext, body: Body, query: Query, project_id: str, policy_id: str
) -> Any:
    pol, projects = rules.get_policy(ctx, policy_id)
    return {"policy": views.workload_policy(pol, projects)}


def update_workload_policy(
    ctx: RequestContext, body: Body, query: Query, project_id: str, policy_id: str
) -> Any:
    return {"policy": views.workload_policy(rules.update_policy(ctx, policy_id, body["workload_policy"]))}


def delete_workload_policy(
    ctx: RequestContext, body: Body, query: Query, project_id: str, policy_id: str
) -> Any:
    rules.delete_policy(ctx, policy_id)
    return None


def assign_workload_policy(
    ctx: RequestContext, body: Body, query: Query, project_id: str, policy_id: str
) -> Any:
    req = body["policy"]
    pol, projects = rules.assign_policy(
        ctx, policy_id, req.get("add_projects", []), req.get("remove_projects", [])
    )
    return {"policy": views.workload_policy(pol, projects), "failed_ids": []}


def list_assigned_workload_policies(
    ctx: RequestContext, body: Body, query: Query, project_id: str, assigned_project_id: str
) -> Any:
    page = paging.page(query, _OLDEST_FIRST)
    policies = rules.assigned_policies(ctx, assigned_project_id, page)
    return pagination.listing("policies", [views.workload_policy(p) for p in policies], page)
