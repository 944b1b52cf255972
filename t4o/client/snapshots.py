"""Snapshots: point-in-time copies of a workload (a job to poll while it runs)."""

from __future__ import annotations

from typing import Any

from t4o.client.base import Manager, Resource


class Snapshot(Resource):
    pass


class SnapshotManager(Manager[Snapshot]):
    resource_class = Snapshot
    path = "/snapshots"
    key = "snapshot"
    plural = "snapshots"
    noun = "snapshot"
    list_hint = "openstack workload snapshot list"

    def list(
        self,
        detail: bool = False,
        *,
        workload_id: str | None = None,
        status: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        all_projects: bool = False,
        **params: Any,
    ) -> list[Snapshot]:
        params.update(workload_id=workload_id, status=status, date_from=date_from, date_to=date_to)
        if all_projects:
            params["all"] = "true"
        return super().list(detail, **params)

    def delete(self, snapshot_id: str) -> None:
        self.http.delete(f"{self.path}/{snapshot_id}")

    def cancel(self, snapshot_id: str) -> Snapshot:
        return self._one(self.http.get(f"{self.path}/{snapshot_id}/cancel"))
