"""Schemas of the audit log."""

from __future__ import annotations

MAX_MINUTES = 60 * 24 * 366  # a year and a day: rotation keeps less by default

QUERY = {
    "time_in_minutes": {"type": "integer", "minimum": 1, "maximum": MAX_MINUTES},
}

ENTRY = {
    "type": "object",
    "required": ["id", "timestamp", "kind", "action", "result", "user_id", "project_id"],
    "properties": {
        "id": {"type": "string"},
        "timestamp": {"type": "string"},
        "kind": {"type": "string", "enum": ["api", "job"]},
        "action": {"type": "string"},
        "method": {"type": ["string", "null"]},
        "path": {"type": ["string", "null"]},
        "object_type": {"type": ["string", "null"]},
        "object_id": {"type": ["string", "null"]},
        "status_code": {"type": ["integer", "null"]},
        "result": {"type": "string"},
        "message": {"type": ["string", "null"]},
        "user_id": {"type": "string"},
        "project_id": {"type": "string"},
        "request_id": {"type": ["string", "null"]},
    },
}
AUDITLOG = {
    "type": "object",
    "required": ["auditlog"],
    "properties": {"auditlog": {"type": "array", "items": ENTRY}},
}
