"""Point-in-time views of a libvirt domain's disks: checkpoint + pull-mode backup, read over NBD.

One ``DomainBackup`` per snapshot of a domain:

1. the guest is frozen if its agent answers (see consistency.py), between its pre-freeze and post-thaw
   hooks when there are (guest_hooks.py);
2. ``virDomainBackupBegin`` starts a pull-mode backup and creates the new checkpoint in the same instant:
   libvirt exports every selected disk, frozen at that instant, on an NBD unix socket; for an incremental
   it also exports the dirty bitmap since the parent checkpoint (``qemu:dirty-bitmap:backup-<dev>``).
   Raw disks (attached volumes) cannot be part of a checkpoint: QEMU tracks them in non-persistent
   bitmaps started just before (volume_bitmaps.py), whose changes since the parent are read likewise;
3. each disk is a ``LibvirtDiskSource`` (``size``, ``read``, ``changed_extents``) the vault reads from;
4. ``commit()`` once the vault holds the data: checkpoints older than the new one are deleted, so the
   newest is the only one kept, ready for the next incremental;
5. ``close()`` ends the backup job; without a commit the new checkpoint is deleted again (libvirt merges
   its bitmap back into the parent), so a failed snapshot does not break the chain.

A shut-off domain is started paused (no guest code runs) for the time of the backup, with
``VIR_DOMAIN_START_AUTODESTROY`` so that it is destroyed even if this process dies.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

import libvirt
from oslo_log import log as logging

from t4o.common.processes import pid_alive
from t4o.datamover.disks import libvirt_conn
from t4o.datamover.disks.consistency import DEFAULT_AGENT_TIMEOUT, Consistency, GuestFreeze
from t4o.datamover.disks.domain_xml import backup_xml, checkpoint_xml, parse_disks
from t4o.datamover.disks.errors import BrokenChainError, DiskError
from t4o.datamover.disks.guest_hooks import SKIPPED, HookResult, HookSpec, not_run
from t4o.datamover.disks.nbd import STATE_DIRTY, STATE_ZERO, NbdClient
from t4o.datamover.disks.protocol import Extent
from t4o.datamover.disks.read_ahead import ReadAhead, blocks_over
from t4o.datamover.disks.volume_bitmaps import VolumeBitmaps

LOG = logging.getLogger(__name__)

ALLOCATION = "base:allocation"
#: our backup jobs' socket and scratch directories start with this, so an abandoned job is recognised
WORKDIR_PREFIX = "t4o-backup-"
#: in a backup's directory: the pid of the agent process that runs it (a live owner's job is never ended)
OWNER_FILE = "owner.pid"


@dataclass(frozen=True)
class DomainDisk:
    target: str
    source: str
    kind: str
    format: str
    #: virtual size in bytes
    size: int


def list_disks(dom: libvirt.virDomain) -> list[DomainDisk]:
    """Disks of a running or shut-off domain, with their virtual size."""
    out = []
    for spec in parse_disks(dom.XMLDesc(0)):
        capacity = dom.blockInfo(spec.target, 0)[0]
        out.append(DomainDisk(spec.target, spec.source, spec.kind, spec.format, int(capacity)))
    return out


def checkpoint_names(dom: libvirt.virDomain) -> list[str]:
    return [cp.getName() for cp in dom.listAllCheckpoints(0)]


def backup_workdir(job_xml: str) -> str | None:
    """The directory of a T4O backup job (its NBD socket's), from the job's XML; None for another's job."""
    match = re.search(r"socket='([^']+)'", job_xml)
    if match is None:
        return None
    workdir = os.path.dirname(match.group(1))
    return workdir if os.path.basename(workdir).startswith(WORKDIR_PREFIX) else None


def owner_alive(workdir: str) -> bool:
    """Whether the agent process that made a backup directory still runs. This process is no owner: the
    caller asks about what an earlier process with the same pid may have left."""
    try:
        with open(os.path.join(workdir, OWNER_FILE)) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return False
    return pid != os.getpid() and pid_alive(pid)


def abort_backup_job(dom: libvirt.virDomain, timeout: float = 30) -> None:
    """End the domain's backup job and wait until libvirt has finished with it (the end is asynchronous: a
    backup begun right after could otherwise find the domain still busy)."""
    try:
        dom.abortJob()
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_OPERATION_INVALID:  # "no job is active"
            raise
    deadline = time.monotonic() + timeout
    while dom.jobInfo()[0] != libvirt.VIR_DOMAIN_JOB_NONE:
        if time.monotonic() > deadline:
            raise DiskError(f"domain {dom.name()}: the backup job did not end within {timeout}s")
        time.sleep(0.05)


class LibvirtDiskSource:
    """One disk of a running backup: the frozen view, read through libvirt's NBD export."""

    def __init__(
        self,
        domain: str,
        disk: DomainDisk,
        client: NbdClient,
        bitmap_context: str | None,
        connect_reader: Callable[[], NbdClient] | None = None,
        changed: list[Extent] | None = None,
        note: str = "",
    ) -> None:
        self.disk = disk
        self.target = disk.target
        #: for messages and the vault's manifest
        self.path = f"{domain}:{disk.target}"
        self.format = disk.format
        self._client = client
        self._bitmap_context = bitmap_context
        self._lock = threading.Lock()
        #: changes known beforehand (a raw disk's QEMU bitmap, see volume_bitmaps.py)
        self._extents: list[Extent] | None = None if changed is None else list(changed)
        self._known_changes = changed is not None
        #: why an incremental reads this disk where allocated (the changes since the parent are unknown)
        self.note = note
        self._allocated: list[Extent] | None = None
        self._ahead = (
            ReadAhead(client.size, connect_reader, self._blocks_to_read, self._read_direct)
            if connect_reader is not None
            else None
        )

    @property
    def size(self) -> int:
        return self._client.size

    @property
    def incremental(self) -> bool:
        """True when ``changed_extents`` are the changes since the parent checkpoint."""
        return self._bitmap_context is not None or self._known_changes

    def read(self, offset: int, length: int) -> bytes:
        if self._ahead is not None:
            return self._ahead.read(offset, length)
        return self._read_direct(offset, length)

    def _read_direct(self, offset: int, length: int) -> bytes:
        with self._lock:
            return self._client.read(offset, length)

    def _blocks_to_read(self, block: int) -> list[int]:
        """The blocks a backup reads, in order: those over the data extents, and for an incremental
        only those also over the changed extents."""
        blocks = blocks_over(self.data_extents(), self.size, block)
        if self.incremental:
            blocks &= blocks_over(self.changed_extents(), self.size, block)
        return sorted(blocks)

    def changed_extents(self) -> list[Extent]:
        """Incremental: ranges dirty since the parent checkpoint (bitmap granularity, 64 KiB by default).
        Full: ranges that are not known to read as zero."""
        if not self.incremental:
            return self.data_extents()
        if self._extents is None and self._bitmap_context:
            with self._lock:
                self._extents = self._client.extents(self._bitmap_context, STATE_DIRTY, STATE_DIRTY)
        assert self._extents is not None  # given (raw disk) or read above
        return list(self._extents)

    def data_extents(self) -> list[Extent]:
        """Ranges that may hold non-zero data (``base:allocation`` without the ZERO flag)."""
        if self._allocated is None:
            with self._lock:
                self._allocated = self._client.extents(ALLOCATION, STATE_ZERO, 0)
        return list(self._allocated)

    def close(self) -> None:
        if self._ahead is not None:
            self._ahead.close()
        with self._lock:
            self._client.close()


class DomainBackup:
    """A consistent point of a domain's disks, named after the snapshot (the checkpoint name)."""

    def __init__(
        self,
        conn: libvirt.virConnect,
        domain: str,
        checkpoint: str,
        parent: str | None = None,
        targets: list[str] | None = None,
        quiesce: bool = True,
        agent_timeout: int = DEFAULT_AGENT_TIMEOUT,
        scratch_dir: str | None = None,
        hooks: HookSpec | None = None,
    ) -> None:
        self._conn = conn
        self._dom = libvirt_conn.lookup_domain(conn, domain)
        self.domain = self._dom.name()
        self.checkpoint = checkpoint
        self.parent = parent
        self._targets = targets
        self._quiesce = quiesce
        self._agent_timeout = agent_timeout
        self._hooks = hooks
        #: what the guest hooks did (see guest_hooks.py)
        self.hook_results: list[HookResult] = []
        self._scratch_parent = scratch_dir
        self._workdir = ""
        self._started_paused = False
        self._job_running = False
        self._checkpoint_created = False
        self._committed = False
        self.consistency = Consistency.CRASH
        self.consistency_reason = ""
        self.disks: list[LibvirtDiskSource] = []
        self._volume_bitmaps: VolumeBitmaps | None = None
        self._raw_notes: dict[str, str] = {}

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> DomainBackup:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self) -> None:
        if self.checkpoint in checkpoint_names(self._dom):
            raise DiskError(f"domain {self.domain}: checkpoint {self.checkpoint} exists already")
        if self.parent is not None:
            self.check_chain()
        self._end_abandoned_backup()
        if not self._dom.isActive():
            # No guest code runs while paused; autodestroy ends it with our connection, whatever happens.
            flags = libvirt.VIR_DOMAIN_START_PAUSED | libvirt.VIR_DOMAIN_START_AUTODESTROY
            self._dom.createWithFlags(flags)
            self._started_paused = True
            self.consistency_reason = "the domain was shut off (started paused for the backup)"
            LOG.info("domain %s was shut off: started paused for the backup", self.domain)

        specs = parse_disks(self._dom.XMLDesc(0))
        selected = {s.target for s in specs} if self._targets is None else set(self._targets)
        unknown = selected - {s.target for s in specs}
        if unknown:
            raise DiskError(f"domain {self.domain} has no disk {', '.join(sorted(unknown))}")

        # Raw disks (attached volumes) have no checkpoint bitmap: QEMU tracks them in memory instead. A
        # domain started paused just now has no bitmap from before, and loses the new one when it stops.
        raw = [s.target for s in specs if s.target in selected and not s.supports_bitmaps]
        if raw and not self._started_paused:
            self._volume_bitmaps = VolumeBitmaps(self._dom, self.checkpoint, self.parent)
            self._volume_bitmaps.prepare(sorted(raw))
        elif raw and self.parent is not None:
            self._raw_notes = {
                t: f"{t}: the domain was shut off (raw disks' bitmaps live in QEMU): read where allocated"
                for t in raw
            }

        self._workdir = self._make_workdir()
        sock = os.path.join(self._workdir, "nbd.sock")
        bxml = backup_xml(sock, specs, selected, self._workdir, self.parent)
        cxml = checkpoint_xml(self.checkpoint, specs, selected)
        # A paused guest cannot answer its agent: no freeze and no hooks then (its disks are idle anyway).
        quiesce = self._quiesce and not self._started_paused
        freeze = None
        if self._started_paused and self._hooks:
            self.hook_results = [
                not_run(phase, hook, SKIPPED, "the domain was shut off")
                for phase, hook in self._hooks.hooks()
            ]
        elif quiesce or self._hooks:
            freeze = GuestFreeze(self._dom, self._agent_timeout, self._hooks, freeze=quiesce)
        try:
            if freeze:
                freeze.__enter__()
            self._dom.backupBegin(bxml, cxml, 0)
        except libvirt.libvirtError as exc:
            code = exc.get_error_code()
            if code in (libvirt.VIR_ERR_CHECKPOINT_INCONSISTENT, libvirt.VIR_ERR_NO_DOMAIN_CHECKPOINT):
                raise BrokenChainError(f"domain {self.domain}: {exc.get_error_message()}") from exc
            raise DiskError(
                f"domain {self.domain}: backup could not start: {exc.get_error_message()}"
            ) from exc
        finally:
            if freeze:
                freeze.__exit__(None, None, None)
                self.consistency, self.consistency_reason = freeze.consistency, freeze.reason
                self.hook_results = freeze.hook_results
            elif not self._started_paused:
                self.consistency_reason = "quiesce not requested"
        self._job_running = True
        self._checkpoint_created = True
        LOG.info(
            "domain %s: checkpoint %s taken (%s, %s)",
            self.domain,
            self.checkpoint,
            f"incremental from {self.parent}" if self.parent else "full",
            self.consistency,
        )

        by_target = {d.target: d for d in list_disks(self._dom)}
        specs_by_target = {s.target: s for s in specs}
        for target in sorted(selected):
            incremental = self.parent is not None and specs_by_target[target].supports_bitmaps
            context = f"qemu:dirty-bitmap:backup-{target}" if incremental else None
            changed, note = None, self._raw_notes.get(target, "")
            if self._volume_bitmaps is not None and target in self._volume_bitmaps.disks:
                changed = self._volume_bitmaps.changed_extents(target, sock)
                note = self._volume_bitmaps.disks[target].note
            contexts = (ALLOCATION, context) if context else (ALLOCATION,)
            client = NbdClient.connect_unix(sock, target, contexts)
            reader = functools.partial(NbdClient.connect_unix, sock, target)
            self.disks.append(
                LibvirtDiskSource(self.domain, by_target[target], client, context, reader, changed, note)
            )

    def check_chain(self) -> None:
        """Raise BrokenChainError unless the parent checkpoint exists (its bitmaps are checked by libvirt
        when the backup begins)."""
        if self.parent is None:
            return
        names = checkpoint_names(self._dom)
        if self.parent not in names:
            raise BrokenChainError(
                f"domain {self.domain}: checkpoint {self.parent} is missing "
                f"(present: {', '.join(names) or 'none'})"
            )

    def _end_abandoned_backup(self) -> None:
        """A backup job of ours whose process died (its socket is in a ``t4o-backup-`` directory) keeps
        the domain busy: end it. Its checkpoint is harmless: a leaf the next backup builds on, deleted
        with the other ancestors at the next commit."""
        if not self._dom.isActive():
            return
        try:
            xml = self._dom.backupGetXMLDesc(0)
        except libvirt.libvirtError:
            return  # no backup job running
        if f"/{WORKDIR_PREFIX}" not in xml:
            raise DiskError(f"domain {self.domain}: another backup job is running (not started by T4O)")
        self._abort_job()
        LOG.warning("domain %s: ended a backup job left by a process that died", self.domain)
        workdir = backup_workdir(xml)
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)

    def _abort_job(self, timeout: float = 30) -> None:
        abort_backup_job(self._dom, timeout)

    def disk(self, target: str) -> LibvirtDiskSource:
        for d in self.disks:
            if d.target == target:
                return d
        raise DiskError(f"domain {self.domain}: disk {target} is not part of this backup")

    def commit(self) -> list[str]:
        """The snapshot is safely stored: the new checkpoint is the only one the next incremental needs, so
        its ancestors are deleted (checkpoints outside that chain are not ours and stay). Returns the names
        deleted."""
        deleted = []
        current = self._dom.checkpointLookupByName(self.checkpoint, 0)
        while True:
            try:
                parent = current.getParent(0)
            except libvirt.libvirtError as exc:
                if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN_CHECKPOINT:
                    break
                raise
            # Deleting a checkpoint re-parents its children; the new one's next ancestor comes up next.
            name = parent.getName()
            parent.delete(0)
            deleted.append(name)
        if self._volume_bitmaps is not None:
            self._volume_bitmaps.commit()
        self._committed = True
        if deleted:
            LOG.info("domain %s: older checkpoints deleted: %s", self.domain, ", ".join(deleted))
        return deleted

    def close(self) -> None:
        for d in self.disks:
            d.close()
        self.disks = []
        if self._job_running:
            try:
                self._abort_job()
            except (libvirt.libvirtError, DiskError) as exc:
                LOG.warning("domain %s: ending the backup job: %s", self.domain, exc)
            self._job_running = False
        if self._checkpoint_created and not self._committed:
            try:
                self._dom.checkpointLookupByName(self.checkpoint, 0).delete(0)
                LOG.info(
                    "domain %s: checkpoint %s dropped (backup not committed)", self.domain, self.checkpoint
                )
            except libvirt.libvirtError as exc:
                LOG.warning("domain %s: dropping checkpoint %s: %s", self.domain, self.checkpoint, exc)
            self._checkpoint_created = False
        if self._volume_bitmaps is not None:
            self._volume_bitmaps.close()  # without a commit, the new bitmaps go: the parent's stay
            self._volume_bitmaps = None
        if self._started_paused:
            try:
                self._dom.destroy()
            except libvirt.libvirtError as exc:
                LOG.warning("domain %s: stopping the paused domain: %s", self.domain, exc.get_error_message())
            self._started_paused = False
        if self._workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = ""

    def _make_workdir(self) -> str:
        # QEMU (not root) creates the NBD socket: the directory is handed to its user.
        path = tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{self.domain}-", dir=self._scratch_parent)
        with open(os.path.join(path, OWNER_FILE), "w") as f:
            f.write(str(os.getpid()))
        owner = libvirt_conn.qemu_process_owner(self._dom)
        if owner and os.geteuid() == 0:
            os.chown(path, *owner)
        return path

    def __enter__(self) -> DomainBackup:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
