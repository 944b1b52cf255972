"""Progress reports handed to a caller's callback during long operations."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    phase: str  # "backup", "restore", "verify"
    done: int  # bytes processed so far
    total: int  # bytes to process
    elapsed: float  # seconds since the start

    @property
    def rate(self) -> float:
        """Bytes per second so far."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


ProgressCallback = Callable[[Progress], None]


class ProgressMeter:
    """Counts bytes from several threads and calls the callback at most every ``interval`` seconds."""

    def __init__(self, phase: str, total: int, callback: ProgressCallback | None, interval: float = 0.2):
        self.phase, self.total, self._cb, self._interval = phase, total, callback, interval
        self.done = 0
        self._start = time.monotonic()
        self._last = 0.0
        self._lock = threading.Lock()

    def add(self, nbytes: int) -> None:
        with self._lock:
            self.done += nbytes
            now = time.monotonic()
            if self._cb is None or now - self._last < self._interval:
                return
            self._last = now
            report = Progress(self.phase, self.done, self.total, now - self._start)
        self._cb(report)

    def finish(self) -> None:
        if self._cb is not None:
            self._cb(Progress(self.phase, self.done, self.total, time.monotonic() - self._start))

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._start
