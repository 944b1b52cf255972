"""Waiting for jobs: success, failure with the job's message, timeout."""

from __future__ import annotations

import pytest

from t4o.client import exceptions as exc
from t4o.client.base import Resource
from t4o.client.waiter import wait_for_job


def jobs(*states: dict) -> object:
    seq = iter(states)
    return lambda job_id: Resource(next(seq))


def test_returns_the_finished_job_and_reports_every_poll() -> None:
    seen: list[int] = []
    job = wait_for_job(
        jobs(
            {"status": "queued", "progress_percent": 0},
            {"status": "executing", "progress_percent": 50},
            {"status": "available", "progress_percent": 100},
        ),
        "j1",
        on_progress=lambda j: seen.append(j["progress_percent"]),
        sleep=lambda s: None,
    )
    assert job["status"] == "available" and seen == [0, 50, 100]


def test_failure_carries_the_error_message() -> None:
    with pytest.raises(exc.JobFailed, match="Snapshot j2 failed: disk vanished") as info:
        wait_for_job(
            jobs({"status": "error", "error_msg": "disk vanished"}),
            "j2",
            kind="snapshot",
            sleep=lambda s: None,
        )
    assert info.value.job["status"] == "error"
    with pytest.raises(exc.JobFailed, match="Restore j3 cancelled: stopped by user"):
        wait_for_job(
            jobs({"status": "cancelled", "progress_msg": "stopped by user"}),
            "j3",
            kind="restore",
            sleep=lambda s: None,
        )


def test_timeout() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    forever = lambda job_id: Resource({"status": "executing"})  # noqa: E731
    with pytest.raises(exc.WaitTimeout, match="still executing after 3 s"):
        wait_for_job(forever, "j4", interval=1.0, timeout=3, sleep=sleep, clock=lambda: now[0])
    assert now[0] == 3.0
