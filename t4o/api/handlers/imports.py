"""Disaster recovery: workloads on the backup target, their import, orphans and reassigning them."""

from __future__ import annotations

from typing import Any

from oslo_utils import strutils

from t4o.api.handlers import Body, Query
from t4o.common.context import RequestContext
from t4o.workloads.importer import ImportAPI

# The rules of import, orphans and reassign (administrators only, by policy).
IMPORTS = ImportAPI()


def list_importable(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    return {"workloads": IMPORTS.importable(ctx, query.get("backup_target_id"))}


def import_workloads(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    body = body or {}
    report = IMPORTS.import_workloads(
        ctx, list(body.get("workload_ids") or []) or None, body.get("backup_target_id")
    )
    return {"workloads": {f"{key}_workloads": entries for key, entries in report.items()}}


def list_orphans(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    migrate = strutils.bool_from_string(query.get("migrate_cloud", False), strict=False)
    return {"workloads": IMPORTS.orphans(ctx, migrate_cloud=migrate)}


def reassign_workloads(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    """Trilio's body: ``workload_ids`` (or ``reassign_workload_ids``), ``old_tenant_ids`` (every workload
    of these projects), ``new_tenant_id``, ``user_id``, ``migrate_cloud``; or a ``project_map``."""
    body = body or {}
    ids = list(body.get("workload_ids") or body.get("reassign_workload_ids") or [])
    new_project = body.get("new_tenant_id")
    project_map = dict(body.get("project_map") or {})
    for old in body.get("old_tenant_ids") or []:
        if new_project:
            project_map.setdefault(old, new_project)
    moved = IMPORTS.reassign(
        ctx,
        ids,
        new_project if ids or not project_map else None,
        body.get("user_id"),
        migrate_cloud=bool(body.get("migrate_cloud")),
        project_map=project_map or None,
    )
    return {"workloads": {"reassigned_workloads": moved}}
