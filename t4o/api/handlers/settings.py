"""A project's settings (name/value pairs)."""

from __future__ import annotations

from typing import Any

from t4o.api import handlers, pagination, views
from t4o.api.handlers import Body, Query
from t4o.common.context import RequestContext
from t4o.workloads import paging


def list_settings(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    page = paging.page(query, ("name", "asc"))
    items = [views.setting(x) for x in handlers.API.list_settings(ctx, page=page)]
    return pagination.listing("settings", items, page, marker_key="name")


def create_settings(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    saved = handlers.API.set_settings(ctx, body["settings"], create_only=True)
    return {"settings": [views.setting(x) for x in saved]}


def update_settings(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    saved = handlers.API.set_settings(ctx, body["settings"], create_only=False)
    return {"settings": [views.setting(x) for x in saved]}


def show_setting(ctx: RequestContext, body: Body, query: Query, project_id: str, name: str) -> Any:
    return {"setting": views.setting(handlers.API.get_setting(ctx, name))}


def delete_setting(ctx: RequestContext, body: Body, query: Query, project_id: str, name: str) -> Any:
    handlers.API.delete_setting(ctx, name)
    return None
