"""File recovery without a recovery VM: browse and download the files of a snapshot disk in the vault.

``locate(ctx, action, snapshot_id, vm_id, disk)`` authorizes the call (``snapshot:browse`` or
``snapshot:download``), finds the snapshot in the caller's project (another project's is not found),
requires it ``available`` and names the disk in the vault from the snapshot's VM record (a disk is its
target name ``vda``, its vault ref ``SNAPSHOT/DISK`` or the last part of it, or its volume id).

``BROWSER.lease(ref, target_id)`` gives the disk opened for file recovery: the workload's backup target
(``Located.target_id``; None is the configured one) opened, a
``DiskReader`` over the disk's chunks with its cache (``[file_recovery] cache_mib``), a read-only
``NbdExport`` of it on a unix socket in a private directory, and ``open_disk`` on that export (its
partitions and filesystem readers). Opening costs a vault open, an NBD handshake and a FUSE mount,
so open disks are kept per process and shared by every request (threads) until they have not been
used for ``[file_recovery] idle_timeout`` seconds; a disk in use (a download streaming) never
expires. Every open disk is closed at process exit.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from oslo_config import cfg

from t4o.common import errors, policy
from t4o.common.config import CONF
from t4o.common.context import RequestContext
from t4o.db import api as db
from t4o.filerecovery import Disk, FilesystemReader, Volume, cleanup_stale_mounts, open_disk
from t4o.vault import DiskReader, NbdExport, Repository, open_configured_target
from t4o.workloads import encryption, targets

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Located:
    """The snapshot disk a call names."""

    snapshot_id: str
    project_id: str
    vm_id: str
    disk: str  # the target name (vda)
    ref: str  # the disk in the vault
    target_id: str | None  # the workload's backup target (None: the configured one)
    # An encrypted workload's key, unlocked in the opened repository with the caller's credentials.
    unlock: Callable[[Repository], None] | None = None


def _matches(record: dict[str, Any], disk: str) -> bool:
    ref = str(record.get("ref") or "")
    return disk in (record.get("target"), ref, ref.rsplit("/", 1)[-1], record.get("volume_id"))


def locate(ctx: RequestContext, action: str, snapshot_id: str, vm_id: str, disk: str) -> Located:
    """The disk ``disk`` of VM ``vm_id`` in snapshot ``snapshot_id``, after the policy allowed ``action``.
    NotFound for another project's snapshot, an unknown VM or disk; Conflict unless available."""
    policy.authorize(ctx, action)
    snap = db.snapshot_get(snapshot_id, None if ctx.is_admin else ctx.project_id)
    if snap.status != "available":
        raise errors.Conflict(
            f"Snapshot {snap.id} is {snap.status}: only an available snapshot's files can be read."
        )
    vm = next((v for v in snap.vms if v.vm_id == vm_id), None)
    if vm is None:
        raise errors.NotFound(f"Snapshot {snap.id} has no VM {vm_id}.")
    record = next((d for d in vm.disks or [] if _matches(d, disk)), None)
    if record is None or not record.get("ref"):
        known = ", ".join(str(d.get("target")) for d in vm.disks or []) or "none"
        raise errors.NotFound(f"VM {vm_id} of snapshot {snap.id} has no disk {disk} (its disks: {known}).")
    name = str(record.get("target") or disk)
    workload = db.workload_get(snap.workload_id, None)
    unlock = unlocker(workload, ctx)
    return Located(
        snap.id, snap.project_id, vm_id, name, str(record["ref"]), workload.backup_target_id, unlock
    )


def unlocker(workload: Any, ctx: RequestContext) -> Callable[[Repository], None] | None:
    """What unlocks an encrypted workload's key in its opened repository, with ``ctx``'s credentials
    (its token, or a trust); None for a workload in clear."""
    if not workload.encryption:
        return None
    return functools.partial(encryption.unlock, workload=workload, ctx=ctx)


def open_workload_target(target_id: str | None, conf: cfg.ConfigOpts) -> Repository:
    if not target_id or target_id == targets.CONFIG_TARGET_ID:
        return open_configured_target(conf)
    return targets.open_target(targets.get(target_id, conf), conf=conf)


@dataclass
class _OpenDisk:
    ref: str
    repo: Repository
    reader: DiskReader
    export: NbdExport
    directory: str
    disk: Disk
    lock: threading.Lock = field(default_factory=threading.Lock)  # the Disk's reader cache
    users: int = 0
    last_used: float = field(default_factory=time.monotonic)

    def close(self) -> None:
        for step in (self.disk.close, self.export.stop, self.reader.close):
            try:
                step()
            except Exception:  # closing the rest matters more than one failure
                LOG.exception("closing snapshot disk %s", self.ref)
        shutil.rmtree(self.directory, ignore_errors=True)


class OpenedDisk:
    """A leased open disk: its volumes and filesystem readers (thread-safe)."""

    def __init__(self, entry: _OpenDisk) -> None:
        self._entry = entry

    @property
    def volumes(self) -> list[Volume]:
        return list(self._entry.disk.volumes)

    def volume(self, partition: int | str | None) -> Volume:
        return self._entry.disk.volume(partition)

    def filesystem(self, partition: int | str | None) -> FilesystemReader:
        with self._entry.lock:
            return self._entry.disk.filesystem(partition)


class FileBrowser:
    """The snapshot disks opened for file recovery in this process, closed after an idle time."""

    def __init__(
        self,
        conf: cfg.ConfigOpts = CONF,
        open_target: Callable[[str | None, cfg.ConfigOpts], Repository] | None = None,
    ) -> None:
        self._conf = conf
        self._open_target = open_target or open_workload_target
        self._lock = threading.Lock()
        self._disks: dict[str, _OpenDisk] = {}
        self._opening: dict[str, threading.Lock] = {}
        self._reaper: threading.Thread | None = None
        self._stop = threading.Event()
        self._swept = False
        atexit.register(self.close_all)

    @property
    def idle_timeout(self) -> float:
        return float(self._conf.file_recovery.idle_timeout)

    @contextlib.contextmanager
    def lease(
        self, ref: str, target_id: str | None = None, unlock: Callable[[Repository], None] | None = None
    ) -> Iterator[OpenedDisk]:
        """The disk ``ref`` of the vault on the backup target ``target_id`` (None: the configured one),
        opened (or reused: a ref names one snapshot's disk, on one target; an encrypted workload's disk
        is opened with its key, which ``unlock`` unlocks); it stays open while leased."""
        entry = self._acquire(ref, target_id, unlock)
        try:
            yield OpenedDisk(entry)
        finally:
            with self._lock:
                entry.users -= 1
                entry.last_used = time.monotonic()

    def _acquire(
        self, ref: str, target_id: str | None, unlock: Callable[[Repository], None] | None
    ) -> _OpenDisk:
        with self._lock:
            entry = self._disks.get(ref)
            if entry is not None:
                entry.users += 1
                return entry
            opening = self._opening.setdefault(ref, threading.Lock())
        with opening:  # one thread opens a disk; the others wait for it
            with self._lock:
                entry = self._disks.get(ref)
                if entry is not None:
                    entry.users += 1
                    return entry
            try:
                entry = self._open(ref, target_id, unlock)
            except BaseException:
                with self._lock:  # a failed open leaves no lock behind; the next call tries again
                    self._opening.pop(ref, None)
                raise
            with self._lock:
                entry.users += 1
                self._disks[ref] = entry
                self._opening.pop(ref, None)
                self._start_reaper()
            return entry

    def _open(
        self, ref: str, target_id: str | None, unlock: Callable[[Repository], None] | None
    ) -> _OpenDisk:
        if not self._swept:  # once per process: the FUSE mounts a killed API process left behind
            self._swept = True
            cleanup_stale_mounts()
        started = time.monotonic()
        repo = self._open_target(target_id, self._conf)
        try:
            if unlock is not None:
                unlock(repo)
            reader = DiskReader(repo, ref, cache_mib=self._conf.file_recovery.cache_mib)
        except BaseException:
            repo.backend.close()
            raise
        directory = tempfile.mkdtemp(prefix="t4o-files-")
        export: NbdExport | None = None
        try:
            export = NbdExport(reader, socket_path=os.path.join(directory, "nbd.sock")).start()
            disk = open_disk(export.url)
        except BaseException:
            if export is not None:
                export.stop()
            reader.close()
            shutil.rmtree(directory, ignore_errors=True)
            raise
        LOG.info(
            "opened snapshot disk %s for file recovery in %.2f s (%d volume(s))",
            ref,
            time.monotonic() - started,
            len(disk.volumes),
        )
        return _OpenDisk(ref, repo, reader, export, directory, disk)

    def _start_reaper(self) -> None:
        if self._reaper is None or not self._reaper.is_alive():
            self._stop.clear()
            self._reaper = threading.Thread(target=self._reap_loop, name="file-recovery-reaper", daemon=True)
            self._reaper.start()

    def _reap_loop(self) -> None:
        while not self._stop.wait(min(max(self.idle_timeout / 4, 0.2), 15.0)):
            self.expire()

    def expire(self, now: float | None = None) -> list[str]:
        """Closes the disks unused for the idle timeout; the refs closed."""
        now = time.monotonic() if now is None else now
        with self._lock:
            idle = [
                e for e in self._disks.values() if e.users == 0 and now - e.last_used >= self.idle_timeout
            ]
            for entry in idle:
                del self._disks[entry.ref]
        for entry in idle:
            entry.close()
            LOG.info("closed snapshot disk %s after %.0f s unused", entry.ref, self.idle_timeout)
        return [e.ref for e in idle]

    def open_refs(self) -> list[str]:
        with self._lock:
            return sorted(self._disks)

    def close_all(self) -> None:
        self._stop.set()
        with self._lock:
            entries = list(self._disks.values())
            self._disks.clear()
        for entry in entries:
            entry.close()


BROWSER = FileBrowser()
