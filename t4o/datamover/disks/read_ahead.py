"""Read-ahead over extra NBD connections for a disk read block by block in ascending order.

The vault reads a disk one block at a time from one thread, and one NBD connection answers one request
at a time: each block waits for a whole round trip through QEMU. A full read of a raw volume (it has no
dirty bitmap, so every incremental reads all its data) was bound by that latency. ``ReadAhead`` reads
the next blocks the caller will ask for (the blocks over its extents, in order) on a few more
connections to the same export while the caller hashes the current one. The export is a frozen
point-in-time view, so a block read ahead is the block the caller would have read.
"""

from __future__ import annotations

import bisect
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from oslo_log import log as logging

from t4o.datamover.disks.nbd import NbdClient, NbdError
from t4o.datamover.disks.protocol import Extent

LOG = logging.getLogger(__name__)


def blocks_over(extents: list[Extent], size: int, block: int) -> set[int]:
    """Indexes of the ``block``-sized blocks that overlap any of ``extents``."""
    out: set[int] = set()
    for off, length in extents:
        end = min(off + length, size)
        if length > 0 and end > off:
            out.update(range(off // block, (end + block - 1) // block))
    return out


class ReadAhead:
    """Reads blocks ahead of the caller on ``connections`` extra NBD connections (opened on first use).

    ``plan(block)`` gives the ascending block indexes the caller will read with that block size. A read
    that was not read ahead (the caller left the plan) is served by ``direct``, and what was read ahead
    but skipped is dropped."""

    def __init__(
        self,
        size: int,
        connect: Callable[[], NbdClient],
        plan: Callable[[int], list[int]],
        direct: Callable[[int, int], bytes],
        connections: int = 3,
        depth: int = 8,
    ) -> None:
        self._size = size
        self._connect = connect
        self._plan_for = plan
        self._direct = direct
        self._connections = connections
        self._depth = depth
        self._block = 0
        self._plan: list[int] = []
        self._ahead: dict[int, Future[bytes]] = {}
        self._idle: queue.SimpleQueue[NbdClient] = queue.SimpleQueue()
        self._clients: list[NbdClient] = []
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._disabled = False

    def read(self, offset: int, length: int) -> bytes:
        with self._lock:
            if not self._block:
                self._block = length
                self._plan = self._plan_for(length) if length > 0 else []
            block = self._block
            aligned = offset % block == 0 and length == min(block, self._size - offset)
            index = offset // block
            future = self._ahead.pop(index, None) if aligned else None
            if aligned and not self._disabled:
                self._schedule(index)
        if future is not None:
            return future.result()
        return self._direct(offset, length)

    def _schedule(self, index: int) -> None:
        """Start reads of the plan's next ``depth`` blocks after ``index``; drop those behind it."""
        for stale in [i for i in self._ahead if i < index]:
            self._ahead.pop(stale).cancel()
        at = bisect.bisect_right(self._plan, index)
        for i in self._plan[at : at + self._depth]:
            if i not in self._ahead:
                self._ahead[i] = self._executor().submit(self._fetch, i)

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self._connections, thread_name_prefix="dm-readahead")
        return self._pool

    def _fetch(self, index: int) -> bytes:
        offset = index * self._block
        length = min(self._block, self._size - offset)
        try:
            client = self._idle.get_nowait()
        except queue.Empty:
            try:
                client = self._connect()
            except NbdError as exc:  # the export takes one client only: read on the caller's connection
                LOG.warning("no read-ahead connection (%s): reading on the main connection", exc)
                with self._lock:
                    self._disabled = True
                return self._direct(offset, length)
            with self._lock:
                self._clients.append(client)
        try:
            return client.read(offset, length)
        finally:
            self._idle.put(client)

    def close(self) -> None:
        with self._lock:
            ahead, self._ahead = list(self._ahead.values()), {}
            pool, self._pool = self._pool, None
        for future in ahead:
            future.cancel()
        if pool is not None:
            pool.shutdown(wait=True)
        for client in self._clients:
            client.close()
        self._clients = []
