"""Waiting for a snapshot or restore job to finish, with a progress callback on every poll."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from t4o.client import exceptions as exc
from t4o.client.base import Resource

FINAL = ("available", "error", "cancelled")
Progress = Callable[[Resource], None]


def wait_for_job(
    get: Callable[[str], Resource],
    job_id: str,
    *,
    kind: str = "job",
    on_progress: Progress | None = None,
    interval: float = 1.0,
    timeout: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Resource:
    """Poll ``get(job_id)`` until the job's status is final; return it when ``available``.

    Raises :class:`JobFailed` (with the job's error message) when it ends in ``error`` or ``cancelled``,
    :class:`WaitTimeout` when ``timeout`` seconds pass first.
    """
    deadline = None if timeout is None else clock() + timeout
    while True:
        job = get(job_id)
        if on_progress is not None:
            on_progress(job)
        status = job.get("status")
        if status == "available":
            return job
        if status in ("error", "cancelled"):
            reason = job.get("error_msg") or job.get("progress_msg") or "no message"
            raise exc.JobFailed(
                f"{kind.capitalize()} {job_id} {'failed' if status == 'error' else status}: {reason}", job
            )
        if deadline is not None and clock() >= deadline:
            raise exc.WaitTimeout(
                f"{kind.capitalize()} {job_id} is still {status} after {timeout:g} s; "
                f"follow it with `openstack workload {kind} show {job_id}`."
            )
        sleep(interval)


def job_summary(job: dict[str, Any]) -> str:
    return f"{job.get('status')} {job.get('progress_percent', 0)}% {job.get('progress_msg') or ''}".strip()
