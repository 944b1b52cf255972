"""Workload policies: admin-defined schedule and retention templates assigned to projects."""

from __future__ import annotations

import builtins
from typing import Any

from t4o.client.base import Manager, Resource


class WorkloadPolicy(Resource):
    pass


class WorkloadPolicyManager(Manager[WorkloadPolicy]):
    resource_class = WorkloadPolicy
    path = "/workload_policy"
    key = "policy"
    plural = "policy_list"
    noun = "workload policy"
    list_hint = "openstack workload policy list"

    def list(
        self, detail: bool = False, *, project_id: str | None = None, **params: Any
    ) -> list[WorkloadPolicy]:
        """Admin: every policy; member: those assigned to the project. With ``project_id``: the policies
        assigned to that project."""
        if project_id:
            items = self.http.get_list(f"{self.path}/assigned/{project_id}", "policies", **params)
        else:
            items = self.http.get_list(f"{self.path}/", self.plural, **params)
        return [WorkloadPolicy(x) for x in items]

    def create(
        self,
        name: str,
        field_values: dict[str, Any],
        *,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> WorkloadPolicy:
        """``field_values``: interval, retention_policy_type, retention_policy_value, fullbackup_interval
        (or the calendar tiers hourly, daily, ...), as in a workload's jobschedule."""
        body: dict[str, Any] = {"display_name": name, "field_values": field_values}
        if description is not None:
            body["display_description"] = description
        if metadata is not None:
            body["metadata"] = metadata
        return self._one(self.http.post(f"{self.path}/", {"workload_policy": body}))

    def update(
        self,
        policy_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        field_values: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> WorkloadPolicy:
        changes = {
            "display_name": name,
            "display_description": description,
            "field_values": field_values,
            "metadata": metadata,
        }
        body = {k: v for k, v in changes.items() if v is not None}
        return self._one(self.http.put(f"{self.path}/{policy_id}", {"workload_policy": body}))

    def delete(self, policy_id: str) -> None:
        self.http.delete(f"{self.path}/{policy_id}")

    def assign(
        self,
        policy_id: str,
        add_projects: builtins.list[str] | None = None,
        remove_projects: builtins.list[str] | None = None,
    ) -> WorkloadPolicy:
        """Assign the policy to projects and/or take it back; returns it with its ``project_list``."""
        body = {"add_projects": add_projects or [], "remove_projects": remove_projects or []}
        return self._one(self.http.post(f"{self.path}/{policy_id}/assign", {"policy": body}))
