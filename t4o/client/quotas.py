"""Project quotas: the kinds of quota, and the allowed values (with usage) of each project."""

from __future__ import annotations

import builtins
from typing import Any

from t4o.client import exceptions as exc
from t4o.client.base import Resource
from t4o.client.http import HTTPClient


class QuotaType(Resource):
    pass


class AllowedQuota(Resource):
    pass


class QuotaTypeManager:
    """Workloads, Snapshots, VMs, Volumes, Storage (bytes)."""

    def __init__(self, http: HTTPClient) -> None:
        self.http = http

    def list(self) -> list[QuotaType]:
        return [QuotaType(t) for t in self.http.get_list("/project_quota_types", "quota_types")]

    def find(self, name_or_id: str) -> QuotaType:
        """By ID or display name, case-insensitive (``vms`` is ``VMs``)."""
        types = self.list()
        for t in types:
            if name_or_id == t["id"] or name_or_id.lower() == str(t["display_name"]).lower():
                return t
        names = ", ".join(str(t["display_name"]) for t in types)
        raise exc.NotFound(404, f"No quota type '{name_or_id}'; the types are {names}.")


class AllowedQuotaManager:
    """A project's allowed quotas; -1 means unlimited. Setting and removing them is for admins."""

    def __init__(self, http: HTTPClient) -> None:
        self.http = http

    def _project(self, project_id: str | None) -> str:
        return project_id or self.http.project()

    def list(self, project_id: str | None = None, **params: Any) -> list[AllowedQuota]:
        """The allowed quotas of a project (default: the client's), each with its current ``usage``."""
        path = f"/project_allowed_quotas/{self._project(project_id)}"
        return [AllowedQuota(q) for q in self.http.get_list(path, "allowed_quotas", **params)]

    def find(self, quota: str, project_id: str | None = None) -> AllowedQuota:
        """A project's allowed quota by its ID or its type (ID or name)."""
        quotas = self.list(project_id)
        for q in quotas:
            if (
                quota in (q["id"], q["quota_type_id"])
                or quota.lower() == str(q.get("quota_type_name")).lower()
            ):
                return q
        raise exc.NotFound(
            404,
            f"No allowed quota '{quota}' in project {self._project(project_id)} "
            "(see `openstack workload quota list`).",
        )

    def set(
        self, items: builtins.list[dict[str, Any]], project_id: str | None = None
    ) -> builtins.list[AllowedQuota]:
        """Create or change allowed quotas; each item: quota_type_id, allowed_value, high_watermark."""
        path = f"/project_allowed_quotas/{self._project(project_id)}"
        body = {"allowed_quotas": [{"project_id": self._project(project_id), **i} for i in items]}
        return [AllowedQuota(q) for q in self.http.post(path, body)["allowed_quotas"]]

    def update(
        self, quota_id: str, *, allowed_value: int | None = None, high_watermark: int | None = None
    ) -> AllowedQuota:
        changes = {"allowed_value": allowed_value, "high_watermark": high_watermark}
        body = {k: v for k, v in changes.items() if v is not None}
        return AllowedQuota(
            self.http.put(f"/update_allowed_quota/{quota_id}", {"allowed_quotas": body})["allowed_quotas"]
        )

    def delete(self, quota_id: str) -> None:
        self.http.delete(f"/project_allowed_quotas/{quota_id}")
