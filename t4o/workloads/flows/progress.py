"""Maps transfer progress (bytes done/total, rate) onto the job's percent and message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from t4o.common.sizes import format_bytes as human
from t4o.workloads.workflows import Job


def transfer_progress(view: dict[str, Any]) -> tuple[float, str]:
    """A transfer's fraction done and a message with bytes done/total and rate."""
    done, total = int(view.get("bytes_done") or 0), int(view.get("bytes_total") or 0)
    fraction = min(done / total, 1.0) if total else 0.0
    rate = human(float(view.get("rate") or 0)) + "/s"
    return fraction, f"{human(done)} of {human(total)} ({rate}); {view.get('message', '')}"


def reporter(job: Job, label: str, low: int, high: int) -> Callable[[dict[str, Any]], None]:
    """A progress callback for one transfer that fills the percent range [low, high] of the job.
    ``job.progress`` raises when the job was cancelled: the transfer is then cancelled too."""

    def report(view: dict[str, Any]) -> None:
        fraction, message = transfer_progress(view)
        job.progress(low + int((high - low) * fraction), f"{label}: {message}")

    return report
