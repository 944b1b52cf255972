"""Service-wide metrics for administrators."""

from __future__ import annotations

from typing import Any

from t4o.api.handlers import Body, Query
from t4o.common.context import RequestContext
from t4o.workloads import nodes


def get_metrics(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    return {"metrics": nodes.metrics(ctx, int(query.get("limit") or 20))}
