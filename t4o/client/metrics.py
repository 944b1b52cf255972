"""Cloud-wide figures for admins: storage per project, protected VMs, recent jobs; the service nodes."""

from __future__ import annotations

from typing import Any

from t4o.client import exceptions as exc
from t4o.client.base import Resource
from t4o.client.http import HTTPClient

WORKLOADS_BINARY = "workloadmgr-workloads"


class Node(Resource):
    pass


class MetricsManager:
    def __init__(self, http: HTTPClient) -> None:
        self.http = http

    def get(self, limit: int | None = None) -> Resource:
        """``storage_usage`` (per project), ``protected_vms``, ``recent_activity`` (newest ``limit`` jobs),
        ``nodes``."""
        return Resource(self.http.get("/t4o_metrics", limit=limit)["metrics"])

    def storage_usage(self) -> list[Resource]:
        return [Resource(r) for r in self.get()["storage_usage"]]

    def recent_activity(self, limit: int | None = None) -> list[Resource]:
        return [Resource(r) for r in self.get(limit)["recent_activity"]]


class NodeManager:
    """The services that report heartbeats, by host; a disabled workloads node takes no new job."""

    def __init__(self, http: HTTPClient) -> None:
        self.http = http

    def list(self, **params: Any) -> list[Node]:
        """Every service that reported, one per host and binary (all pages; ``limit``/``marker``: one)."""
        return [Node(n) for n in self.http.get_list("/t4o_nodes", "nodes", **params)]

    def get(self, host: str) -> Node:
        """The workloads service of ``host`` (the one enable/disable acts on), else its only service."""
        services = [n for n in self.list() if n["host"] == host]
        if not services:
            raise exc.NotFound(404, f"No node '{host}' (see `openstack workload node list`).")
        workers = [n for n in services if n["binary"] == WORKLOADS_BINARY]
        return (workers or services)[0]

    def _set(self, host: str, disabled: bool) -> Node:
        body: dict[str, Any] = {"node": {"disabled": disabled}}
        return Node(self.http.put(f"/t4o_nodes/{host}", body)["node"])

    def enable(self, host: str) -> Node:
        return self._set(host, False)

    def disable(self, host: str) -> Node:
        return self._set(host, True)
