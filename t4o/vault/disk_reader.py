"""Random read-only access to one disk of a snapshot, straight from the vault.

``DiskReader(repo, "SNAPSHOT/DISK")`` gives the disk's ``size`` and ``read(offset, length)``: only the
chunks that cover the range are fetched, decrypted, decompressed and re-hashed (through
``restore.fetch_block``, the same door a restore goes through); zero blocks are never fetched. The last
few chunks read are kept in a small LRU cache (``cache_mib``), so the many small reads of a filesystem
reader (4 KiB inodes, directory blocks) cost one fetch per chunk. Several threads may read at once: a
chunk wanted by two of them is fetched once. ``stats()`` counts what was fetched from the backend.

A long sequential read (a file downloaded in 128 KiB pieces through FUSE and NBD) would wait for each
chunk's fetch and decode in turn; once reads have gone on sequentially for ``2 x chunk size``, the next
``readahead`` chunks are fetched in the background. Small files (a chunk or two) never trigger it, so
they still cost only their own chunks.

It is a block source too (``size``, ``read``, ``data_extents``), so anything that takes one can read a
disk in the vault without restoring it (the NBD export in nbd_export.py serves it to qemu and friends).
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from t4o.vault.errors import InvalidArgument
from t4o.vault.manifest import Manifest, block_len
from t4o.vault.restore import fetch_block
from t4o.vault.store import Store

if TYPE_CHECKING:
    from t4o.vault.repository import Repository

DEFAULT_CACHE_MIB = 16
DEFAULT_READAHEAD = 4  # chunks


@dataclass(frozen=True)
class ReaderStats:
    reads: int  # read() calls
    bytes_read: int  # bytes returned by read()
    chunks_fetched: int  # chunk objects fetched from the backend (and decoded)
    bytes_fetched: int  # bytes of those objects as stored (compressed, encrypted)
    cache_hits: int  # chunks served from the cache
    zero_chunks: int  # all-zero blocks served without any fetch
    prefetched: int = 0  # chunks read ahead (counted in chunks_fetched once fetched)


class _CountingStore(Store):
    """The repository's store (same backend, keys, settings and index) counting the blobs read."""

    def __init__(self, repo: Store):
        super().__init__(repo.backend, repo.config, repo.keys)
        self._index = repo.index
        self._lock = threading.Lock()
        self.fetched = 0
        self.fetched_bytes = 0

    def fetch_blob(self, cid: str) -> bytes:
        blob = super().fetch_blob(cid)
        with self._lock:
            self.fetched += 1
            self.fetched_bytes += len(blob)
        return blob


class DiskReader:
    """Read-only random access to the disk ``ref`` (``SNAPSHOT/DISK``, or ``SNAPSHOT`` with ``disk_id``
    or a single disk). Raises SnapshotNotFound when there is no such disk; ``read`` raises
    InvalidArgument outside the disk and CorruptRepository when a chunk is missing or damaged."""

    def __init__(
        self,
        repo: Repository,
        ref: str,
        disk_id: str | None = None,
        *,
        cache_mib: float = DEFAULT_CACHE_MIB,
        workers: int | None = None,
        readahead: int = DEFAULT_READAHEAD,
    ):
        if cache_mib < 0:
            raise InvalidArgument(f"cache size {cache_mib} MiB must not be negative")
        self.manifest: Manifest = repo.get_manifest(ref, disk_id)
        m = self.manifest
        self.ref = m.ref
        self.size = m.size
        self.chunk_size = m.chunk_size
        self.format = "raw"
        self.workers = workers or repo.workers
        self._store = _CountingStore(repo)
        self._codec = repo.codec_for(m)
        self._capacity = int(cache_mib * (1 << 20)) // m.chunk_size
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._inflight: dict[int, Future[bytes]] = {}
        self._lock = threading.Lock()
        self._reads = self._bytes_read = self._hits = self._zeros = 0
        self._zero_block = bytes(m.chunk_size)
        self._executor: ThreadPoolExecutor | None = None
        # read-ahead: at most half the cache, so prefetched chunks do not push out the ones being read
        self.readahead = max(0, min(readahead, self._capacity // 2))
        self._seq_end = -1  # where the last read ended
        self._streak = 0  # bytes read sequentially up to it
        self._ahead = -1  # the last chunk index read ahead
        self._prefetched = 0

    def __repr__(self) -> str:
        return f"DiskReader({self.ref!r}, size={self.size})"

    def __enter__(self) -> DiskReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop the cache and stop the fetch threads (a read after this starts them again)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:  # reads ahead not started yet are dropped, not fetched
            executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            self._cache.clear()

    def data_extents(self) -> list[tuple[int, int]]:
        """The ranges that may hold data (the blocks with a chunk); the rest of the disk is zero."""
        out: list[tuple[int, int]] = []
        cs = self.chunk_size
        for i, cid in enumerate(self.manifest.chunks):
            if cid is None:
                continue
            n = block_len(i, self.size, cs)
            if out and out[-1][0] + out[-1][1] == i * cs:
                out[-1] = (out[-1][0], out[-1][1] + n)
            else:
                out.append((i * cs, n))
        return out

    def stats(self) -> ReaderStats:
        with self._lock:
            return ReaderStats(
                reads=self._reads,
                bytes_read=self._bytes_read,
                chunks_fetched=self._store.fetched,
                bytes_fetched=self._store.fetched_bytes,
                cache_hits=self._hits,
                zero_chunks=self._zeros,
                prefetched=self._prefetched,
            )

    def read(self, offset: int, length: int) -> bytes:
        """``length`` bytes of the disk from ``offset``."""
        if offset < 0 or length < 0 or offset + length > self.size:
            raise InvalidArgument(f"range {offset}+{length} is outside the disk (size {self.size})")
        with self._lock:
            self._reads += 1
            self._bytes_read += length
        if length == 0:
            return b""
        cs = self.chunk_size
        first, last = offset // cs, (offset + length - 1) // cs
        chunks = self.manifest.chunks
        if self.readahead:
            self._read_ahead(offset, length, last)
        blocks: dict[int, bytes] = {}
        if last > first:  # a read over several chunks fetches those not cached on several threads
            with self._lock:
                wanted = [i for i in range(first, last + 1) if chunks[i] is not None and i not in self._cache]
            if len(wanted) > 1:
                blocks = dict(zip(wanted, self._pool().map(self._block, wanted), strict=True))
        pieces: list[bytes | memoryview] = []
        for i in range(first, last + 1):
            start = max(offset, i * cs) - i * cs
            end = min(offset + length, (i + 1) * cs) - i * cs
            if chunks[i] is None:
                with self._lock:
                    self._zeros += 1
                pieces.append(memoryview(self._zero_block)[: end - start])
                continue
            data = blocks.get(i)
            if data is None:
                data = self._block(i)
            if start == 0 and end == len(data) and first == last:
                return data  # a whole block: no copy
            pieces.append(memoryview(data)[start:end])
        return b"".join(pieces)

    def _read_ahead(self, offset: int, length: int, last: int) -> None:
        """After a sequential streak of two chunks, fetch the ``readahead`` chunks after ``last`` in the
        background (into the cache). Reads served by several threads arrive a little out of order: a
        read starting within a chunk of where the last one ended still continues the streak."""
        chunks = self.manifest.chunks
        with self._lock:
            near = self._seq_end >= 0 and abs(offset - self._seq_end) <= self.chunk_size
            self._streak = self._streak + length if near else length
            self._seq_end = max(self._seq_end, offset + length) if near else offset + length
            if self._streak < 2 * self.chunk_size:
                return
            stop = min(last + 1 + self.readahead, len(chunks))
            todo = [
                i
                for i in range(max(last + 1, self._ahead + 1), stop)
                if chunks[i] is not None and i not in self._cache and i not in self._inflight
            ]
            self._ahead = max(self._ahead, stop - 1)
            self._prefetched += len(todo)
        if todo:
            pool = self._pool()
            for i in todo:
                pool.submit(self._prefetch, i)

    def _prefetch(self, index: int) -> None:
        with contextlib.suppress(Exception):  # a read of that chunk will raise it to its caller
            self._block(index)

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="vault-read")
            return self._executor

    def _block(self, index: int) -> bytes:
        """The plain block ``index`` (not a zero one): from the cache, from a fetch another thread
        has under way, or fetched now."""
        with self._lock:
            data = self._cache.get(index)
            if data is not None:
                self._cache.move_to_end(index)
                self._hits += 1
                return data
            pending = self._inflight.get(index)
            if pending is None:
                mine: Future[bytes] = Future()
                self._inflight[index] = mine
        if pending is not None:
            return pending.result()
        try:
            data = fetch_block(self._store, self._codec, self.manifest, index)
        except BaseException as exc:
            with self._lock:
                del self._inflight[index]
            mine.set_exception(exc)
            raise
        with self._lock:
            del self._inflight[index]
            if self._capacity > 0:
                self._cache[index] = data
                while len(self._cache) > self._capacity:
                    self._cache.popitem(last=False)
        mine.set_result(data)
        return data
