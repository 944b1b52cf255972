"""Project quotas: the kinds of quota, and the values a project is allowed."""

from __future__ import annotations

from typing import Any

from t4o.api import pagination, views
from t4o.api.handlers import Body, Query
from t4o.common.context import RequestContext
from t4o.policies import api as rules
from t4o.workloads import paging


def list_project_quota_types(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    return {
        "quota_types": [
            {
                "id": t["id"],
                "display_name": t["display_name"],
                "display_description": f"{t['display_name']} quota",
            }
            for t in rules.quota_types(ctx)
        ]
    }


def list_project_allowed_quotas(
    ctx: RequestContext, body: Body, query: Query, project_id: str, quota_project_id: str
) -> Any:
    page = paging.page(query, ("created_at", "asc"))
    allowed, usage = rules.allowed_quotas(ctx, quota_project_id, page)
    return pagination.listing("allowed_quotas", [views.quota(q, usage) for q in allowed], page)


def create_project_allowed_quotas(
    ctx: RequestContext, body: Body, query: Query, project_id: str, quota_project_id: str
) -> Any:
    saved = rules.set_allowed_quotas(ctx, quota_project_id, body["allowed_quotas"])
    return {"allowed_quotas": [views.quota(q) for q in saved]}


def update_project_allowed_quota(
    ctx: RequestContext, body: Body, query: Query, project_id: str, quota_id: str
) -> Any:
    return {"allowed_quotas": views.quota(rules.update_allowed_quota(ctx, quota_id, body["allowed_quotas"]))}


def delete_project_allowed_quota(
    ctx: RequestContext, body: Body, query: Query, project_id: str, quota_id: str
) -> Any:
    rules.delete_allowed_quota(ctx, quota_id)
    return None
