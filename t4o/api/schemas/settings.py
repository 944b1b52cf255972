"""Schemas of a project's settings."""

from __future__ import annotations

from t4o.api.schemas.common import METADATA, NAME, TEXT, page_query
from t4o.workloads.paging import SETTING_SORT_KEYS

# Settings page by name by default; a setting's marker is its name.
PAGE = page_query(SETTING_SORT_KEYS, marker_length=255)

SETTING_IN = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {**NAME, "minLength": 1},
        "value": TEXT,
        "category": NAME,
        "type": NAME,
        "description": TEXT,
        "is_public": {"type": "boolean"},
        "is_hidden": {"type": "boolean"},
        "metadata": METADATA,
    },
}
BODY = {
    "type": "object",
    "required": ["settings"],
    "additionalProperties": False,
    "properties": {"settings": {"type": "array", "minItems": 1, "maxItems": 100, "items": SETTING_IN}},
}

SETTING = {
    "type": "object",
    "required": ["name", "value"],
    "properties": {
        "name": {"type": "string"},
        "value": {"type": "string"},
        "category": {"type": "string"},
        "type": {"type": "string"},
        "description": {"type": "string"},
        "is_public": {"type": "boolean"},
        "is_hidden": {"type": "boolean"},
        "metadata": {"type": "object"},
        "project_id": {"type": "string"},
    },
}
