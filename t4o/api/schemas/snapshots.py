"""Schemas of snapshots: the body that takes one, the snapshot, the list's query."""

from __future__ import annotations

from typing import Any

from t4o.api.schemas.common import BOOL, DATE, JOB_FIELDS, NAME, STR, TEXT
from t4o.api.schemas.workloads import PAGE

LIST_QUERY: dict[str, dict[str, Any]] = {
    "workload_id": STR,
    "status": STR,
    "date_from": DATE,
    "date_to": DATE,
    "all": BOOL,
    **PAGE,
}

CREATE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "snapshot": {
            "type": "object",
            "properties": {"name": NAME, "description": TEXT},
        }
    },
}

SNAPSHOT = {
    "type": "object",
    "required": ["id", "status", "workload_id", "progress_percent"],
    "properties": {**JOB_FIELDS, "snapshot_type": {"type": "string"}, "instances": {"type": "array"}},
}
