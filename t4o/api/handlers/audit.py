"""The audit log: ``GET /workloads/audit/auditlog?time_in_minutes=N``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from t4o.api.handlers import Body, Query
from t4o.api.schemas.audit import MAX_MINUTES
from t4o.common import errors, policy
from t4o.common.context import RequestContext
from t4o.db import audit_api
from t4o.db.models import AuditLog, utcnow

DEFAULT_MINUTES = 24 * 60  # Trilio's default: the last day


def _entry(e: AuditLog) -> dict[str, Any]:
    return {
        "id": e.id,
        "timestamp": e.created_at.isoformat(timespec="microseconds") + "Z",
        "kind": e.kind,
        "action": e.action,
        "method": e.method,
        "path": e.path,
        "object_type": e.object_type,
        "object_id": e.object_id,
        "status_code": e.status_code,
        "result": e.result,
        "message": e.message,
        "user_id": e.user_id,
        "project_id": e.project_id,
        "request_id": e.request_id,
    }


def get_auditlog(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    """The entries of the last ``time_in_minutes``, newest first: every project's for an administrator,
    the caller's project's for others the policy lets in."""
    policy.authorize(ctx, "audit:get")
    minutes = int(query.get("time_in_minutes") or DEFAULT_MINUTES)
    if minutes > MAX_MINUTES:
        raise errors.BadRequest(f"Query parameter time_in_minutes must be at most {MAX_MINUTES}.")
    since = utcnow() - dt.timedelta(minutes=minutes)
    entries = audit_api.entries_since(since, None if ctx.is_admin else ctx.project)
    return {"auditlog": [_entry(e) for e in entries]}
