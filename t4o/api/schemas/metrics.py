"""Schema of the service-wide metrics."""

from __future__ import annotations

QUERY = {"limit": {"type": "integer", "minimum": 1, "maximum": 500}}

METRICS = {
    "type": "object",
    "required": ["metrics"],
    "properties": {
        "metrics": {
            "type": "object",
            "required": ["storage_usage", "protected_vms", "recent_activity", "nodes"],
            "properties": {
                "storage_usage": {"type": "array", "items": {"type": "object"}},
                "protected_vms": {"type": "integer"},
                "protected_volumes": {"type": "integer"},
                "recent_activity": {"type": "array", "items": {"type": "object"}},
                "nodes": {"type": "array", "items": {"type": "object"}},
            },
        }
    },
}
