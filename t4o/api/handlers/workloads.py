"""Workloads: the VMs protected together, their schedule, and the snapshots taken of them on demand."""

from __future__ import annotations

from typing import Any

from t4o.api import handlers, pagination, views
from t4o.api.handlers import Body, Query, mounts
from t4o.common.context import RequestContext
from t4o.policies import rpo
from t4o.workloads import paging


def _list_workloads(ctx: RequestContext, query: Query, detail: bool) -> Any:
    page = paging.page(query)
    rows = handlers.API.list_workloads(
        ctx, query.get("all_workloads", False), page=page, last_snapshot=detail
    )
    if detail:  # each workload's RPO state, as GET /workloads/{id} shows it
        rpo_views = rpo.listing_views(rows)
        for row in rows:
            row.update(rpo_views[row["id"]])
    return pagination.listing("workloads", [views.workload_row(r, detail=detail) for r in rows], page)


def list_workloads(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    return _list_workloads(ctx, query, detail=False)


def list_workloads_detail(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    return _list_workloads(ctx, query, detail=True)


def create_workload(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    return {"workload": views.workload(handlers.API.create_workload(ctx, body["workload"]))}


def show_workload(ctx: RequestContext, body: Body, query: Query, project_id: str, workload_id: str) -> Any:
    wl = handlers.API.get_workload(ctx, workload_id)
    usage = handlers.API.storage_usage([wl.id])[wl.id]
    return {"workload": views.workload(wl, usage, rpo.workload_state(wl).view())}


def update_workload(ctx: RequestContext, body: Body, query: Query, project_id: str, workload_id: str) -> Any:
    return {"workload": views.workload(handlers.API.update_workload(ctx, workload_id, body["workload"]))}


def delete_workload(ctx: RequestContext, body: Body, query: Query, project_id: str, workload_id: str) -> Any:
    mounts.MOUNTS.refuse_if_mounted(ctx, workload_id=workload_id)
    handlers.API.delete_workload(ctx, workload_id, query.get("database_only", False))
    return None


def snapshot_workload(
    ctx: RequestContext, body: Body, query: Query, project_id: str, workload_id: str
) -> Any:
    full = str(query.get("full", "0")).lower() in ("1", "true")
    snap = handlers.API.snapshot_workload(ctx, workload_id, (body or {}).get("snapshot") or {}, full)
    return {"snapshot": views.snapshot(snap)}


def pause_workload(ctx: RequestContext, body: Body, query: Query, project_id: str, workload_id: str) -> Any:
    return {"workload": views.workload(handlers.API.set_schedule(ctx, workload_id, False))}


def resume_workload(ctx: RequestContext, body: Body, query: Query, project_id: str, workload_id: str) -> Any:
    return {"workload": views.workload(handlers.API.set_schedule(ctx, workload_id, True))}


def unlock_workload(ctx: RequestContext, body: Body, query: Query, project_id: str, workload_id: str) -> Any:
    return {"workload": views.workload(handlers.API.unlock_workload(ctx, workload_id))}


def reset_workload(ctx: RequestContext, body: Body, query: Query, project_id: str, workload_id: str) -> Any:
    return {"workload": views.workload(handlers.API.reset_workload(ctx, workload_id))}
