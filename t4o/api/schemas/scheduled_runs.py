"""Schema of a workload's scheduled run (what the cron service did at one slot of its schedule)."""

from __future__ import annotations

from t4o.api.schemas.common import STR, page_query
from t4o.workloads.paging import RUN_SORT_KEYS

PAGE = page_query(RUN_SORT_KEYS)

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
    },
}
