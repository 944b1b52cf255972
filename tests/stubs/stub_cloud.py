"""A cloud without OpenStack for control-plane tests: its servers come from a JSON file, and the flavors,
volume types and networks a restore may name from another.

Options (registered here, not by the product): ``[stub_cloud] servers_file``, ``resources_file``.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from oslo_config import cfg

from t4o.common.context import RequestContext
from t4o.openstack.cloud import Cloud, RestoreTargets, Server

OPTS = [
    cfg.StrOpt(
        "servers_file",
        help="JSON file {project_id: [{id, name, ...}]} of the servers the stub cloud knows. "
        "Unset: any UUID is a server of the caller's project.",
    ),
    cfg.StrOpt(
        "resources_file",
        help="JSON file {flavors: [name or id], volume_types: [...], networks: {id: [subnet ids]}, "
        "volume_zones: [Cinder zone names]} of what restores may name. Unset: everything exists.",
    ),
]
cfg.CONF.register_opts(OPTS, group="stub_cloud")


class StubCloud(Cloud):
    """Servers from ``{project_id: [{"id": ..., "name": ...}, ...]}``; without a file any UUID exists."""

    def __init__(self, path: str | None, resources: str | None = None) -> None:
        self._path = Path(path) if path else None
        self._resources = Path(resources) if resources else None

    @classmethod
    def from_conf(cls, conf: cfg.ConfigOpts) -> StubCloud:
        conf.register_opts(OPTS, group="stub_cloud")
        return cls(conf.stub_cloud.servers_file, conf.stub_cloud.resources_file)

    def missing_targets(self, context: RequestContext, wanted: RestoreTargets) -> RestoreTargets:
        if self._resources is None:
            return RestoreTargets()
        known = json.loads(self._resources.read_text())
        networks: dict[str, list[str]] = known.get("networks") or {}
        return RestoreTargets(
            frozenset(f for f in wanted.flavors if f not in (known.get("flavors") or [])),
            frozenset(t for t in wanted.volume_types if t not in (known.get("volume_types") or [])),
            frozenset(n for n in wanted.networks if n not in networks),
            frozenset((n, s) for n, s in wanted.subnets if n in networks and s not in networks[n]),
            frozenset(z for z in wanted.volume_zones if z not in (known.get("volume_zones") or [])),
        )

    def _servers(self) -> dict[str, list[dict[str, Any]]] | None:
        if self._path is None:
            return None
        # Re-read on every call so a test can add servers while the service runs.
        return json.loads(self._path.read_text())

    def find_servers(self, context: RequestContext, server_ids: list[str]) -> dict[str, Server | None]:
        project_id = context.project_id or ""
        known = self._servers()
        out: dict[str, Server | None] = {}
        for sid in server_ids:
            if known is None:
                out[sid] = Server(sid, f"instance-{sid[:8]}", project_id) if _is_uuid(sid) else None
                continue
            match = next((s for s in known.get(project_id, []) if s.get("id") == sid), None)
            out[sid] = _server(sid, project_id, match) if match else None
        return out

    def server_definition(self, context: RequestContext, server_id: str) -> dict[str, Any]:
        server = self.find_servers(context, [server_id])[server_id]
        if server is None:
            raise LookupError(f"Server {server_id} not found in project {context.project_id}.")
        return {"id": server.id, "name": server.name, "status": server.status, **server.definition}

    def missing_identities(
        self, context: RequestContext, project_ids: set[str], user_ids: set[str]
    ) -> tuple[set[str], set[str]]:
        """The projects of the servers file exist (none other); users are not modelled: all exist."""
        known = self._servers()
        if known is None:
            return super().missing_identities(context, project_ids, user_ids)
        return {p for p in project_ids if p not in known}, set()


def _server(sid: str, project_id: str, match: dict[str, Any]) -> Server:
    """A server of the file; its ``volumes`` are ids or ``{"id": ...}`` objects, as in a definition."""
    volumes = [v["id"] if isinstance(v, dict) else str(v) for v in match.get("volumes") or []]
    return Server(sid, match.get("name", ""), project_id, definition=match, volume_ids=volumes)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
