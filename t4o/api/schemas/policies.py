"""Schemas of workload policies and their assignment to projects."""

from __future__ import annotations

from t4o.api.schemas.common import STR, page_query
from t4o.workloads.paging import POLICY_SORT_KEYS

PAGE = page_query(POLICY_SORT_KEYS)

_TEXT = {"type": "string", "maxLength": 65535}
_ID_LIST = {"type": "array", "maxItems": 1000, "items": STR}

FIELD_VALUES = {"type": "object", "maxProperties": 32}
BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["workload_policy"],
    "properties": {
        "workload_policy": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "display_name": STR,
                "display_description": _TEXT,
                "field_values": FIELD_VALUES,
                "metadata": {"type": "object", "maxProperties": 64},
            },
        }
    },
}
POLICY = {
    "type": "object",
    "required": ["id", "name", "field_values"],
    "properties": {
        "id": STR,
        "name": STR,
        "display_name": STR,
        "display_description": {"type": "string"},
        "field_values": {"type": "object"},
        "metadata": {"type": "object"},
        "project_list": {"type": "array", "items": {"type": "string"}},
        "created_at": {"type": "string"},
        "updated_at": {"type": "string"},
    },
}
ASSIGN_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["policy"],
    "properties": {
        "policy": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"add_projects": _ID_LIST, "remove_projects": _ID_LIST},
        }
    },
}
ASSIGN_OUT = {
    "type": "object",
    "required": ["policy"],
    "properties": {"policy": {"type": "object"}, "failed_ids": {"type": "array"}},
}
