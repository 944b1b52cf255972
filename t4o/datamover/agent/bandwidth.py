"""The agent's bandwidth cap (``[datamover] max_bytes_per_second``): one token bucket shared by every
transfer of the agent, around the block sources and writers it hands to the vault.

A backup is metered on the bytes read from the disks (what goes to the target before compression and
deduplication shrink it, so the target sees at most that), a restore on the bytes written to the disks
(fetched from the target). Zeros a restore punches into a disk come from no target and are not metered.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

BURST_SECONDS = 0.25  # a bucket holds at most this many seconds' worth of bytes


class TokenBucket:
    """At most ``rate`` bytes per second on average, over any number of threads.

    ``take(n)`` reserves ``n`` bytes at once (the balance may go negative: a 1 MiB block at 64 KiB/s is
    fine) and sleeps until the reservation is paid for, so concurrent takers queue in order and the
    long-run rate is exact; an idle bucket fills up to ``burst`` bytes, no more.
    """

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("a token bucket needs a positive rate")
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else rate * BURST_SECONDS)
        self._clock, self._sleep = clock, sleep
        self._tokens = self.burst
        self._last = clock()
        self._lock = threading.Lock()

    def take(self, n: int) -> float:
        """Spend ``n`` bytes; the seconds slept for them."""
        if n <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= n
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait


class ThrottledSource:
    """A block source whose reads are paid for in the bucket; everything else is the source's own."""

    def __init__(self, source: Any, bucket: TokenBucket) -> None:
        self._source, self._bucket = source, bucket

    def read(self, offset: int, length: int) -> bytes:
        self._bucket.take(length)
        data: bytes = self._source.read(offset, length)
        return data

    def __getattr__(self, name: str) -> Any:  # size, data_extents, path, format, ...
        return getattr(self._source, name)


class ThrottledWriter:
    """A block writer whose data writes are paid for in the bucket (zeroing is not: no target bytes)."""

    def __init__(self, writer: Any, bucket: TokenBucket) -> None:
        self._writer, self._bucket = writer, bucket

    def write(self, offset: int, data: bytes) -> Any:
        self._bucket.take(len(data))
        return self._writer.write(offset, data)

    def __getattr__(self, name: str) -> Any:  # size, write_zeroes, flush, data_extents, ...
        return getattr(self._writer, name)

    def __repr__(self) -> str:
        return repr(self._writer)


class Bandwidth:
    """The agent's cap: wraps sources and writers in one shared bucket, or leaves them as they are."""

    def __init__(self, bytes_per_second: int) -> None:
        self.bucket = TokenBucket(bytes_per_second) if bytes_per_second > 0 else None

    def source(self, source: Any) -> Any:
        return source if self.bucket is None else ThrottledSource(source, self.bucket)

    def writer(self, writer: Any) -> Any:
        return writer if self.bucket is None else ThrottledWriter(writer, self.bucket)


UNLIMITED = Bandwidth(0)
