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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from t4o.vault.archive import new_snapshot_id
from t4o.vault.chunks import ChunkCodec, is_zero
from t4o.vault.commit import commit
from t4o.vault.errors import InvalidArgument, SourceError
from t4o.vault.leases import Lease, wait_for_no_gc
from t4o.vault.manifest import (
    Entry,
    Manifest,
    Patched,
    block_count,
    block_len,
    check_id,
    digest_of,
    tree_checksum,
)
from t4o.vault.parallel import for_each
from t4o.vault.progress import ProgressCallback, ProgressMeter
from t4o.vault.source import DiskSource, ObjectSource, block_ranges, open_source
from t4o.vault.store import BlobSession, Store

if TYPE_CHECKING:
    from t4o.vault.repository import Repository

LOG = logging.getLogger(__name__)


@dataclass
class BackupPlan:
    size: int
    chunk_size: int
    chunks: list[Entry]  # pre-filled from the parent for blocks not read
    to_read: list[int]  # block indexes to read, ascending
    # Blocks that may be stored as patches of the parent's: block -> the pieces the extents touch.
    dirty_pieces: dict[int, set[int]] = field(default_factory=dict)
    parent_entries: list[Entry] = field(default_factory=list)


def pieces_touched(
    extents: list[tuple[int, int]], chunk_size: int, piece_size: int, whole_blocks: int
) -> dict[int, set[int]]:
    """For each whole block the extents touch, the indexes of its pieces they touch."""
    per_block = chunk_size // piece_size
    out: dict[int, set[int]] = {}
    for offset, length in extents:
        if length <= 0:
            continue
        for p in range(offset // piece_size, (offset + length - 1) // piece_size + 1):
            block = p // per_block
            if block < whole_blocks:
                out.setdefault(block, set()).add(p % per_block)
    return out


def plan_blocks(
    source: DiskSource | ObjectSource,
    chunk_size: int,
    parent: Manifest | None,
    changed_extents: list[tuple[int, int]] | None,
    piece_size: int = 0,
) -> BackupPlan:
    size = source.size
    n = block_count(size, chunk_size)
    chunks: list[Entry] = [None] * n
    dirty: dict[int, set[int]] = {}
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
        if piece_size and chunk_size % piece_size == 0 and piece_size < chunk_size:
            dirty = pieces_touched(changed_extents, chunk_size, piece_size, whole_in_both)
    else:
        to_read = list(range(n))
    # Blocks wholly inside holes of a sparse file are zero: no need to read them.
    extents = source.data_extents()
    if extents is not None:
        data_blocks = set(block_ranges(extents, size, chunk_size))
        to_read = [i for i in to_read if i in data_blocks]
    parent_entries = list(parent.chunks) if parent is not None and dirty else []
    return BackupPlan(size, chunk_size, chunks, to_read, dirty, parent_entries)


@dataclass
class BackupStats:
    read_bytes: int = 0
    zero_blocks: int = 0
    new_chunks: int = 0  # blobs written: whole blocks and pieces
    new_bytes: int = 0  # bytes written to the store
    dedup_chunks: int = 0
    patched_blocks: int = 0  # blocks stored as the parent's with some pieces replaced
    new_pieces: int = 0
    seconds: float = 0.0


class BlockWriter:
    """Hashes, compresses and stores blocks; shared by the worker threads.

    ``known`` holds blob ids known to be stored (the parent's, and those this backup wrote); the
    repository's index answers for the rest without a request. A known blob that a concurrent gc
    removes after the index was read is caught at commit (commit.py).

    A block the extents say changed only in some pieces is stored as a patch of the parent's entry
    (manifest.Patched) while at most ``max_pieces`` of its pieces differ from the parent's base: an
    incremental after scattered small writes stores 64 KiB pieces, not 1 MiB blocks. Beyond that the
    whole block is stored again, which bounds what a read of the block costs.
    """

    def __init__(
        self, store: Store, codec: ChunkCodec, session: BlobSession, known: set[str], listed: bool = False
    ):
        self.store, self.codec, self.session = store, codec, session
        self.known = known
        # ``listed``: ``known`` already holds every old-format chunk object, so the index alone answers.
        self.listed = listed
        self.piece_size = store.piece_size
        self.max_pieces = store.chunk_size // max(1, store.piece_size) // 2
        self.stats = BackupStats()
        self.lock = self._lock = threading.Lock()

    def _store(self, cid: str, data: bytes | bytearray | memoryview) -> bool:
        """Store a blob unless it is known; True when it was new."""
        with self._lock:
            if cid in self.known:
                self.stats.dedup_chunks += 1
                return False
            self.known.add(cid)  # claimed: another thread with the same block dedups against it
        if cid in self.store.index if self.listed else self.store.has_blob(cid):
            with self._lock:
                self.stats.dedup_chunks += 1
            return False
        written = self.session.put(self.codec, cid, data)
        with self._lock:
            self.stats.new_chunks += 1
            self.stats.new_bytes += written
        return True

    def store_block(
        self, data: bytes | bytearray | memoryview, parent: Entry = None, dirty: set[int] | None = None
    ) -> Entry:
        if is_zero(data):
            with self._lock:
                self.stats.zero_blocks += 1
            return None
        cid = self.codec.chunk_id(data)
        if dirty is not None:
            if cid == digest_of(parent):  # rewritten with the same bytes
                with self._lock:
                    self.stats.dedup_chunks += 1
                return parent
            patched = self._patch(data, cid, parent, dirty)
            if patched is not None:
                return patched
        self._store(cid, data)
        return cid

    def _patch(
        self, data: bytes | bytearray | memoryview, digest: str, parent: Entry, dirty: set[int]
    ) -> Patched | None:
        if isinstance(parent, Patched):
            base, pieces = parent.base, dict(parent.pieces)
        else:
            base, pieces = parent, {}
        ps = self.piece_size
        view = memoryview(data)
        new: dict[int, memoryview] = {}
        for j in dirty:
            piece = view[j * ps : (j + 1) * ps]
            if is_zero(piece):
                pieces[j] = None
            else:
                pieces[j] = self.codec.chunk_id(piece)
                new[j] = piece
            if base is None and pieces[j] is None:
                del pieces[j]  # zeros over zeros: nothing to record
        if len(pieces) > self.max_pieces:
            return None
        for j, piece in new.items():
            pid = pieces[j]
            assert pid is not None
            if self._store(pid, piece):
                with self._lock:
                    self.stats.new_pieces += 1
        with self._lock:
            self.stats.patched_blocks += 1
        return Patched(digest, base, tuple(sorted(pieces.items())))


def run_pipeline(
    source: DiskSource | ObjectSource,
    plan: BackupPlan,
    writer: BlockWriter,
    progress: ProgressCallback | None,
    workers: int = 4,
) -> list[Entry]:
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

    def work(item: tuple[int, bytes | bytearray | memoryview]) -> None:
        i, data = item
        dirty = plan.dirty_pieces.get(i)
        if dirty is None:
            chunks[i] = writer.store_block(data)
        else:
            chunks[i] = writer.store_block(data, plan.parent_entries[i], dirty)
        meter.add(len(data))

    if isinstance(source, DiskSource):
        # pread is thread-safe: each worker reads its own blocks into a buffer of its own, reused for
        # every block (nothing keeps a block once it is stored). No block is handed from thread to
        # thread, no 1 MiB object is allocated and faulted in per block, and reading overlaps hashing
        # and compressing on both cores. Workers take the blocks in order, so reads stay sequential.
        buffers = threading.local()

        def read_and_store(i: int) -> None:
            buf: bytearray | None = getattr(buffers, "buf", None)
            if buf is None:
                buf = buffers.buf = bytearray(plan.chunk_size)
            n = block_len(i, plan.size, plan.chunk_size)
            data = buf if n == len(buf) else memoryview(buf)[:n]
            source.read_into(i * plan.chunk_size, data)
            with writer.lock:
                writer.stats.read_bytes += n
            work((i, data))

        for_each(plan.to_read, read_and_store, workers=workers, name="vault-backup")
    else:  # a caller's source object may not be safe to read from several threads
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
    plan = plan_blocks(source, chunk_size, parent, changed_extents, store.piece_size)
    known = parent.blob_ids() if parent else set()
    if changed_extents is None:
        # Chunk objects of format version 1 are not in the index: a backup that reads the whole disk
        # lists them once rather than look each new block up.
        known.update(store.legacy_chunk_ids())
    session = store.blob_session()
    writer = BlockWriter(store, codec, session, known, listed=changed_extents is None)
    try:
        chunks = run_pipeline(source, plan, writer, progress, store.workers)
    except BaseException:
        session.abort()
        raise
    # The blobs are part of the repository once the index names their packs; the manifest comes last.
    session.finish()
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
        piece_size=store.piece_size if stats.patched_blocks else 0,
        encrypted=codec.enc_key is not None,
        keys=codec.keys,
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        parent=parent.ref if parent else None,
        source_format=source.format,
        stats={
            "read_bytes": stats.read_bytes,
            "zero_blocks": stats.zero_blocks,
            "new_chunks": stats.new_chunks,
            "new_bytes": stats.new_bytes,
            "dedup_chunks": stats.dedup_chunks,
            "patched_blocks": stats.patched_blocks,
            "new_pieces": stats.new_pieces,
            "packs": session.packs_written,
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
    codec: ChunkCodec,
    incremental: bool,
) -> Manifest | None:
    """The parent's manifest when its blocks can stand in for unread ones (same chunk size, same keys)."""
    if not parent:
        return None
    parent_m = repo.get_manifest(parent)
    if parent_m.chunk_size != repo.chunk_size:
        raise InvalidArgument(f"parent {parent} has another chunk size")
    encrypt = codec.enc_key is not None
    same_keys = parent_m.encrypted == encrypt and (
        not encrypt or (parent_m.workload_id == workload_id and parent_m.keys == codec.keys)
    )
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
    Encryption defaults to on in a password-protected repository and for a workload with a key of its
    own (which must be unlocked first: ``Repository.unlock_workload``).
    """
    check_id("disk id", disk_id)
    check_id("workload id", workload_id)
    snapshot_id = check_id("snapshot id", snapshot_id) if snapshot_id else new_snapshot_id()
    # A workload with a key of its own is never written in clear, nor with the repository's keys.
    repo.guard_workload(workload_id)
    own_key = repo.workload_unlocked(workload_id)
    if encrypt is None:
        encrypt = repo.password_protected or own_key
    if own_key and not encrypt:
        raise InvalidArgument(f"workload {workload_id} has a key of its own: its disks are always encrypted")
    if encrypt and not (repo.password_protected or own_key):
        raise InvalidArgument(
            "encryption needs the workload's own key (create or unlock it with its secret) or a "
            "password-protected repository (init with a password)"
        )
    if repo.archive.has_manifest(snapshot_id, disk_id):
        raise InvalidArgument(f"snapshot {snapshot_id} already has a disk {disk_id}")
    codec = repo.codec(workload_id, encrypt)
    parent_m = usable_parent(repo, parent, workload_id, codec, changed_extents is not None)
    extents = None if changed_extents is None else [(int(o), int(n)) for o, n in changed_extents]
    repo.upgrade()
    lease = Lease(repo.backend, "backup", stale_after=repo.stale_after, snapshot=snapshot_id, disk=disk_id)
    lease.acquire()
    try:
        wait_for_no_gc(repo.backend, repo.stale_after)
        # The index as it is now, after any sweep that ended before this backup: one loaded earlier (a
        # long-lived agent's) may name blobs a gc has removed since, and a sweep that is over does not
        # show in the commit's overlap check.
        repo.reload_index()
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
                metadata=repo.archive.seal_metadata(snapshot_id, disk_id, dict(metadata or {}), workload_id),
            )
            repo.archive.ensure_snapshot_doc(snapshot_id, workload_id, manifest.created)
            commit(repo, repo.archive, codec, src, manifest, lease)
        manifest.metadata = dict(metadata or {})
    finally:
        lease.release()
    return manifest
