"""Snapshots of workloads (taken through t4o.api.handlers.workloads.snapshot_workload)."""

from __future__ import annotations

from typing import Any

from t4o.api import handlers, pagination, views
from t4o.api.handlers import Body, Query, mounts
from t4o.common.context import RequestContext
from t4o.db import mount_api
from t4o.workloads import paging


def _list_snapshots(ctx: RequestContext, query: Query, detail: bool) -> Any:
    page = paging.page(query)
    filters = {k: query.get(k) for k in ("workload_id", "status", "date_from", "date_to")}
    snaps = handlers.API.list_snapshots(ctx, query.get("all", False), page=page, **filters)
    return pagination.listing("snapshots", [views.snapshot(x, detail=detail) for x in snaps], page)


def list_snapshots(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    return _list_snapshots(ctx, query, detail=False)


def list_snapshots_detail(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    return _list_snapshots(ctx, query, detail=True)


def show_snapshot(ctx: RequestContext, body: Body, query: Query, project_id: str, snapshot_id: str) -> Any:
    out = views.snapshot(handlers.API.get_snapshot(ctx, snapshot_id))
    out["mounted"] = bool(mount_api.mounted_snapshot_ids([out["id"]]))
    return {"snapshot": out}


def delete_snapshot(ctx: RequestContext, body: Body, query: Query, project_id: str, snapshot_id: str) -> Any:
    mounts.MOUNTS.refuse_if_mounted(ctx, snapshot_id=snapshot_id)
    handlers.API.delete_snapshot(ctx, snapshot_id)
    return None


def cancel_snapshot(ctx: RequestContext, body: Body, query: Query, project_id: str, snapshot_id: str) -> Any:
    return {"snapshot": views.snapshot(handlers.API.cancel_snapshot(ctx, snapshot_id))}
