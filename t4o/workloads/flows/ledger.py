"""What a restore created, so a failure can remove it all (no orphan servers, ports, volumes, networks,
flavors, server groups, security groups or keypairs).

A restore's ledger is also written to the database as it grows (t4o.db.restore_resources_api): when the
restore's worker is killed, another worker removes what it had created (t4o.workloads.restore_cleanup).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from t4o.common.config import CONF
from t4o.common.context import RequestContext
from t4o.common.log import get_logger
from t4o.db import restore_resources_api
from t4o.openstack import keystone_trusts
from t4o.openstack.connection import UserCloud
from t4o.policies import trusts

LOG = get_logger(__name__)


@dataclass
class Ledger:
    """What a restore created, undone newest first when the restore fails. The VMs of a restore add to
    it from several threads; ``undo`` runs once they have all ended. With a ``restore_id`` every entry is
    recorded in the database too, until ``undo`` or the restore's success forgets them."""

    cloud: UserCloud
    timeout: float = 300.0
    restore_id: str | None = None
    items: list[tuple[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def recorded(cls, cloud: UserCloud, timeout: float, restore_id: str, context: RequestContext) -> Ledger:
        """The ledger of restore ``restore_id``, recorded in the database. In the background, the restore's
        user gets a trust (or keeps theirs) while their token is at hand: should the restore's worker die,
        another worker removes what it created through that trust."""
        if not getattr(context, "trust_id", None) and context.auth_token and context.project_id:
            threading.Thread(target=_ensure_trust, args=(context,), name="restore-trust", daemon=True).start()
        return cls(cloud, timeout, restore_id)

    def add(self, kind: str, resource_id: str) -> None:
        with self._lock:
            self.items.append((kind, resource_id))
        if self.restore_id:
            # after the append: should the database fail, the restore fails and undo still removes it
            restore_resources_api.record(self.restore_id, kind, resource_id)

    def _forget(self) -> None:
        if self.restore_id:
            try:
                restore_resources_api.forget(self.restore_id)
            except Exception:  # the rows stay; removing their resources again later finds them gone
                LOG.exception("could not forget the resources of restore %s", self.restore_id)

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
        self._forget()
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


def _ensure_trust(context: RequestContext) -> None:
    try:
        keystone_trusts.ensure_registered(CONF)
        trusts.ensure_trust(CONF, context)
    except Exception as exc:  # the restore goes on; only the cleanup after its worker's death is lost
        LOG.warning(
            "No trust of user %s in project %s: should this restore's worker die, what it created stays "
            "in the cloud (%s)",
            context.user_id,
            context.project_id,
            exc,
        )
