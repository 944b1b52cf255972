"""Backing up one disk: read -> hash/compress/encrypt -> put, on a small bounded thread pipeline.

The reading thread (the caller's) reads aligned blocks and hands them to ``workers`` threads that hash
(BLAKE3), compress (zstd) and store them; both libraries release the GIL, so two cores are used. At most
``2 * workers`` blocks are in flight, so memory does not grow with the disk. The manifest is written last,
only after every chunk it names is stored; until then the snapshot does not exist.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from t4o.vault.chunks import ChunkCodec, chunk_key, is_zero
from t4o.vault.errors import InvalidArgument, SourceError
from t4o.vault.manifest import Manifest, block_count, block_len, tree_checksum
from t4o.vault.progress import ProgressCallback, ProgressMeter
from t4o.vault.source import DiskSource, ObjectSource, block_ranges

if TYPE_CHECKING:
    from t4o.vault.backend import Backend

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
    taken at the start, so an id not in it is stored without asking the backend first (one LIST per
    1000 chunks instead of a HEAD per new chunk on S3); otherwise each unknown id is looked up.
    A known chunk that a concurrent gc removes after the listing is caught at commit (commit.py).
    """

    def __init__(self, backend: Backend, codec: ChunkCodec, known: set[str], complete: bool = False):
        self.backend, self.codec = backend, codec
        self.known = known
        self.complete = complete
        self.stats = BackupStats()
        self._lock = threading.Lock()

    def store(self, data: bytes) -> str | None:
        if is_zero(data):
            with self._lock:
                self.stats.zero_blocks += 1
            return None
        cid = self.codec.chunk_id(data)
        if cid in self.known or (not self.complete and self.backend.exists(chunk_key(cid))):
            with self._lock:
                self.stats.dedup_chunks += 1
            self.known.add(cid)
            return cid
        blob = self.codec.encode(cid, data)
        self.backend.put(chunk_key(cid), blob)
        with self._lock:
            self.stats.new_chunks += 1
            self.stats.new_bytes += len(blob)
        self.known.add(cid)
        return cid


def stored_chunk_ids(backend: Backend) -> set[str]:
    return {key.rsplit("/", 1)[-1] for key in backend.list_keys("chunks/")}


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
    slots = threading.BoundedSemaphore(workers * 2)
    failure: list[BaseException] = []

    def work(i: int, data: bytes) -> None:
        try:
            if not failure:
                chunks[i] = writer.store(data)
                meter.add(len(data))
        except BaseException as exc:
            failure.append(exc)
        finally:
            slots.release()

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vault-backup") as pool:
        pending: list[Future[None]] = []
        for i in plan.to_read:
            slots.acquire()
            if failure:
                slots.release()
                break
            off = i * plan.chunk_size
            data = source.read(off, block_len(i, plan.size, plan.chunk_size))
            writer.stats.read_bytes += len(data)
            pending.append(pool.submit(work, i, data))
            if len(pending) > 64:
                pending = [f for f in pending if not f.done()]
    if failure:
        raise failure[0]
    meter.finish()
    return chunks


def backup_disk(
    backend: Backend,
    codec: ChunkCodec,
    source: DiskSource | ObjectSource,
    *,
    snapshot_id: str,
    disk_id: str,
    workload_id: str,
    chunk_size: int,
    parent: Manifest | None,
    changed_extents: list[tuple[int, int]] | None,
    progress: ProgressCallback | None,
    metadata: dict[str, object] | None,
    workers: int = 4,
) -> tuple[Manifest, BackupStats]:
    """Store the disk's blocks; returns the manifest (not yet written) and statistics."""
    start = time.monotonic()
    plan = plan_blocks(source, chunk_size, parent, changed_extents)
    known = {c for c in parent.chunks if c} if parent else set()
    # Reading the whole disk: list the stored chunks once rather than look each new one up. With an
    # extent list only a few blocks are read, and looking those up is cheaper than listing them all.
    complete = changed_extents is None
    if complete:
        known.update(stored_chunk_ids(backend))
    writer = BlockWriter(backend, codec, known, complete)
    chunks = run_pipeline(source, plan, writer, progress, workers)
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
