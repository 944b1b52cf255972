"""Restores from snapshots."""

from __future__ import annotations

from typing import Any

from t4o.api import handlers, pagination, views
from t4o.api.handlers import Body, Query
from t4o.common import errors
from t4o.common.context import RequestContext
from t4o.workloads import paging


def create_restore(ctx: RequestContext, body: Body, query: Query, project_id: str, snapshot_id: str) -> Any:
    return {"restore": views.restore(handlers.API.create_restore(ctx, snapshot_id, body["restore"]))}


def create_workload_restore(
    ctx: RequestContext, body: Body, query: Query, project_id: str, workload_id: str, snapshot_id: str
) -> Any:
    snap = handlers.API.get_snapshot(ctx, snapshot_id)
    if snap.workload_id != workload_id:
        raise errors.NotFound(f"Snapshot {snapshot_id} of workload {workload_id} not found.")
    return {"restore": views.restore(handlers.API.create_restore(ctx, snapshot_id, body["restore"]))}


def list_restores(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    page = paging.page(query)
    restores = handlers.API.list_restores(ctx, query.get("snapshot_id"), page=page)
    return pagination.listing("restores", [views.restore(r) for r in restores], page)


list_restores_detail = list_restores


def show_restore(ctx: RequestContext, body: Body, query: Query, project_id: str, restore_id: str) -> Any:
    return {"restore": views.restore(handlers.API.get_restore(ctx, restore_id))}


def delete_restore(ctx: RequestContext, body: Body, query: Query, project_id: str, restore_id: str) -> Any:
    handlers.API.delete_restore(ctx, restore_id)
    return None


def cancel_restore(ctx: RequestContext, body: Body, query: Query, project_id: str, restore_id: str) -> Any:
    return {"restore": views.restore(handlers.API.cancel_restore(ctx, restore_id))}
