"""Service nodes (one per host and binary) for administrators, and disabling a workloads node."""

from __future__ import annotations

from typing import Any

from t4o.api import pagination
from t4o.api.handlers import Body, Query
from t4o.common.context import RequestContext
from t4o.workloads import nodes, paging


def list_nodes(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    page = paging.page(query, ("created_at", "asc"))
    return pagination.listing("nodes", nodes.list_nodes(ctx, page), page)


def update_node(ctx: RequestContext, body: Body, query: Query, project_id: str, node_host: str) -> Any:
    return {"node": nodes.set_disabled(ctx, node_host, bool(body["node"]["disabled"]))}
