"""Schema of a workload's scheduled run (what the cron service did at one slot of its schedule)."""

from __future__ import annotations

from t4o.api.schemas.common import STR, page_query
from t4o.workloads.paging import RUN_SORT_KEYS

PAGE = page_query(RUN_SORT_KEYS)
NULLABLE_STR = {"type": ["string", "null"]}

# One attempt of a run: a snapshot queued (or a queueing that failed), how it ended, and what came next.
ATTEMPT = {
    "type": "object",
    "properties": {
        "attempt": {"type": "integer"},
        "started_at": NULLABLE_STR,
        "ended_at": NULLABLE_STR,
        "result": NULLABLE_STR,  # running, available, error, cancelled; failed: no snapshot could be queued
        "snapshot_id": NULLABLE_STR,
        "error": NULLABLE_STR,
        "will_retry": {"type": ["boolean", "null"]},  # null while the attempt runs
        "next_attempt_at": NULLABLE_STR,
        "retry_reason": NULLABLE_STR,  # why it is retried (the failure's kind), or why not
    },
}

# Why a run was missed: its backup window closed (no cron process ran in it, or the workload stayed busy),
# or, without a window, it was found beyond misfire_grace_time.
MISSED = {
    "type": "object",
    "properties": {
        "reason": {"type": "string", "enum": ["window_closed", "window_closed_busy", "misfire_grace_time"]},
        "window": {"type": "object", "properties": {"start": STR, "end": STR}},
        "timezone": STR,
        "window_closed_at": STR,
        "detail": {"type": "string"},
    },
}

RUN = {
    "type": "object",
    "required": ["scheduled_time", "status"],
    "properties": {
        "id": STR,
        "scheduled_time": {"type": "string"},
        "status": STR,
        "snapshot_id": {"type": ["string", "null"]},
        "snapshot_type": {"type": ["string", "null"]},
        "host": {"type": "string"},
        "message": {"type": "string"},
        "attempt_count": {"type": "integer"},
        "next_attempt_at": NULLABLE_STR,
        "attempts": {"type": "array", "items": ATTEMPT},
        "missed": {"oneOf": [{"type": "null"}, MISSED]},
    },
}
