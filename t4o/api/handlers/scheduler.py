"""The global job scheduler: whether scheduled snapshots run at all."""

from __future__ import annotations

from typing import Any

from t4o.api import handlers
from t4o.api.handlers import Body, Query
from t4o.common.context import RequestContext


def get_global_job_scheduler(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    return {"global_job_scheduler": handlers.API.global_scheduler(ctx)}


def enable_global_job_scheduler(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    return {"global_job_scheduler": handlers.API.set_global_scheduler(ctx, True)}


def disable_global_job_scheduler(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    return {"global_job_scheduler": handlers.API.set_global_scheduler(ctx, False)}
