"""Cloud steps of a restore, each waiting for its end state, and a ledger of what a restore created so
a failure can remove it all (no orphan servers, volumes, networks or keypairs)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from openstack import exceptions as sdk_exc
from openstack.connection import Connection

from t4o.common.log import get_logger

LOG = get_logger(__name__)


class CloudStepFailed(Exception):
    """A server or volume did not reach the state a restore needs; the message says which and why."""


def wait_for(
    what: str, fetch: Callable[[], Any], ok: set[str], timeout: float, poll: float = 0.5, first: float = 0.2
) -> Any:
    """Poll until the resource is in a state of ``ok``. The interval starts at ``first`` and grows to
    ``poll``: a restore waits five times per VM (server active, volume available and in use, server shut
    off and active again), and a fixed 1 s interval added half a second to each wait on average."""
    deadline = time.monotonic() + timeout
    interval = min(first, poll)
    while True:
        res = fetch()
        status = (res.status or "").lower()
        if status in ok:
            return res
        if status == "error" or status.startswith("error"):
            fault = getattr(res, "fault", None) or {}
            detail = f": {fault.get('message')}" if isinstance(fault, dict) and fault.get("message") else ""
            raise CloudStepFailed(f"{what} went to {res.status}{detail}")
        if time.monotonic() > deadline:
            raise CloudStepFailed(f"{what} is still {res.status} after {timeout:.0f} s")
        time.sleep(interval)
        interval = min(interval * 1.5, poll)


def wait_server(conn: Connection, server_id: str, status: str, timeout: float) -> Any:
    return wait_for(
        f"server {server_id}", lambda: conn.compute.get_server(server_id), {status.lower()}, timeout
    )


def wait_volume(conn: Connection, volume_id: str, status: str, timeout: float) -> Any:
    return wait_for(
        f"volume {volume_id}", lambda: conn.block_storage.get_volume(volume_id), {status.lower()}, timeout
    )


def stop_server(conn: Connection, server_id: str, timeout: float) -> bool:
    """Shut the server off; True when it was running (so it is started again afterwards)."""
    server = conn.compute.get_server(server_id)
    if server.status == "SHUTOFF":
        return False
    conn.compute.stop_server(server_id)
    wait_server(conn, server_id, "SHUTOFF", timeout)
    return True


def start_server(conn: Connection, server_id: str, timeout: float) -> None:
    conn.compute.start_server(server_id)
    wait_server(conn, server_id, "ACTIVE", timeout)


@dataclass
class Ledger:
    """What a restore created, undone newest first when the restore fails. The VMs of a restore add to
    it from several threads; ``undo`` runs once they have all ended."""

    conn: Connection
    timeout: float = 300.0
    items: list[tuple[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, resource_id: str) -> None:
        with self._lock:
            self.items.append((kind, resource_id))

    def undo(self) -> list[str]:
        problems = []
        for kind, rid in reversed(self.items):
            try:
                getattr(self, f"_delete_{kind}")(rid)
            except Exception as exc:  # keep going: remove as much as possible, report the rest
                LOG.exception("removing %s %s after a failed restore", kind, rid)
                problems.append(f"{kind} {rid}: {exc}")
        self.items.clear()
        return problems

    def _delete_server(self, rid: str) -> None:
        self.conn.compute.delete_server(rid, ignore_missing=True)
        with contextlib.suppress(sdk_exc.ResourceNotFound):
            self.conn.compute.wait_for_delete(self.conn.compute.get_server(rid), wait=int(self.timeout))

    def _delete_volume(self, rid: str) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            vol = self.conn.block_storage.find_volume(rid, ignore_missing=True)
            if vol is None:
                return
            if vol.status in ("available", "error", "error_restoring", "error_extending"):
                self.conn.block_storage.delete_volume(rid, ignore_missing=True)
            elif vol.status == "in-use":
                for att in vol.attachments or []:
                    self.conn.compute.delete_volume_attachment(att["server_id"], rid, ignore_missing=True)
            time.sleep(1.0)
        raise CloudStepFailed(f"volume {rid} could not be deleted within {self.timeout:.0f} s")

    def _delete_keypair(self, rid: str) -> None:
        self.conn.compute.delete_keypair(rid, ignore_missing=True)

    def _delete_router(self, rid: str) -> None:
        for port in self.conn.network.ports(device_id=rid):
            for ip in port.fixed_ips or []:
                self.conn.network.remove_interface_from_router(rid, subnet_id=ip["subnet_id"])
        self.conn.network.delete_router(rid, ignore_missing=True)

    def _delete_network(self, rid: str) -> None:
        self.conn.network.delete_network(rid, ignore_missing=True)

    def _delete_security_group(self, rid: str) -> None:
        self.conn.network.delete_security_group(rid, ignore_missing=True)
