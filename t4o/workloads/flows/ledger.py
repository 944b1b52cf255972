"""What a restore created, so a failure can remove it all (no orphan servers, ports, volumes, networks,
flavors, server groups, security groups or keypairs)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from t4o.common.log import get_logger
from t4o.openstack.connection import UserCloud

LOG = get_logger(__name__)


@dataclass
class Ledger:
    """What a restore created, undone newest first when the restore fails. The VMs of a restore add to
    it from several threads; ``undo`` runs once they have all ended."""

    cloud: UserCloud
    timeout: float = 300.0
    items: list[tuple[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, resource_id: str) -> None:
        with self._lock:
            self.items.append((kind, resource_id))

    def undo(self) -> list[str]:
        """Remove everything, newest first; what could not be removed, one line each."""
        problems = []
        for kind, rid in reversed(self.items):
            try:
                self._delete(kind, rid)
            except Exception as exc:  # keep going: remove as much as possible, report the rest
                LOG.exception("removing %s %s after a failed restore", kind, rid)
                problems.append(f"{kind} {rid}: {exc}")
        self.items.clear()
        return problems

    def undo_after(self, exc: BaseException) -> str:
        """Undo after a failure: the failure's message, with what could not be removed."""
        problems = self.undo()
        return f"{exc} (could not remove: {'; '.join(problems)})" if problems else str(exc)

    def _delete(self, kind: str, rid: str) -> None:
        cloud = self.cloud
        if kind == "server":
            cloud.nova.delete_server(rid, self.timeout)
        elif kind == "volume":
            volume = cloud.cinder.volume(rid)
            for server_id in volume.attached_to if volume is not None else ():
                cloud.nova.detach_volume(server_id, rid)
            cloud.cinder.delete_volume(rid, self.timeout)
        elif kind == "flavor":
            cloud.nova.delete_flavor(rid)
        elif kind == "keypair":
            cloud.nova.delete_keypair(rid)
        elif kind == "port":
            cloud.neutron.delete_port(rid)
        elif kind == "server_group":
            cloud.nova.delete_server_group(rid)
        elif kind == "router":
            cloud.neutron.delete_router(rid)
        elif kind == "network":
            cloud.neutron.delete_network(rid)
        elif kind == "security_group":
            cloud.neutron.delete_security_group(rid)
        else:
            raise ValueError(f"unknown kind {kind!r}")
