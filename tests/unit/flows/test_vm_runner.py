"""Scheduling of a workload's VMs: Serial one by one, Parallel bounded; failures and progress."""

from __future__ import annotations

import threading
import time

import pytest

from t4o.workloads.flows import vm_runner
from t4o.workloads.flows.vm_runner import PARALLEL_TYPE_ID, SERIAL_TYPE_ID, Aborted, VmProgress, run_each


class Tracker:
    """Counts tasks running at the same time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.order: list[int] = []

    def __call__(self, i: int, item: str) -> str:
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.order.append(i)
        time.sleep(0.05)
        with self.lock:
            self.running -= 1
        return item.upper()


def test_concurrency_follows_the_workload_type() -> None:
    assert vm_runner.concurrency(SERIAL_TYPE_ID, 4, 3) == 1
    assert vm_runner.concurrency("some-custom-type", 4, 3) == 1
    assert vm_runner.concurrency(PARALLEL_TYPE_ID, 4, 3) == 3  # never more threads than VMs
    assert vm_runner.concurrency(PARALLEL_TYPE_ID, 2, 5) == 2
    assert vm_runner.concurrency(PARALLEL_TYPE_ID, 2, 0) == 1


def test_serial_runs_one_at_a_time_in_order() -> None:
    track = Tracker()
    assert run_each(["a", "b", "c"], track, 1) == ["A", "B", "C"]
    assert track.peak == 1 and track.order == [0, 1, 2]


def test_parallel_overlaps_up_to_the_bound_and_keeps_the_order_of_results() -> None:
    track = Tracker()
    items = [f"vm{i}" for i in range(6)]
    assert run_each(items, track, 3) == [s.upper() for s in items]
    assert track.peak == 3


def test_parallel_tasks_really_run_together() -> None:
    barrier = threading.Barrier(2, timeout=5)  # would break (and fail) if the two ran one after the other

    def task(i: int, item: str) -> int:
        barrier.wait()
        return i

    assert run_each(["a", "b"], task, 2) == [0, 1]


def test_serial_stops_at_the_first_failure() -> None:
    ran: list[int] = []

    def task(i: int, item: str) -> None:
        ran.append(i)
        if i == 1:
            raise RuntimeError("VM b: disk gone")

    with pytest.raises(RuntimeError, match="VM b"):
        run_each(["a", "b", "c"], task, 1)
    assert ran == [0, 1]


def test_parallel_failure_aborts_the_others_and_raises_the_real_cause() -> None:
    abort = threading.Event()
    progress = VmProgress(lambda p, m: None, 3)
    progress.abort = abort
    started: list[int] = []
    lock = threading.Lock()

    def task(i: int, item: str) -> str:
        with lock:
            started.append(i)
        if i == 0:
            time.sleep(0.05)
            raise RuntimeError("VM a: the data transfer failed")
        while True:  # a long transfer that reports progress, as the VMs' tasks do
            progress.report(i, 0.1, "moving")
            time.sleep(0.01)

    with pytest.raises(RuntimeError, match="VM a"):
        run_each(["a", "b", "c", "d"], task, 2, abort)
    assert abort.is_set()
    assert sorted(started) == [0, 1]  # c and d never started


def test_progress_combines_every_vm_and_stops_after_an_abort() -> None:
    seen: list[tuple[int, str]] = []
    progress = VmProgress(lambda p, m: seen.append((p, m)), 2, low=2, high=97)
    progress.report(0, 0.5, "vm0 half")
    progress.report(1, 1.0, "vm1 done")
    progress.report(0, 0.2, "vm0 late report")  # a VM's fraction never goes back
    assert [p for p, _ in seen] == [2 + int(95 * 0.25), 2 + int(95 * 0.75), 2 + int(95 * 0.75)]
    progress.abort.set()
    with pytest.raises(Aborted):
        progress.report(0, 0.9, "x")


def test_a_cancel_raised_by_the_job_reaches_the_caller() -> None:
    class Cancelled(Exception):
        pass

    def job_progress(percent: int, message: str) -> None:
        raise Cancelled(message)

    progress = VmProgress(job_progress, 2)

    def task(i: int, item: str) -> None:
        progress.report(i, 0.0, f"{item} starting")

    with pytest.raises(Cancelled):
        run_each(["a", "b"], task, 2, progress.abort)
