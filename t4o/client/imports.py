"""Disaster recovery for admins: workloads on the backup target, import, orphans, reassign."""

from __future__ import annotations

from typing import Any

from t4o.client.base import Resource
from t4o.client.http import HTTPClient


class ImportManager:
    def __init__(self, http: HTTPClient) -> None:
        self.http = http

    def list_importable(self, backup_target_id: str | None = None) -> list[Resource]:
        """Every workload on the backup targets (or that one), with ``in_database`` and
        ``backup_target_id``."""
        params = {"backup_target_id": backup_target_id} if backup_target_id else {}
        found = self.http.get("/workloads/get_list/import_workloads", **params)["workloads"]
        return [Resource(w) for w in found]

    def import_workloads(
        self, workload_ids: list[str] | None = None, backup_target_id: str | None = None
    ) -> dict[str, list[Resource]]:
        """Import these workloads (all when none) from every backup target (or that one):
        ``imported_workloads``, ``updated_workloads`` (new snapshots only), ``unchanged_workloads``,
        ``failed_workloads``."""
        body: dict[str, Any] = {"workload_ids": workload_ids} if workload_ids else {}
        if backup_target_id:
            body["backup_target_id"] = backup_target_id
        result = self.http.post("/workloads/import_workloads", body)["workloads"]
        return {key: [Resource(w) for w in entries] for key, entries in result.items()}

    def list_orphaned(self, migrate_cloud: bool = False) -> list[Resource]:
        params = {"migrate_cloud": "true"} if migrate_cloud else {}
        return [Resource(w) for w in self.http.get("/workloads/orphan_workloads", **params)["workloads"]]

    def reassign(
        self,
        new_tenant_id: str | None = None,
        user_id: str | None = None,
        workload_ids: list[str] | None = None,
        old_tenant_ids: list[str] | None = None,
        project_map: dict[str, str] | None = None,
        migrate_cloud: bool = False,
    ) -> list[Resource]:
        body: dict[str, Any] = {"migrate_cloud": migrate_cloud}
        optional = {
            "new_tenant_id": new_tenant_id,
            "user_id": user_id,
            "workload_ids": workload_ids,
            "old_tenant_ids": old_tenant_ids,
            "project_map": project_map,
        }
        body.update({k: v for k, v in optional.items() if v})
        result = self.http.post("/workloads/reassign_workloads", body)["workloads"]
        return [Resource(w) for w in result["reassigned_workloads"]]
