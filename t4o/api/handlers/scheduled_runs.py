"""The scheduled runs of a workload: what the cron service did at each slot of its schedule."""

from __future__ import annotations

from typing import Any

from t4o.api import pagination, views
from t4o.api.handlers import Body, Query
from t4o.common.context import RequestContext
from t4o.policies import api as rules
from t4o.workloads import paging


def list_scheduled_runs(
    ctx: RequestContext, body: Body, query: Query, project_id: str, workload_id: str
) -> Any:
    page = paging.page(query, ("scheduled_time", "asc"))
    runs = rules.scheduled_runs(ctx, workload_id, page)
    return pagination.listing("scheduled_runs", [views.scheduled_run(r) for r in runs], page)


def show_scheduled_run(
    ctx: RequestContext, body: Body, query: Query, project_id: str, workload_id: str, run_id: str
) -> Any:
    return {"scheduled_run": views.scheduled_run(rules.scheduled_run(ctx, workload_id, run_id))}
