"""Backing up one disk: the vault's streaming backup from any block source.

``backup_source`` takes a path (file or block device, raw or qcow2) or any object with ``size`` and
``read(offset, length)`` (optionally ``data_extents()``, ``path``, ``format``): an NBD export, a
qemu-nbd reader, a test's memory disk. It holds a backup lease, waits for a running gc sweep, stores
the blocks, and commits (commit.py): chunks first, the manifest last. Until the manifest exists the
disk is not part of the snapshot, so a backup that dies leaves only chunks gc removes.

The blocks go read -> hash/compress/encrypt -> put through a bounded thread pool (parallel.py): the
caller's thread reads aligned blocks in order and ``workers`` threads hash (BLAKE3), compress (zstd)
and store them; both libraries release the GIL, so two cores are used and memory does not grow with
the disk.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from t4o.vault.archive import new_snapshot_id
from t4o.vault.chunks import ChunkCodec, is_zero
from t4o.vault.commit import commit
from t4o.vault.errors import InvalidArgument, SourceError
from t4o.vault.leases import Lease, wait_for_no_gc
from t4o.vault.manifest import Manifest, block_count, block_len, check_id, tree_checksum
from t4o.vault.parallel import for_each
from t4o.vault.progress import ProgressCallback, ProgressMeter
from t4o.vault.source import DiskSource, ObjectSource, block_ranges, open_source
from t4o.vault.store import Store

if TYPE_CHECKING:
    from t4o.vault.repository import Repository

LOG = logging.getLogger(__name__)


@dataclass
class BackupPlan:
    size: int
    chunk_size: int
    chunks: list[str | None]  # pre-filled from the parent for blocks not read
    to_read: list[int]  # block indexes to read, ascending


def plan_blocks(
    source: DiskSource | ObjectSource,
    chunk_size: int,
    parent: Manifest | None,
    changed_extents: list[tuple[int, int]] | None,
) -> BackupPlan:
    size = source.size
    n = block_count(size, chunk_size)
    chunks: list[str | None] = [None] * n
    if changed_extents is not None:
        if parent is None:
            raise InvalidArgument("changed_extents needs a parent snapshot")
        for ext in changed_extents:
            if len(ext) != 2 or ext[0] < 0 or ext[1] < 0:
                raise InvalidArgument(f"bad extent {ext!r}: use (offset, length) with both >= 0")
        wanted = set(block_ranges(changed_extents, size, chunk_size))
        # Blocks that are not whole in both the parent and the disk now (the disk grew or shrank, or
        # an old last block) are read too.
        whole_in_both = min(parent.size, size) // chunk_size
        for i in range(n):
            if i in wanted or i >= whole_in_both:
                continue
            chunks[i] = parent.chunks[i]
        to_read = [i for i in range(n) if i in wanted or i >= whole_in_both]
    else:
        to_read = list(range(n))
    # Blocks wholly inside holes of a sparse file are zero: no need to read them.
    extents = source.data_extents()
    if extents is not None:
        data_blocks = set(block_ranges(extents, size, chunk_size))
        to_read = [i for i in to_read if i in data_blocks]
    return BackupPlan(size, chunk_size, chunks, to_read)


@dataclass
class BackupStats:
    read_bytes: int = 0
    zero_blocks: int = 0
    new_chunks: int = 0
    new_bytes: int = 0  # bytes written to the store
    dedup_chunks: int = 0
    seconds: float = 0.0


class BlockWriter:
    """Hashes, compresses and stores blocks; shared by the worker threads.

    ``known`` holds chunk ids known to be stored. With ``complete`` it is the listing of every chunk
    taken at the start, so an id not in it is stored without asking the store first (one LIST per
    1000 chunks instead of a HEAD per new chunk on S3); otherwise each unknown id is looked up.
    A known chunk that a concurrent gc removes after the listing is caught at commit (commit.py).
    """

    def __init__(self, store: Store, codec: ChunkCodec, known: set[str], complete: bool = False):
        self.store, self.codec = store, codec
        self.known = known
        self.complete = complete
        self.stats = BackupStats()
        self._lock = threading.Lock()

    def store_block(self, data: bytes) -> str | None:
        if is_zero(data):
            with self._lock:
                self.stats.zero_blocks += 1
            return None
        cid = self.codec.chunk_id(data)
        if cid in self.known or (not self.complete and self.store.has_chunk(cid)):
            with self._lock:
                self.stats.dedup_chunks += 1
            self.known.add(cid)
            return cid
        written = self.store.put_chunk(self.codec, cid, data)
        with self._lock:
            self.stats.new_chunks += 1
            self.stats.new_bytes += written
        self.known.add(cid)
        return cid


def run_pipeline(
    source: DiskSource | ObjectSource,
    plan: BackupPlan,
    writer: BlockWriter,
    progress: ProgressCallback | None,
    workers: int = 4,
) -> list[str | None]:
    """Fill ``plan.chunks`` for every block in ``plan.to_read``; raises the first failure."""
    chunks = plan.chunks
    meter = ProgressMeter(
        "backup", sum(block_len(i, plan.size, plan.chunk_size) for i in plan.to_read), progress
    )

    def blocks() -> Iterator[tuple[int, bytes]]:  # read in order, in the caller's thread
        for i in plan.to_read:
            data = source.read(i * plan.chunk_size, block_len(i, plan.size, plan.chunk_size))
            writer.stats.read_bytes += len(data)
            yield i, data

    def work(item: tuple[int, bytes]) -> None:
        i, data = item
        chunks[i] = writer.store_block(data)
        meter.add(len(data))

    for_each(blocks(), work, workers=workers, name="vault-backup")
    meter.finish()
    return chunks


def store_blocks(
    store: Store,
    codec: ChunkCodec,
    source: DiskSource | ObjectSource,
    *,
    snapshot_id: str,
    disk_id: str,
    workload_id: str,
    parent: Manifest | None,
    changed_extents: list[tuple[int, int]] | None,
    progress: ProgressCallback | None,
    metadata: dict[str, object] | None,
) -> tuple[Manifest, BackupStats]:
    """Store the disk's blocks; returns the manifest (not yet written) and statistics."""
    start = time.monotonic()
    chunk_size = store.chunk_size
    plan = plan_blocks(source, chunk_size, parent, changed_extents)
    known = {c for c in parent.chunks if c} if parent else set()
    # Reading the whole disk: list the stored chunks once rather than look each new one up. With an
    # extent list only a few blocks are read, and looking those up is cheaper than listing them all.
    complete = changed_extents is None
    if complete:
        known.update(store.chunk_ids())
    writer = BlockWriter(store, codec, known, complete)
    chunks = run_pipeline(source, plan, writer, progress, store.workers)
    # A disk that shrank after we started is caught by short reads; one that vanished is caught here.
    now_size = source.current_size()
    if now_size < plan.size:
        raise SourceError(f"disk {source.path} shrank during the backup ({plan.size} -> {now_size} bytes)")
    stats = writer.stats
    stats.seconds = time.monotonic() - start
    manifest = Manifest(
        snapshot_id=snapshot_id,
        disk_id=disk_id,
        workload_id=workload_id,
        size=plan.size,
        chunk_size=chunk_size,
        chunks=chunks,
        checksum=tree_checksum(chunks, plan.size, chunk_size, codec.id_key),
        encrypted=codec.enc_key is not None,
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        parent=parent.ref if parent else None,
        source_format=source.format,
        stats={
            "read_bytes": stats.read_bytes,
            "zero_blocks": stats.zero_blocks,
            "new_chunks": stats.new_chunks,
            "new_bytes": stats.new_bytes,
            "dedup_chunks": stats.dedup_chunks,
            "seconds": round(stats.seconds, 3),
            "incremental": changed_extents is not None,
        },
        metadata=dict(metadata or {}),
    )
    LOG.info(
        "backed up disk %s as %s: %d bytes read, %d new chunks (%d bytes), %d deduplicated, %d zero, %.1f s",
        source.path,
        manifest.ref,
        stats.read_bytes,
        stats.new_chunks,
        stats.new_bytes,
        stats.dedup_chunks,
        stats.zero_blocks,
        stats.seconds,
    )
    return manifest, stats


def usable_parent(
    repo: Repository,
    parent: str | None,
    workload_id: str,
    encrypt: bool,
    incremental: bool,
) -> Manifest | None:
    """The parent's manifest when its blocks can stand in for unread ones (same chunk size, same keys)."""
    if not parent:
        return None
    parent_m = repo.get_manifest(parent)
    if parent_m.chunk_size != repo.chunk_size:
        raise InvalidArgument(f"parent {parent} has another chunk size")
    same_keys = parent_m.encrypted == encrypt and (not encrypt or parent_m.workload_id == workload_id)
    if same_keys:
        return parent_m
    if incremental:
        raise InvalidArgument(f"parent {parent} belongs to another encryption domain")
    return None  # still a correct full backup, just without the parent's help


def backup_source(
    repo: Repository,
    source: str | os.PathLike[str] | Any,
    disk_id: str,
    parent: str | None = None,
    changed_extents: Iterable[tuple[int, int]] | None = None,
    progress: ProgressCallback | None = None,
    *,
    snapshot_id: str | None = None,
    workload_id: str = "default",
    fmt: str | None = None,
    encrypt: bool | None = None,
    metadata: dict[str, Any] | None = None,
    tmpdir: str | None = None,
) -> Manifest:
    """Back up one disk from ``source``; returns its manifest (``.ref`` names it for restore and as a
    parent; ``.stats`` says what was read and stored).

    ``parent`` is a disk reference (``<snapshot_id>/<disk_id>``) of an earlier backup of this disk.
    With ``changed_extents`` only those byte ranges are read and the other blocks are taken from the
    parent; without, the whole disk is read and only chunks not yet stored are written.
    Encryption defaults to on in a password-protected repository.
    """
    check_id("disk id", disk_id)
    check_id("workload id", workload_id)
    snapshot_id = check_id("snapshot id", snapshot_id) if snapshot_id else new_snapshot_id()
    if encrypt is None:
        encrypt = repo.password_protected
    if encrypt and not repo.password_protected:
        raise InvalidArgument("encryption needs a password-protected repository (init with a password)")
    if repo.archive.has_manifest(snapshot_id, disk_id):
        raise InvalidArgument(f"snapshot {snapshot_id} already has a disk {disk_id}")
    parent_m = usable_parent(repo, parent, workload_id, encrypt, changed_extents is not None)
    extents = None if changed_extents is None else [(int(o), int(n)) for o, n in changed_extents]
    codec = repo.codec(workload_id, encrypt)
    lease = Lease(repo.backend, "backup", stale_after=repo.stale_after, snapshot=snapshot_id, disk=disk_id)
    lease.acquire()
    try:
        wait_for_no_gc(repo.backend, repo.stale_after)
        with open_source(source, fmt, tmpdir) as src:
            manifest, _stats = store_blocks(
                repo,
                codec,
                src,
                snapshot_id=snapshot_id,
                disk_id=disk_id,
                workload_id=workload_id,
                parent=parent_m,
                changed_extents=extents,
                progress=progress,
                metadata=repo.archive.seal_metadata(snapshot_id, disk_id, dict(metadata or {})),
            )
            repo.archive.ensure_snapshot_doc(snapshot_id, workload_id, manifest.created)
            commit(repo, repo.archive, codec, src, manifest, lease)
        manifest.metadata = dict(metadata or {})
    finally:
        lease.release()
    return manifest
