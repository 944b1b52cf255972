"""One task per VM of a workload: one by one for Serial workloads, several at once for Parallel ones.

Parallel runs at most ``[workflows] max_parallel_vms`` tasks at a time (each is one datamover transfer,
and the agent of a host runs ``[datamover] max_concurrent_transfers`` of them). After the first failure no
further VM starts, the running ones stop at their next progress report (their transfers are cancelled),
and the first failure is raised once they have all ended, so the caller cleans up after every VM.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

SERIAL_TYPE_ID = "f82ce76f-17fe-438b-aa37-7a023058e50d"
PARALLEL_TYPE_ID = "2ddd528d-c9b4-4d7e-8722-cc395140255a"


Report = Callable[[float, str], None]
"""A VM's progress: the fraction of its work done, and what it is doing."""


class Aborted(Exception):
    """Another VM's task failed: this one stops without doing more work."""


def concurrency(workload_type_id: str, max_parallel: int, vm_count: int) -> int:
    """How many VMs of a workload run at once: one unless its type is Parallel."""
    if workload_type_id != PARALLEL_TYPE_ID:
        return 1
    return max(1, min(max_parallel, vm_count))


class VmProgress:
    """The job's percent from every VM's own fraction done; thread-safe. ``report`` raises Aborted once
    another VM failed, and whatever the job's progress call raises (a cancel)."""

    def __init__(self, job_progress: Callable[[int, str], None], count: int, low: int = 2, high: int = 97):
        self._job_progress = job_progress
        self._fractions = [0.0] * max(count, 1)
        self._low, self._high = low, high
        self._lock = threading.Lock()
        self.abort = threading.Event()

    def report(self, index: int, fraction: float, message: str) -> None:
        if self.abort.is_set():
            raise Aborted("stopped because another VM of the workload failed")
        with self._lock:
            self._fractions[index] = max(self._fractions[index], min(max(fraction, 0.0), 1.0))
            done = sum(self._fractions) / len(self._fractions)
            self._job_progress(self._low + int((self._high - self._low) * done), message)


def run_each(
    items: Sequence[T], task: Callable[[int, T], R], workers: int, abort: threading.Event | None = None
) -> list[R]:
    """``task(i, item)`` for every item, at most ``workers`` at a time; the results in item order."""
    abort = abort or threading.Event()
    failures: list[BaseException] = []
    lock = threading.Lock()

    def guarded(i: int, item: T) -> R | None:
        if abort.is_set():
            return None
        try:
            return task(i, item)
        except BaseException as exc:
            with lock:
                failures.append(exc)
            abort.set()
            return None

    if workers <= 1:
        results = []
        for i, item in enumerate(items):
            results.append(guarded(i, item))
            if failures:
                break
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vm") as pool:
            results = list(pool.map(guarded, range(len(items)), items))
    if failures:
        # The first real failure; an Aborted is only the echo of it in another VM.
        raise next((f for f in failures if not isinstance(f, Aborted)), failures[0])
    return results  # type: ignore[return-value]
