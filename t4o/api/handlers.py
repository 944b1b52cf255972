"""One function per API operation (named in t4o.api.spec): unwrap the request, call the rules, render.

Signature: ``handler(ctx, body, query, **path_params) -> JSON-able payload or None``.
"""

from __future__ import annotations

from typing import Any

from t4o.api import pagination, views
from t4o.api.handlers_policies import *  # noqa: F403 (operations of t4o.api.spec_policies)
from t4o.common import errors
from t4o.common.context import RequestContext
from t4o.workloads.api import WorkloadAPI

API = WorkloadAPI()

Body = dict[str, Any]
Query = dict[str, Any]


# ---------------------------------------------------------------- workload types
_BY_NAME = ("name", "asc")


def list_workload_types(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    page = pagination.page_from_query(query, _BY_NAME)
    items = [views.workload_type(t) for t in API.workload_types(ctx, page=page)]
    return {"workload_types": items, **pagination.links("workload_types", items, page)}


def show_workload_type(
    ctx: RequestContext, body: Body, query: Query, project_id: str, workload_type_id: str
) -> Any:
    return {"workload_type": views.workload_type(API.workload_type(ctx, workload_type_id))}


# ---------------------------------------------------------------- workloads
def _list_workloads(ctx: RequestContext, query: Query, detail: bool) -> Any:
    page = pagination.page_from_query(query)
    rows = API.list_workloads(ctx, query.get("all_workloads", False), page=page)
    items = [views.workload_row(r, detail=detail) for r in rows]
    return {"workloads": items, **pagination.links("workloads", items, page)}


def list_workloads(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    return _list_workloads(ctx, query, detail=False)


def list_workloads_detail(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    return _list_workloads(ctx, query, detail=True)


def create_workload(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    return {"workload": views.workload(API.create_workload(ctx, body["workload"]))}


def show_workload(ctx: RequestContext, body: Body, query: Query, project_id: str, workload_id: str) -> Any:
    wl = API.get_workload(ctx, workload_id)
    return {"workload": views.workload(wl, API.storage_usage([wl.id])[wl.id])}


def update_workload(ctx: RequestContext, body: Body, query: Query, project_id: str, workload_id: str) -> Any:
    return {"workload": views.workload(API.update_workload(ctx, workload_id, body["workload"]))}


def delete_workload(ctx: RequestContext, body: Body, query: Query, project_id: str, workload_id: str) -> Any:
    API.delete_workload(ctx, workload_id, query.get("database_only", False))
    return None


def snapshot_workload(
    ctx: RequestContext, body: Body, query: Query, project_id: str, workload_id: str
) -> Any:
    full = str(query.get("full", "0")).lower() in ("1", "true")
    snap = API.snapshot_workload(ctx, workload_id, (body or {}).get("snapshot") or {}, full)
    return {"snapshot": views.snapshot(snap)}


def pause_workload(ctx: RequestContext, body: Body, query: Query, project_id: str, workload_id: str) -> Any:
    return {"workload": views.workload(API.set_schedule(ctx, workload_id, False))}


def resume_workload(ctx: RequestContext, body: Body, query: Query, project_id: str, workload_id: str) -> Any:
    return {"workload": views.workload(API.set_schedule(ctx, workload_id, True))}


def unlock_workload(ctx: RequestContext, body: Body, query: Query, project_id: str, workload_id: str) -> Any:
    return {"workload": views.workload(API.unlock_workload(ctx, workload_id))}


def reset_workload(ctx: RequestContext, body: Body, query: Query, project_id: str, workload_id: str) -> Any:
    return {"workload": views.workload(API.reset_workload(ctx, workload_id))}


# ---------------------------------------------------------------- snapshots
def _snapshot_filters(query: Query) -> dict[str, Any]:
    return {k: query.get(k) for k in ("workload_id", "status", "date_from", "date_to")}


def _list_snapshots(ctx: RequestContext, query: Query, detail: bool) -> Any:
    page = pagination.page_from_query(query)
    snaps = API.list_snapshots(ctx, query.get("all", False), page=page, **_snapshot_filters(query))
    items = [views.snapshot(x, detail=detail) for x in snaps]
    return {"snapshots": items, **pagination.links("snapshots", items, page)}


def list_snapshots(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    return _list_snapshots(ctx, query, detail=False)


def list_snapshots_detail(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    return _list_snapshots(ctx, query, detail=True)


def show_snapshot(ctx: RequestContext, body: Body, query: Query, project_id: str, snapshot_id: str) -> Any:
    return {"snapshot": views.snapshot(API.get_snapshot(ctx, snapshot_id))}


def delete_snapshot(ctx: RequestContext, body: Body, query: Query, project_id: str, snapshot_id: str) -> Any:
    API.delete_snapshot(ctx, snapshot_id)
    return None


def cancel_snapshot(ctx: RequestContext, body: Body, query: Query, project_id: str, snapshot_id: str) -> Any:
    return {"snapshot": views.snapshot(API.cancel_snapshot(ctx, snapshot_id))}


# ---------------------------------------------------------------- restores
def create_restore(ctx: RequestContext, body: Body, query: Query, project_id: str, snapshot_id: str) -> Any:
    return {"restore": views.restore(API.create_restore(ctx, snapshot_id, body["restore"]))}


def create_workload_restore(
    ctx: RequestContext, body: Body, query: Query, project_id: str, workload_id: str, snapshot_id: str
) -> Any:
    snap = API.get_snapshot(ctx, snapshot_id)
    if snap.workload_id != workload_id:
        raise errors.NotFound(f"Snapshot {snapshot_id} of workload {workload_id} not found.")
    return {"restore": views.restore(API.create_restore(ctx, snapshot_id, body["restore"]))}


def list_restores(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    page = pagination.page_from_query(query)
    items = [views.restore(r) for r in API.list_restores(ctx, query.get("snapshot_id"), page=page)]
    return {"restores": items, **pagination.links("restores", items, page)}


list_restores_detail = list_restores


def show_restore(ctx: RequestContext, body: Body, query: Query, project_id: str, restore_id: str) -> Any:
    return {"restore": views.restore(API.get_restore(ctx, restore_id))}


def delete_restore(ctx: RequestContext, body: Body, query: Query, project_id: str, restore_id: str) -> Any:
    API.delete_restore(ctx, restore_id)
    return None


def cancel_restore(ctx: RequestContext, body: Body, query: Query, project_id: str, restore_id: str) -> Any:
    return {"restore": views.restore(API.cancel_restore(ctx, restore_id))}


# ---------------------------------------------------------------- settings
def list_settings(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    page = pagination.page_from_query(query, _BY_NAME)
    items = [views.setting(x) for x in API.list_settings(ctx, page=page)]
    return {"settings": items, **pagination.links("settings", items, page, marker_key="name")}


def create_settings(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    return {"settings": [views.setting(x) for x in API.set_settings(ctx, body["settings"], create_only=True)]}


def update_settings(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    return {
        "settings": [views.setting(x) for x in API.set_settings(ctx, body["settings"], create_only=False)]
    }


def show_setting(ctx: RequestContext, body: Body, query: Query, project_id: str, name: str) -> Any:
    return {"setting": views.setting(API.get_setting(ctx, name))}


def delete_setting(ctx: RequestContext, body: Body, query: Query, project_id: str, name: str) -> Any:
    API.delete_setting(ctx, name)
    return None


# ---------------------------------------------------------------- global job scheduler
def get_global_job_scheduler(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    return {"global_job_scheduler": API.global_scheduler(ctx)}


def enable_global_job_scheduler(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    return {"global_job_scheduler": API.set_global_scheduler(ctx, True)}


def disable_global_job_scheduler(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    return {"global_job_scheduler": API.set_global_scheduler(ctx, False)}
