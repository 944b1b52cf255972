"""Backup targets (admin): define, list, show, change and delete where snapshots are stored."""

from __future__ import annotations

from typing import Any

from t4o.api.handlers import Body, Query
from t4o.common.context import RequestContext
from t4o.workloads import backup_targets as rules


def list_backup_targets(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    return {"backup_targets": rules.list_targets(ctx)}


def create_backup_target(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    return {"backup_target": rules.create_target(ctx, body["backup_target"])}


def show_backup_target(
    ctx: RequestContext, body: Body, query: Query, project_id: str, backup_target_id: str
) -> Any:
    return {"backup_target": rules.show_target(ctx, backup_target_id)}


def update_backup_target(
    ctx: RequestContext, body: Body, query: Query, project_id: str, backup_target_id: str
) -> Any:
    return {"backup_target": rules.update_target(ctx, backup_target_id, body["backup_target"])}


def delete_backup_target(
    ctx: RequestContext, body: Body, query: Query, project_id: str, backup_target_id: str
) -> Any:
    rules.delete_target(ctx, backup_target_id)
    return None
