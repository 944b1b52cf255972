"""A datamover-api without agents for snapshot mount tests: the calls of DatamoverClient that mounts use,
answering as API.md's ``/v2/mounts`` routes do, over an in-memory table of attached disks.

It checks each request as the agent would (a known server, a vault spec, serials of at most 20 characters
of ``[A-Za-z0-9-]``), gives each disk the next free device of its server (vdb, vdc, ...), and lets a test
play the guest (``read``), an agent restart (``forget``) and a failing agent (``fail_next``).
"""

from __future__ import annotations

import datetime as dt
import re
import string
import threading
from typing import Any

from t4o.datamover.client import TransferFailed

_SERIAL = re.compile(r"^[A-Za-z0-9-]{1,20}$")


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


class StubDatamover:
    def __init__(self, servers: dict[str, str] | None = None) -> None:
        self.servers: dict[str, str] = dict(servers or {})  # server id -> compute host
        self.mounts: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str]] = []  # (call, mount id)
        self.specs: dict[str, dict[str, Any]] = {}
        self.failures: list[str] = []
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- what a test does
    def fail_next(self, message: str) -> None:
        self.failures.append(message)

    def read(self, mount_id: str, at: dt.datetime) -> None:
        """The guest read one of the mount's disks at ``at``."""
        self.mounts[mount_id]["last_read_at"] = _iso(at)

    def forget(self, mount_id: str) -> None:
        """The agent restarted: its mounts are gone."""
        self.mounts.pop(mount_id, None)

    def devices_of(self, server_id: str) -> list[str]:
        return sorted(
            d["device"] for m in self.mounts.values() if m["server_id"] == server_id for d in m["disks"]
        )

    # ---------------------------------------------------------------- DatamoverClient's calls
    def _failure(self) -> None:
        if self.failures:
            raise TransferFailed(self.failures.pop(0))

    def mount(self, mount_id: str, server_id: str, spec: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.calls.append(("mount", mount_id))
            self._failure()
            host = self.servers.get(server_id)
            if host is None:
                raise TransferFailed(f"datamover-api answered 404: Server {server_id} not found.")
            vault = spec.get("vault") or {}
            if not vault.get("url") or not {"url", "password", "require_mount"} <= set(vault):
                raise TransferFailed(f"datamover-api answered 400: bad vault spec {vault!r}")
            disks = spec.get("disks") or []
            if not disks:
                raise TransferFailed("datamover-api answered 400: no disks to mount")
            for disk in disks:
                if not _SERIAL.match(str(disk.get("serial"))) or "/" not in str(disk.get("ref")):
                    raise TransferFailed(f"datamover-api answered 400: bad disk {disk!r}")
            if mount_id in self.mounts:
                return dict(self.mounts[mount_id])
            used = set(self.devices_of(server_id))
            free = (f"vd{c}" for c in string.ascii_lowercase[1:] if f"vd{c}" not in used)
            view = {
                "id": mount_id,
                "host": host,
                "server_id": server_id,
                "status": "mounted",
                "disks": [{"ref": d["ref"], "serial": d["serial"], "device": next(free)} for d in disks],
                "last_read_at": None,
                "mounted_at": _iso(dt.datetime.now(dt.UTC)),
            }
            self.mounts[mount_id] = view
            self.specs[mount_id] = spec
            return dict(view)

    def mount_status(self, host: str, mount_id: str) -> dict[str, Any] | None:
        self.calls.append(("mount_status", mount_id))
        self._failure()
        view = self.mounts.get(mount_id)
        return dict(view) if view is not None and view["host"] == host else None

    def dismount(self, host: str, mount_id: str) -> dict[str, Any] | None:
        with self._lock:
            self.calls.append(("dismount", mount_id))
            self._failure()
            view = self.mounts.get(mount_id)
            if view is None or view["host"] != host:
                return None
            del self.mounts[mount_id]
            return {**view, "status": "dismounted"}


SERIAL_TYPE = "f82ce76f-17fe-438b-aa37-7a023058e50d"


def recorded_snapshot(
    project_id: str, disks_per_vm: dict[str, list[str]], status: str = "available", name: str = "s"
) -> Any:
    """A workload of these VMs and one finished snapshot of it, recorded as the snapshot workflow records
    its VMs (each disk with its target name and vault ref ``<snapshot>/<vm>-<disk>``); the snapshot row."""
    from t4o.db import api as db

    wl = db.workload_create(
        {
            "project_id": project_id,
            "user_id": "alice",
            "name": f"wl-{name}",
            "workload_type_id": SERIAL_TYPE,
            "status": "available",
        },
        [{"vm_id": vm, "vm_name": f"name-{vm[:6]}"} for vm in disks_per_vm],
    )
    snap = db.snapshot_create(wl.id, project_id, {"user_id": "alice", "name": name})
    assert db.job_claim("snapshot", snap.id, "worker-1")
    for vm, targets in disks_per_vm.items():
        disks = [{"target": t, "ref": f"{snap.id}/{vm[:8]}-{t}", "size": 1 << 20} for t in targets]
        db.snapshot_record_vm(snap.id, {"vm_id": vm, "vm_name": f"name-{vm[:6]}", "disks": disks})
    assert db.job_finish("snapshot", snap.id, status)
    return db.snapshot_get(snap.id, None)
