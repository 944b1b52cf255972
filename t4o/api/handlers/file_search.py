"""File search over a VM's snapshots (t4o.workloads.file_search): 202 and a search to poll until its
status is completed or error; its ``json_resp`` holds the matches per snapshot."""

from __future__ import annotations

import datetime as dt
from typing import Any

from t4o.api.handlers import Body, Query
from t4o.common.context import RequestContext
from t4o.workloads import file_search


def _ts(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="microseconds") + "Z" if value is not None else None


def view(row: Any, results: bool = True) -> dict[str, Any]:
    criteria = row.criteria or {}
    out = {
        "id": row.id,
        "project_id": row.project_id,
        "user_id": row.user_id,
        "vm_id": row.vm_id,
        "filepath": row.filepath,
        "snapshot_ids": criteria.get("snapshot_ids"),
        "start": criteria.get("start") or 0,
        "end": criteria.get("end") or 0,
        "date_from": criteria.get("date_from"),
        "date_to": criteria.get("date_to"),
        "status": row.status,
        "error_msg": row.error_msg,
        "progress_percent": row.progress_percent,
        "created_at": _ts(row.created_at),
        "finished_at": _ts(row.finished_at),
    }
    if results:
        out["json_resp"] = row.json_resp or []
    return out


def create_search(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    row = file_search.create(ctx, file_search.criteria_of(body["file_search"]))
    return {"file_search": view(row)}


def show_search(ctx: RequestContext, body: Body, query: Query, project_id: str, search_id: str) -> Any:
    return {"file_search": view(file_search.get(ctx, search_id))}


def list_searches(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    return {
        "file_searches": [
            view(row, results=False) for row in file_search.list_searches(ctx, query.get("limit"))
        ]
    }
