"""Writing a disk back on restore: into a new raw/qcow2 file, or in place into an existing disk.

Every write goes through a read-write qemu-nbd on the target (one code path for raw and qcow2; qemu keeps
the qcow2 metadata, and its persistent dirty bitmaps, correct). Zero ranges are left as holes: skipped
on a new file, punched (NBD WRITE_ZEROES with discard) on an existing one.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

import libvirt
from oslo_log import log as logging

from t4o.datamover.disks import libvirt_conn, qemu_img
from t4o.datamover.disks.domain_xml import parse_disks
from t4o.datamover.disks.errors import DiskError, DomainStateError
from t4o.datamover.disks.nbd import STATE_ZERO
from t4o.datamover.disks.protocol import DiskSource, Extent
from t4o.datamover.disks.qemu_nbd import QemuNbdServer

LOG = logging.getLogger(__name__)

ALLOCATION = "base:allocation"
_ZEROS = bytes(4 * 1024 * 1024)
COPY_BLOCK = 4 * 1024 * 1024


def is_zero(data: bytes | memoryview) -> bool:
    view = memoryview(data)
    for at in range(0, len(view), len(_ZEROS)):
        part = view[at : at + len(_ZEROS)]
        if part != _ZEROS[: len(part)]:
            return False
    return True


class NbdDiskWriter:
    """Writes into ``path`` through qemu-nbd. ``fresh``: the file was just created and reads as zeros."""

    def __init__(self, path: str, fmt: str, fresh: bool) -> None:
        self.path = path
        self.format = fmt
        self.fresh = fresh
        self.bytes_written = 0
        self.bytes_zeroed = 0
        # One NBD connection, one request at a time: restores may write from several threads.
        self._lock = threading.Lock()
        self._server: QemuNbdServer | None = QemuNbdServer(path, fmt, read_only=False).start()
        try:
            self._client = self._server.client(() if fresh else (ALLOCATION,))
        except BaseException:
            self._server.stop()
            self._server = None
            raise

    @property
    def size(self) -> int:
        return self._client.size

    def write(self, offset: int, data: bytes) -> None:
        self._check_range(offset, len(data))
        if is_zero(data):
            self.write_zeroes(offset, len(data))
            return
        with self._lock:
            self._client.write(offset, data)
            self.bytes_written += len(data)

    def write_zeroes(self, offset: int, length: int) -> None:
        self._check_range(offset, length)
        if self.fresh or length == 0:
            return
        with self._lock:
            self._client.write_zeroes(offset, length)
            self.bytes_zeroed += length

    def data_extents(self) -> list[Extent]:
        """Ranges of the target that may hold non-zero data now (none for a fresh file)."""
        if self.fresh:
            return []
        with self._lock:
            return self._client.extents(ALLOCATION, STATE_ZERO, 0)

    def flush(self) -> None:
        with self._lock:
            self._client.flush()

    def close(self) -> None:
        if self._server is None:
            return
        try:
            self.flush()
        finally:
            self._client.close()
            self._server.stop()
            self._server = None

    def _check_range(self, offset: int, length: int) -> None:
        if offset < 0 or offset + length > self.size:
            raise DiskError(
                f"{self.path}: write of {length} bytes at {offset} is beyond the disk size {self.size}"
            )

    def __enter__(self) -> NbdDiskWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def create_file_writer(path: str, fmt: str, size: int) -> NbdDiskWriter:
    """A new sparse raw or qcow2 file of ``size`` bytes (a new instance disk or volume file)."""
    if os.path.exists(path):
        raise DiskError(f"restore target {path} exists already; refusing to overwrite it")
    qemu_img.create(path, fmt, size)
    try:
        return NbdDiskWriter(path, fmt, fresh=True)
    except BaseException:
        os.unlink(path)
        raise


def open_file_writer(path: str, size: int, fmt: str | None = None) -> NbdDiskWriter:
    """An existing file overwritten in place; its virtual size must be ``size``."""
    if not os.path.exists(path):
        raise DiskError(f"restore target {path} does not exist")
    info = qemu_img.info(path, fmt)
    if info.virtual_size != size:
        raise DiskError(f"{path}: virtual size is {info.virtual_size} bytes, the backup's disk has {size}")
    return NbdDiskWriter(path, info.format, fresh=False)


def open_domain_disk_writer(conn: libvirt.virConnect, domain: str, target: str, size: int) -> NbdDiskWriter:
    """In-place restore into a domain's existing disk. The domain must be shut off (qemu-nbd then holds
    the image lock, so the domain cannot be started until the writer is closed)."""
    dom = libvirt_conn.lookup_domain(conn, domain)
    if dom.isActive():
        raise DomainStateError(f"domain {dom.name()} is running: shut it off before an in-place restore")
    for spec in parse_disks(dom.XMLDesc(0)):
        if spec.target == target:
            if spec.kind not in ("file", "block") or not spec.source:
                raise DiskError(
                    f"domain {dom.name()}: disk {target} ({spec.kind}) has no local file to write"
                )
            LOG.info("in-place restore into domain %s disk %s (%s)", dom.name(), target, spec.source)
            return open_file_writer(spec.source, size, spec.format)
    raise DiskError(f"domain {dom.name()} has no disk {target}")


@dataclass
class CopyStats:
    bytes_read: int = 0
    bytes_written: int = 0


def copy_disk(
    source: DiskSource,
    writer: NbdDiskWriter,
    extents: list[Extent] | None = None,
    block: int = COPY_BLOCK,
    progress: Callable[[int, int], None] | None = None,
) -> CopyStats:
    """Copy ``extents`` (default: everything) of ``source`` into ``writer``; ``progress(done, total)``.
    An in-place target gets its data outside the extents zeroed, so it ends equal to the source; ranges
    that read as zero already are not touched (fewer writes, and a smaller next incremental)."""
    if source.size != writer.size:
        raise DiskError(f"source is {source.size} bytes but the target {writer.path} is {writer.size}")
    ranges = extents if extents is not None else [(0, source.size)]
    total = sum(length for _, length in ranges)
    stats = CopyStats()
    old_data = writer.data_extents()

    def clear(start: int, end: int) -> None:
        for off, length in old_data:
            lo, hi = max(start, off), min(end, off + length)
            if lo < hi:
                writer.write_zeroes(lo, hi - lo)

    cursor = 0
    for offset, length in ranges:
        if offset > cursor:
            clear(cursor, offset)
        end = offset + length
        while offset < end:
            span = min(block, end - offset)
            data = source.read(offset, span)
            writer.write(offset, data)
            stats.bytes_read += span
            offset += span
            if progress:
                progress(stats.bytes_read, total)
        cursor = end
    if cursor < writer.size:
        clear(cursor, writer.size)
    writer.flush()
    stats.bytes_written = writer.bytes_written
    return stats
