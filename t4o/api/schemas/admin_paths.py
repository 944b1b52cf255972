"""Schemas of Trilio's admin paths under /workloads: metrics, service update and the test email."""

from __future__ import annotations

from typing import Any

from t4o.api.schemas.common import ID
from t4o.api.schemas.metrics import BACKUP_TARGETS, STORAGE_ROWS
from t4o.api.schemas.nodes import NODE_ITEM

_ROWS = {"type": "array", "items": {"type": "object"}}


def _object(key: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": [key], "properties": {key: schema}}


RECENT_QUERY = {"limit": {"type": "integer", "minimum": 1, "maximum": 500}}

NODES = _object("nodes", _ROWS)
STORAGE_USAGE = {
    "type": "object",
    "required": ["storage_usage", "backup_targets"],
    "properties": {"storage_usage": STORAGE_ROWS, "backup_targets": BACKUP_TARGETS},
}
TENANTS_USAGE = {
    "type": "object",
    "required": ["global_usage", "tenants_usage"],
    "properties": {
        "global_usage": {
            "type": "object",
            "properties": {
                "projects": {"type": "integer"},
                "snapshots": {"type": "integer"},
                "bytes": {"type": "integer"},
                "stored_bytes": {"type": "integer"},
            },
        },
        "tenants_usage": {"type": "object", "additionalProperties": {"type": "object"}},
    },
}
VMS_PROTECTED = {
    "type": "object",
    "required": ["protected_vms", "protected_volumes"],
    "properties": {"protected_vms": {"type": "integer"}, "protected_volumes": {"type": "integer"}},
}
RECENT_ACTIVITIES = _object("recentactivities", _ROWS)

SERVICE_UPDATE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["service"],
    "properties": {
        "service": {
            "type": "object",
            "additionalProperties": False,
            "required": ["host", "status"],
            "properties": {
                "host": ID,
                "status": {"type": "string", "enum": ["enable", "disable"]},
                "reason": {"type": "string", "maxLength": 255},
            },
        }
    },
}

SERVICE = _object("service", NODE_ITEM)

TEST_EMAIL = _object(
    "email",
    {
        "type": "object",
        "required": ["sent", "recipients", "server"],
        "properties": {
            "sent": {"type": "boolean"},
            "recipients": {"type": "array", "items": {"type": "string"}},
            "server": {"type": "string"},
        },
    },
)
