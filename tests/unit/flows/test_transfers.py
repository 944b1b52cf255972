"""The agent's transfer registry: bounded concurrency, progress, cancel, errors kept as messages."""

from __future__ import annotations

import threading
import time

import pytest

from t4o.datamover.agent.transfers import Transfer, TransferRegistry


def wait_status(reg: TransferRegistry, tid: str, statuses: set[str], timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = reg.get(tid).view()  # type: ignore[union-attr]
        if view["status"] in statuses:
            return view
        time.sleep(0.01)
    raise AssertionError(f"transfer {tid} stayed {view['status']}")


def test_result_progress_and_rate() -> None:
    reg = TransferRegistry(max_running=1)

    def work(t: Transfer) -> dict:
        t.add_total(100)
        t.add_bytes(60)
        t.add_bytes(40)
        return {"disks": 1}

    reg.start("a", "backup", work)
    view = wait_status(reg, "a", {"done"})
    assert view["bytes_done"] == view["bytes_total"] == 100
    assert view["result"] == {"disks": 1} and view["error"] is None


def test_error_is_reported_with_its_message() -> None:
    reg = TransferRegistry(max_running=1)

    def work(t: Transfer) -> dict:
        raise RuntimeError("disk vdb vanished")

    reg.start("b", "backup", work)
    view = wait_status(reg, "b", {"error"})
    assert view["error"] == "disk vdb vanished"


def test_cancel_stops_work_at_its_next_progress_report() -> None:
    reg = TransferRegistry(max_running=1)
    entered = threading.Event()

    def work(t: Transfer) -> dict:
        entered.set()
        while True:
            t.add_bytes(1)
            time.sleep(0.01)

    transfer = reg.start("c", "restore", work)
    assert entered.wait(5)
    transfer.cancel()
    assert wait_status(reg, "c", {"cancelled"})["status"] == "cancelled"


def test_concurrency_is_bounded_and_a_repeated_start_is_the_same_transfer() -> None:
    reg = TransferRegistry(max_running=1)
    release = threading.Event()
    running = []

    def work(t: Transfer) -> dict:
        running.append(t.id)
        release.wait(5)
        return {}

    first = reg.start("d1", "backup", work)
    assert reg.start("d1", "backup", work) is first
    reg.start("d2", "backup", work)
    time.sleep(0.2)
    assert running == ["d1"] and reg.get("d2").status == "queued"  # type: ignore[union-attr]
    release.set()
    wait_status(reg, "d2", {"done"})
    assert running == ["d1", "d2"]


@pytest.mark.parametrize(
    ("done", "total", "low", "high", "percent"), [(0, 0, 10, 50, 10), (50, 100, 10, 50, 30)]
)
def test_progress_maps_bytes_onto_the_jobs_percent_range(
    done: int, total: int, low: int, high: int, percent: int
) -> None:
    from t4o.workloads.flows.progress import reporter

    seen = []

    class FakeJob:
        def progress(self, p: int, message: str) -> None:
            seen.append((p, message))

    reporter(FakeJob(), "VM x", low, high)(
        {"bytes_done": done, "bytes_total": total, "rate": 2048, "message": "m"}
    )  # type: ignore[arg-type]
    assert seen[0][0] == percent and "2.0 KiB/s" in seen[0][1]


def test_a_transfer_nobody_reads_is_cancelled_and_a_read_one_is_not() -> None:
    reg = TransferRegistry(max_running=2, unwatched_timeout=0.3)
    release = threading.Event()

    def work(t: Transfer) -> dict:
        while not release.is_set():
            t.add_bytes(1)  # a cancel surfaces here, as in the real transfers
            time.sleep(0.01)
        return {}

    reg.start("orphan", "backup", work)
    reg.start("followed", "backup", work)
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        assert reg.get("followed").view()["status"] in ("queued", "running")  # type: ignore[union-attr]
        time.sleep(0.05)
    orphan = reg._transfers["orphan"].view()  # read without watching it
    assert orphan["status"] == "cancelled" and "nobody read its status" in orphan["message"], orphan
    release.set()
    assert wait_status(reg, "followed", {"done"})["status"] == "done"


def test_no_timeout_never_cancels() -> None:
    reg = TransferRegistry(max_running=1)
    started = reg.start("a", "backup", lambda t: {})
    assert reg.cancel_unwatched(now=started.watched + 10**6) == []
