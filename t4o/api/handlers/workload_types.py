"""Workload types (read only)."""

from __future__ import annotations

from typing import Any

from t4o.api import handlers, pagination, views
from t4o.api.handlers import Body, Query
from t4o.common.context import RequestContext
from t4o.workloads import paging


def list_workload_types(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    page = paging.page(query, ("name", "asc"))
    types = handlers.API.workload_types(ctx, page=page)
    return pagination.listing("workload_types", [views.workload_type(t) for t in types], page)


def show_workload_type(
    ctx: RequestContext, body: Body, query: Query, project_id: str, workload_type_id: str
) -> Any:
    return {"workload_type": views.workload_type(handlers.API.workload_type(ctx, workload_type_id))}
