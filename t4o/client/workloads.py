"""Workloads: groups of VMs protected together."""

from __future__ import annotations

import builtins
from typing import Any

from t4o.client.base import Manager, Resource
from t4o.client.snapshots import Snapshot


class Workload(Resource):
    pass


class WorkloadManager(Manager[Workload]):
    resource_class = Workload
    path = "/workloads"
    key = "workload"
    plural = "workloads"
    noun = "workload"
    list_hint = "openstack workload list"

    def list(self, detail: bool = False, all_projects: bool = False, **params: Any) -> list[Workload]:
        if all_projects:
            params["all_workloads"] = "true"
        return super().list(detail, **params)

    def create(
        self,
        instances: builtins.list[str],
        *,
        name: str | None = None,
        description: str | None = None,
        workload_type_id: str | None = None,
        jobschedule: dict[str, Any] | None = None,
        metadata: dict[str, str] | None = None,
        encryption: bool | None = None,
        secret_uuid: str | None = None,
        backup_target_id: str | None = None,
    ) -> Workload:
        body: dict[str, Any] = {
            "instances": [{"instance-id": i} for i in instances],
            "source_platform": "openstack",
        }
        optional = {
            "name": name,
            "description": description,
            "workload_type_id": workload_type_id,
            "jobschedule": jobschedule,
            "metadata": metadata,
            "encryption": encryption,
            "secret_uuid": secret_uuid,
            "backup_target_id": backup_target_id,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        return self._one(self.http.post(self.path, {"workload": body}))

    def update(self, workload_id: str, **changes: Any) -> Workload:
        """Changes: name, description, instances (list of server IDs), jobschedule, metadata, secret_uuid
        (an encrypted workload's new Barbican secret)."""
        body = {k: v for k, v in changes.items() if v is not None}
        if "instances" in body:
            body["instances"] = [{"instance-id": i} for i in body["instances"]]
        return self._one(self.http.put(f"{self.path}/{workload_id}", {"workload": body}))

    def delete(self, workload_id: str, database_only: bool = False) -> None:
        params = {"database_only": "true"} if database_only else {}
        self.http.delete(f"{self.path}/{workload_id}", **params)

    def snapshot(
        self, workload_id: str, *, full: bool = False, name: str | None = None, description: str | None = None
    ) -> Snapshot:
        snap = {k: v for k, v in {"name": name, "description": description}.items() if v is not None}
        params = {"full": "1"} if full else {}
        return Snapshot(
            self.http.post(f"{self.path}/{workload_id}", {"snapshot": snap}, **params)["snapshot"]
        )

    def _action(self, workload_id: str, action: str) -> Workload:
        return self._one(self.http.post(f"{self.path}/{workload_id}/{action}"))

    def pause(self, workload_id: str) -> Workload:
        return self._action(workload_id, "pause")

    def resume(self, workload_id: str) -> Workload:
        return self._action(workload_id, "resume")

    def unlock(self, workload_id: str) -> Workload:
        return self._action(workload_id, "unlock")

    def reset(self, workload_id: str) -> Workload:
        return self._action(workload_id, "reset")

    def scheduled_runs(self, workload_id: str, **params: Any) -> builtins.list[Resource]:
        """What the cron service did with each scheduled run of the workload (oldest first)."""
        path = f"{self.path}/{workload_id}/scheduled_runs"
        return [Resource(r) for r in self.http.get_list(path, "scheduled_runs", **params)]

    def scheduled_run(self, workload_id: str, run_id: str) -> Resource:
        """One scheduled run of the workload, with each of its attempts and, when missed, why."""
        return Resource(self.http.get(f"{self.path}/{workload_id}/scheduled_runs/{run_id}")["scheduled_run"])
