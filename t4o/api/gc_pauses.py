"""The garbage collector's pauses in an API worker: how many collections of each generation ran, how long
they held the interpreter in all and at most. A full collection stops every thread of the worker, so
these pauses show directly in the requests' latency tail."""

from __future__ import annotations

import gc
import threading
import time
from typing import Any

_lock = threading.Lock()
_started: dict[int, float] = {}  # thread id -> start of the collection it runs
# generation -> [collections, seconds in all, longest in seconds]
_totals: dict[int, list[float]] = {0: [0, 0.0, 0.0], 1: [0, 0.0, 0.0], 2: [0, 0.0, 0.0]}


def _callback(phase: str, info: dict[str, Any]) -> None:
    now = time.perf_counter()
    if phase == "start":
        _started[threading.get_ident()] = now
        return
    began = _started.pop(threading.get_ident(), None)
    if began is None:  # installed during a collection
        return
    with _lock:
        total = _totals[info["generation"]]
        total[0] += 1
        total[1] += now - began
        total[2] = max(total[2], now - began)


def install() -> None:
    """Count from now on (once per process)."""
    if _callback not in gc.callbacks:
        gc.callbacks.append(_callback)


def totals() -> dict[int, tuple[int, float, float]]:
    """generation -> (collections, seconds in all, longest in seconds) since install()."""
    with _lock:
        return {gen: (int(t[0]), t[1], t[2]) for gen, t in _totals.items()}


def summary() -> str:
    parts = [f"gen{gen} {n} in {total * 1000:.1f} ms (max {longest * 1000:.1f})"
             for gen, (n, total, longest) in totals().items()]  # fmt: skip
    return "GC pauses: " + ", ".join(parts)
