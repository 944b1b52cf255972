"""Trilio's admin paths under /workloads: the metrics by part, enabling or disabling a node, and a test
email. The metrics are those of ``/t4o_metrics``; the node update is ``PUT /t4o_nodes/{host}``."""

from __future__ import annotations

import smtplib
from typing import Any

from t4o.api.handlers import Body, Query
from t4o.common import errors, policy
from t4o.common.context import RequestContext
from t4o.db import api as db
from t4o.policies import notify
from t4o.workloads import nodes

_RECENT_DEFAULT = 20


def metrics_nodes(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    return {"nodes": nodes.metrics(ctx, 1, targets=False)["nodes"]}


def metrics_storage_usage(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    """Storage per project, and the backup target's capacity beside it."""
    found = nodes.metrics(ctx, 1)
    return {"storage_usage": found["storage_usage"], "backup_targets": found["backup_targets"]}


def metrics_tenants_usage(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    rows = nodes.metrics(ctx, 1, targets=False)["storage_usage"]
    total = {
        "projects": len(rows),
        "snapshots": sum(r["snapshots"] for r in rows),
        "bytes": sum(r["bytes"] for r in rows),
        "stored_bytes": sum(r["stored_bytes"] for r in rows),
    }
    per_project = {r["project_id"]: {k: v for k, v in r.items() if k != "project_id"} for r in rows}
    return {"global_usage": total, "tenants_usage": per_project}


def metrics_vms_protected(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    found = nodes.metrics(ctx, 1, targets=False)
    return {"protected_vms": found["protected_vms"], "protected_volumes": found["protected_volumes"]}


def metrics_recent_activities(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    limit = int(query.get("limit") or _RECENT_DEFAULT)
    if limit > 500:
        raise errors.BadRequest("Query parameter limit must be at most 500.")
    return {"recentactivities": nodes.metrics(ctx, limit, targets=False)["recent_activity"]}


def service_update(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    svc = body["service"]
    return {"service": nodes.set_disabled(ctx, svc["host"], svc["status"] == "disable")}


def test_email(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    """Send a test mail with the project's SMTP settings (also while email notifications are off)."""
    policy.authorize(ctx, "email:test")
    settings = notify.smtp_settings(db.setting_list(ctx.project))
    server = f"{settings.get('smtp_server_name', '')}:{settings.get('smtp_port') or 25}"
    subject = "T4O test email"
    text = f"This is a test email of T4O for project {ctx.project}, sent by user {ctx.user_id}."
    try:
        recipients = notify.deliver(settings, subject, text)
    except ValueError as exc:
        raise errors.BadRequest(f"The project's SMTP settings cannot send email: {exc}.") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise errors.Conflict(f"Could not send the test email through {server}: {exc}") from None
    return {"email": {"sent": True, "recipients": recipients, "server": server}}
