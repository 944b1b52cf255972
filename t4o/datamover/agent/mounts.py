"""Snapshot mounts of this compute host: a snapshot's disks served read-only from the vault over NBD and
hot-plugged into a running recovery VM, where its user mounts their filesystems (Trilio's snapshot mount).

Under ``[datamover] mount_dir`` each mount has::

    <mount id>.json   its state (mode 0600: it holds the vault's password), written before anything else
    <mount id>/       mode 0700, owned by QEMU's user: one unix socket per disk (d0.sock, d1.sock, ...)

Each disk is a ``DiskReader`` of its vault ref behind an ``NbdExport`` on its socket, attached to the
domain live only (never to its persistent definition, so a VM that stops forgets it) as a read-only
virtio disk on the first free ``vdX``, with the serial the caller chose (the guest's
/dev/disk/by-id/virtio-<serial>).

The exports live in the agent's process. A restarted agent serves every mount again on the same sockets
and QEMU's NBD client connects again on its next reads: with ``<reconnect delay>`` (a libvirt newer than
9.0; ``[datamover] mount_reconnect_delay``) it holds the guest's reads meanwhile, without it the first
reads after the restart fail (an I/O error in the guest). The restarted agent drops, detaching nothing,
the state of mounts whose domain is gone, stopped or no longer has the disks; a mount the agent died in
the middle of is rolled back (its attached disks detached). So a restart forgets no mount and leaves no
stale export.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import shutil
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import libvirt
from oslo_config import cfg

from t4o import vault
from t4o.common.log import get_logger
from t4o.datamover.agent.operations import open_vault
from t4o.datamover.disks import DiskError, DomainNotFound, DomainStateError, LibvirtUnavailable, connect
from t4o.datamover.disks.domain_xml import free_targets, nbd_disk_xml, nbd_sockets
from t4o.datamover.disks.libvirt_conn import lookup_domain, qemu_process_owner

LOG = get_logger(__name__)

MOUNTING, MOUNTED, DISMOUNTED = "mounting", "mounted", "dismounted"
KEEP_DISMOUNTED = 3600.0  # seconds a dismounted mount stays readable (a retried dismount, a late status)
ID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
SERIAL_RE = re.compile(r"^[A-Za-z0-9-]{1,20}$")
REF_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*/[A-Za-z0-9][A-Za-z0-9._:-]*$")
MAX_DISKS = 16
UNIX_PATH_MAX = 107  # sun_path holds 108 bytes with the terminating NUL
DETACH_POLL = 0.2


@dataclass
class MountDisk:
    ref: str  # the vault disk served
    serial: str  # what the guest sees as the disk's serial
    device: str  # target name in the domain (vdb...)
    socket: str  # unix socket of its NBD export
    alias: str  # libvirt user alias, QEMU's device id

    def xml(self, reconnect_delay: int) -> str:
        # the export's name is the ref; NbdExport serves the disk under it (and as the default export)
        return nbd_disk_xml(self.device, self.socket, self.ref, self.serial, self.alias, reconnect_delay)


@dataclass
class Mount:
    id: str
    server_id: str
    vault_spec: dict[str, Any]
    disks: list[MountDisk]
    mounted_at: float
    status: str = MOUNTING
    agent_host: str = ""  # the agent's host: several agents may share a mount_dir (tests, demos)
    last_read_at: float | None = None  # as last recorded in the state file
    dismounted: float | None = None  # monotonic time of the dismount
    exports: list[vault.NbdExport] = field(default_factory=list)
    readers: list[vault.DiskReader] = field(default_factory=list)

    def last_read(self) -> float | None:
        times = [t for t in [self.last_read_at, *(e.last_read_at for e in self.exports)] if t is not None]
        return max(times) if times else None

    def state(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "host": self.agent_host,
            "server_id": self.server_id,
            "status": self.status,
            "vault": self.vault_spec,
            "disks": [asdict(d) for d in self.disks],
            "mounted_at": self.mounted_at,
            "last_read_at": self.last_read(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Mount:
        return cls(
            id=str(state["id"]),
            server_id=str(state["server_id"]),
            vault_spec=dict(state["vault"]),
            disks=[MountDisk(**d) for d in state["disks"]],
            mounted_at=float(state["mounted_at"]),
            status=str(state["status"]),
            agent_host=str(state.get("host") or ""),
            last_read_at=state.get("last_read_at"),
        )

    def view(self, host: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "host": host,
            "server_id": self.server_id,
            "status": self.status,
            "disks": [{"ref": d.ref, "serial": d.serial, "device": d.device} for d in self.disks],
            "last_read_at": iso(self.last_read()),
            "mounted_at": iso(self.mounted_at),
        }

    def describe(self) -> str:
        return ", ".join(f"{d.device}={d.ref} (serial {d.serial})" for d in self.disks)


def iso(ts: float | None) -> str | None:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds") if ts is not None else None


def check_request(mount_id: str, server_id: str, spec: dict[str, Any]) -> list[dict[str, str]]:
    """The disks asked for; ValueError on what datamover-api should have refused (ids become paths)."""
    if not ID_RE.match(mount_id):
        raise ValueError(f"invalid mount id {mount_id[:80]!r}: a UUID is expected")
    if not ID_RE.match(server_id):
        raise ValueError(f"invalid server id {server_id[:80]!r}: a UUID is expected")
    if not isinstance(spec.get("vault"), dict) or not spec["vault"].get("url"):
        raise ValueError("the mount spec names no vault")
    disks = spec.get("disks")
    if not isinstance(disks, list) or not 1 <= len(disks) <= MAX_DISKS:
        raise ValueError(f"a mount needs 1 to {MAX_DISKS} disks")
    for d in disks:
        if not REF_RE.match(str(d.get("ref", ""))):
            raise ValueError(f"invalid vault disk ref {str(d.get('ref'))[:80]!r}")
        if not SERIAL_RE.match(str(d.get("serial", ""))):
            raise ValueError(f"invalid disk serial {str(d.get('serial'))[:80]!r}: up to 20 of [A-Za-z0-9-]")
    return [{"ref": str(d["ref"]), "serial": str(d["serial"])} for d in disks]


class MountRegistry:
    """The mounts of this host. Mounts and dismounts run one at a time (they choose free device names and
    take a second or two); status reads do not wait for them."""

    def __init__(
        self, host: str, mount_dir: str, uri: str, detach_timeout: float = 20.0, reconnect_delay: int = 60
    ) -> None:
        self.host = host
        self.mount_dir = os.path.abspath(mount_dir)
        self.uri = uri
        self.detach_timeout = detach_timeout
        self.reconnect_delay = reconnect_delay
        self._mounts: dict[str, Mount] = {}
        self._lock = threading.Lock()  # the dict
        self._ops = threading.Lock()  # one mount or dismount at a time

    @classmethod
    def from_conf(cls, conf: cfg.ConfigOpts) -> MountRegistry:
        dm = conf.datamover
        return cls(conf.host, dm.mount_dir, dm.libvirt_uri, dm.mount_detach_timeout, dm.mount_reconnect_delay)

    # -- paths and state files ---------------------------------------------------------------------

    def state_path(self, mount_id: str) -> str:
        return os.path.join(self.mount_dir, f"{mount_id}.json")

    def socket_dir(self, mount_id: str) -> str:
        return os.path.join(self.mount_dir, mount_id)

    def _write_state(self, m: Mount) -> None:
        """Atomically, mode 0600 from the start."""
        os.makedirs(self.mount_dir, mode=0o711, exist_ok=True)
        path = self.state_path(m.id)
        tmp = f"{path}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(m.state(), f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def _remove_files(self, mount_id: str) -> None:
        shutil.rmtree(self.socket_dir(mount_id), ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.state_path(mount_id))

    def _make_socket_dir(self, mount_id: str, owner: tuple[int, int] | None) -> str:
        path = self.socket_dir(mount_id)
        os.makedirs(self.mount_dir, mode=0o711, exist_ok=True)
        os.makedirs(path, mode=0o700, exist_ok=True)
        if owner is not None and os.geteuid() == 0:
            os.chown(path, *owner)  # QEMU connects to the sockets inside
        return path

    # -- serving ------------------------------------------------------------------------------------

    def _serve(self, m: Mount, owner: tuple[int, int] | None) -> None:
        """Open each disk in the vault and serve it on its socket."""
        repo = open_vault({"vault": m.vault_spec})
        for d in m.disks:
            m.readers.append(vault.DiskReader(repo, d.ref))
        self._make_socket_dir(m.id, owner)
        for d, reader in zip(m.disks, m.readers, strict=True):
            export = vault.NbdExport(reader, socket_path=d.socket, name=d.ref).start()
            m.exports.append(export)
            if owner is not None and os.geteuid() == 0:
                os.chown(d.socket, *owner)

    @staticmethod
    def _stop(m: Mount) -> None:
        for export in m.exports:
            export.stop()
        for reader in m.readers:
            reader.close()
        m.exports, m.readers = [], []

    # -- libvirt ------------------------------------------------------------------------------------

    @staticmethod
    def _attached(dom: libvirt.virDomain) -> dict[str, str]:
        """Target of each NBD disk the running domain has, by socket (none once it is gone or stopped)."""
        try:
            return nbd_sockets(dom.XMLDesc(0)) if dom.isActive() else {}
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return {}
            raise

    def _detach(self, dom: libvirt.virDomain, m: Mount) -> list[str]:
        """Ask the guest to release the mount's disks and wait for it; the devices still there then.

        By alias: the call only sends the unplug request (detachDeviceFlags would hold the domain up to
        5 s per disk waiting for the guest), so all disks are asked for at once."""
        present = self._attached(dom)
        for d in m.disks:
            if d.socket not in present:
                continue
            try:
                dom.detachDeviceAlias(d.alias, libvirt.VIR_DOMAIN_AFFECT_LIVE)
            except libvirt.libvirtError as exc:
                LOG.warning("mount %s: detaching %s from domain %s: %s", m.id, d.device, dom.name(), exc)
        deadline = time.monotonic() + self.detach_timeout
        while True:
            present = self._attached(dom)
            left = [d.device for d in m.disks if d.socket in present]
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(DETACH_POLL)

    # -- the calls -----------------------------------------------------------------------------------

    def mount(self, mount_id: str, server_id: str, spec: dict[str, Any]) -> dict[str, Any]:
        wanted = check_request(mount_id, server_id, spec)
        with self._ops:
            with self._lock:
                self._forget_old()
                known = self._mounts.get(mount_id)
            if known is not None and known.status != DISMOUNTED:  # a dismounted one is mounted anew
                if known.server_id != server_id:
                    raise ValueError(
                        f"mount {mount_id} already attaches its disks to server {known.server_id}"
                    )
                return known.view(self.host)  # a retried request
            conn = connect(self.uri)
            try:
                return self._mount(conn, mount_id, server_id, spec, wanted)
            finally:
                conn.close()

    def _mount(
        self,
        conn: libvirt.virConnect,
        mount_id: str,
        server_id: str,
        spec: dict[str, Any],
        wanted: list[dict[str, str]],
    ) -> dict[str, Any]:
        dom = lookup_domain(conn, server_id)
        if not dom.isActive():
            raise DomainStateError(
                f"server {server_id} (domain {dom.name()}) is not running: disks are hot-plugged into a "
                "running VM only"
            )
        targets = free_targets(dom.XMLDesc(0), len(wanted))
        sockets = [os.path.join(self.socket_dir(mount_id), f"d{i}.sock") for i in range(len(wanted))]
        if len(os.fsencode(sockets[-1])) > UNIX_PATH_MAX:
            raise ValueError(f"[datamover] mount_dir {self.mount_dir} is too long for unix socket paths")
        disks = [
            MountDisk(w["ref"], w["serial"], target, sock, f"ua-t4o-{mount_id}-{target}")
            for w, target, sock in zip(wanted, targets, sockets, strict=True)
        ]
        m = Mount(mount_id, server_id, dict(spec["vault"]), disks, time.time(), agent_host=self.host)
        self._write_state(m)  # first: an agent killed from here on rolls the mount back when it starts
        try:
            self._serve(m, qemu_process_owner(dom))
            for d in disks:
                try:
                    dom.attachDeviceFlags(d.xml(self.reconnect_delay), libvirt.VIR_DOMAIN_AFFECT_LIVE)
                except libvirt.libvirtError as exc:
                    why = exc.get_error_message()
                    raise DiskError(
                        f"cannot attach {d.ref} as {d.device} to domain {dom.name()}: {why}"
                    ) from exc
        except BaseException as exc:
            LOG.warning("mount %s into domain %s failed (%s); rolling back", mount_id, dom.name(), exc)
            try:
                self._detach(dom, m)
            finally:
                self._stop(m)
                self._remove_files(mount_id)
            raise
        m.status = MOUNTED
        self._write_state(m)
        with self._lock:
            self._mounts[mount_id] = m
        LOG.info(
            "mount %s: attached %s read-only to domain %s (server %s)", mount_id, m.describe(), dom.name(),
            server_id,
        )  # fmt: skip
        return m.view(self.host)

    def get(self, mount_id: str) -> dict[str, Any] | None:
        with self._lock:
            self._forget_old()
            m = self._mounts.get(mount_id)
        if m is None:
            return None
        if m.status == MOUNTED and m.last_read() != m.last_read_at:
            with self._ops:  # not while a dismount removes the files
                if m.status == MOUNTED:
                    m.last_read_at = m.last_read()
                    self._write_state(m)  # survives a restart, for the idle expiry
        return m.view(self.host)

    def live(self) -> list[dict[str, Any]]:
        with self._lock:
            mounts = [m for m in self._mounts.values() if m.status == MOUNTED]
        return [m.view(self.host) for m in mounts]

    def dismount(self, mount_id: str) -> dict[str, Any] | None:
        with self._ops:
            with self._lock:
                m = self._mounts.get(mount_id)
            if m is None:
                return None
            if m.status == DISMOUNTED:
                return m.view(self.host)
            left: list[str] = []
            name = m.server_id
            conn = connect(self.uri)  # LibvirtUnavailable: the mount stays, the caller may retry
            try:
                try:
                    dom = lookup_domain(conn, m.server_id)
                except DomainNotFound:
                    LOG.info("mount %s: domain %s is gone; nothing to detach", mount_id, m.server_id)
                else:
                    name = dom.name()
                    left = self._detach(dom, m)
            finally:
                conn.close()
            if left:
                LOG.warning(
                    "mount %s: the guest of domain %s did not release %s within %s s; their exports stop "
                    "anyway", mount_id, name, ", ".join(left), self.detach_timeout,
                )  # fmt: skip
            m.last_read_at = m.last_read()
            self._stop(m)
            self._remove_files(mount_id)
            m.status, m.dismounted = DISMOUNTED, time.monotonic()
            LOG.info(
                "mount %s: detached %s from domain %s (server %s)", mount_id, m.describe(), name, m.server_id
            )
            return m.view(self.host)

    # -- agent start and stop --------------------------------------------------------------------------

    def restore(self) -> None:
        """Serve again the mounts a previous run of the agent left (see the module's docstring)."""
        try:
            found = self._load_states()
            self._remove_orphan_dirs({s.id for s in found})
        except OSError as exc:  # the agent still runs backups and restores; mounts wait for a fix
            LOG.error("cannot read the snapshot mounts of this host in %s: %s", self.mount_dir, exc)
            return
        states = []
        for m in found:
            if m.agent_host in ("", self.host):
                states.append(m)
            else:
                LOG.info("mount %s belongs to the agent of host %s: left alone", m.id, m.agent_host)
        if not states:
            return
        conn: libvirt.virConnect | None
        try:
            conn = connect(self.uri)
        except LibvirtUnavailable as exc:
            LOG.warning(
                "%s; serving the %d persisted mount(s) without checking their domains", exc, len(states)
            )
            conn = None
        try:
            with self._ops:
                for m in states:
                    try:
                        self._restore_one(conn, m)
                    except Exception:
                        LOG.exception("mount %s: cannot serve it again", m.id)
        finally:
            if conn is not None:
                conn.close()

    def _load_states(self) -> list[Mount]:
        if not os.path.isdir(self.mount_dir):
            return []
        out = []
        for name in sorted(os.listdir(self.mount_dir)):
            mount_id = name.removesuffix(".json")
            if not name.endswith(".json") or not ID_RE.match(mount_id):
                continue
            try:
                with open(os.path.join(self.mount_dir, name)) as f:
                    m = Mount.from_state(json.load(f))
                if m.id != mount_id:
                    raise ValueError(f"it holds mount {m.id}")
            except (OSError, ValueError, KeyError, TypeError) as exc:
                LOG.error("mount state file %s is unreadable (%s); left as it is", name, exc)
                continue
            out.append(m)
        return out

    def _remove_orphan_dirs(self, known: set[str]) -> None:
        """Socket directories without a state file (an agent killed while removing one)."""
        if not os.path.isdir(self.mount_dir):
            return
        for name in os.listdir(self.mount_dir):
            path = os.path.join(self.mount_dir, name)
            if (
                ID_RE.match(name)
                and name not in known
                and os.path.isdir(path)
                and not os.path.exists(self.state_path(name))  # not one another agent just made
            ):
                LOG.info("removing %s: no mount state goes with it", path)
                shutil.rmtree(path, ignore_errors=True)

    def _restore_one(self, conn: libvirt.virConnect | None, m: Mount) -> None:
        owner = None
        if conn is not None:
            try:
                dom = lookup_domain(conn, m.server_id)
            except DomainNotFound:
                self._drop(m, f"domain {m.server_id} no longer exists")
                return
            present = self._attached(dom)
            if m.status == MOUNTING:
                left = self._detach(dom, m)
                self._drop(
                    m,
                    "the agent stopped in the middle of it" + (f" (still attached: {left})" if left else ""),
                )
                return
            if not any(d.socket in present for d in m.disks):
                self._drop(m, f"domain {dom.name()} is not running or no longer has its disks")
                return
            owner = qemu_process_owner(dom)
        try:
            self._serve(m, owner)
        except Exception:
            self._stop(m)
            LOG.exception(
                "mount %s: its disks cannot be served again; it stays known so it can be dismounted", m.id
            )
        m.status = MOUNTED
        with self._lock:
            self._mounts[m.id] = m
        LOG.info("mount %s: serving %s again to server %s", m.id, m.describe(), m.server_id)

    def _drop(self, m: Mount, why: str) -> None:
        self._remove_files(m.id)
        LOG.info("mount %s (%s of server %s) dropped: %s", m.id, m.describe(), m.server_id, why)

    def close(self) -> None:
        """Stop serving (the agent stops), keeping the state files for the next start."""
        with self._ops, self._lock:
            for m in self._mounts.values():
                if m.status == MOUNTED:
                    with contextlib.suppress(OSError):
                        m.last_read_at = m.last_read()
                        self._write_state(m)
                    self._stop(m)
            self._mounts.clear()

    def _forget_old(self) -> None:
        now = time.monotonic()
        for mid in [
            m.id
            for m in self._mounts.values()
            if m.dismounted is not None and now - m.dismounted > KEEP_DISMOUNTED
        ]:
            del self._mounts[mid]
