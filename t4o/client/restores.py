"""Restores from a snapshot: oneclick, selective or inplace; network-topology or security-groups (no VM,
only the snapshot's networks, or its security groups). A job to poll while it runs."""

from __future__ import annotations

from typing import Any

from t4o.client.base import Manager, Resource

RESTORE_TYPES = ("oneclick", "selective", "inplace", "network-topology", "security-groups")
# The restore types that bring back no VM, only what the snapshot recorded of the project around them.
WITHOUT_VMS = ("network-topology", "security-groups")


class Restore(Resource):
    pass


class RestoreManager(Manager[Restore]):
    resource_class = Restore
    path = "/restores"
    key = "restore"
    plural = "restores"
    noun = "restore"
    list_hint = "openstack workload restore list"

    def list(self, detail: bool = False, *, snapshot_id: str | None = None, **params: Any) -> list[Restore]:
        params["snapshot_id"] = snapshot_id
        return super().list(detail, **params)

    def create(
        self,
        snapshot_id: str,
        restore_type: str = "oneclick",
        *,
        name: str | None = None,
        description: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> Restore:
        """Start a restore; ``options`` are Trilio's restore options (``openstack``: instances, networks,
        restore_topology)."""
        if restore_type not in RESTORE_TYPES:
            raise ValueError(f"restore_type must be one of {', '.join(RESTORE_TYPES)}")
        opts: dict[str, Any] = {"type": "openstack", **(options or {})}
        opts["restore_type"] = restore_type
        opts["oneclickrestore"] = restore_type == "oneclick"
        body: dict[str, Any] = {"options": opts}
        if name is not None:
            body["name"] = name
        if description is not None:
            body["description"] = description
        return self._one(self.http.post(f"/snapshots/{snapshot_id}", {"restore": body}))

    def delete(self, restore_id: str) -> None:
        self.http.delete(f"{self.path}/{restore_id}")

    def cancel(self, restore_id: str) -> Restore:
        return self._one(self.http.get(f"{self.path}/{restore_id}/cancel"))
