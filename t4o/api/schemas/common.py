"""Schema pieces every resource uses: bounded strings, timestamps, the error body, wrappers, paging.

Strings are bounded and refuse NUL: every value must be storable as-is in SQLite, MariaDB and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

NAME = {"type": "string", "maxLength": 255, "pattern": "^[^\\u0000]*$"}
TEXT = {"type": "string", "maxLength": 4096, "pattern": "^[^\\u0000]*$"}
ID = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^\\u0000]+$"}
METADATA = {
    "type": "object",
    "additionalProperties": {"type": "string", "maxLength": 1024},
    "maxProperties": 64,
}
NULLABLE_TEXT = {"type": ["string", "null"]}
TIMESTAMP = {"type": ["string", "null"], "format": "date-time"}

# Query parameters.
BOOL = {"type": "boolean"}
STR = {"type": "string", "maxLength": 255}
DATE = {"type": "string", "format": "date-time"}

ERROR = {
    "type": "object",
    "minProperties": 1,
    "maxProperties": 1,
    "additionalProperties": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
    },
}

# The fields snapshots and restores share: both are jobs of a workload.
JOB_FIELDS: dict[str, Any] = {
    "id": {"type": "string"},
    "name": {"type": "string"},
    "description": {"type": "string"},
    "project_id": {"type": "string"},
    "user_id": {"type": "string"},
    "workload_id": {"type": "string"},
    "status": {
        "type": "string",
        "enum": ["queued", "executing", "cancelling", "available", "error", "cancelled", "deleting"],
    },
    "progress_percent": {"type": "integer", "minimum": 0, "maximum": 100},
    "progress_msg": {"type": "string"},
    "warning_msg": NULLABLE_TEXT,
    "error_msg": NULLABLE_TEXT,
    "time_taken": {"type": "number"},
    "size": {"type": "integer"},
    "uploaded_size": {"type": "integer"},
    "host": NULLABLE_TEXT,
    "created_at": TIMESTAMP,
    "updated_at": TIMESTAMP,
    "finished_at": TIMESTAMP,
}


def wrap(key: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": [key], "properties": {key: schema}}


def wrap_list(key: str, schema: dict[str, Any]) -> dict[str, Any]:
    return wrap(key, {"type": "array", "items": schema})


# ---------------------------------------------------------------- pagination (OpenStack style)
LINKS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["rel", "href"],
        "properties": {"rel": {"type": "string"}, "href": {"type": "string"}},
    },
}


def page_query(sort_keys: Sequence[str], marker_length: int = 36) -> dict[str, dict[str, Any]]:
    """Query parameters of a paginated list: limit, marker, sort_key (one of ``sort_keys``), sort_dir."""
    return {
        "limit": {"type": "integer", "minimum": 1},
        "marker": {"type": "string", "maxLength": marker_length},
        "sort_key": {"type": "string", "enum": list(sort_keys)},
        "sort_dir": {"type": "string", "enum": ["asc", "desc"]},
    }


def paged(key: str, item: dict[str, Any]) -> dict[str, Any]:
    """A list response with its optional ``<key>_links`` (rel next) for the following page."""
    out = wrap_list(key, item)
    out["properties"][f"{key}_links"] = LINKS
    return out
