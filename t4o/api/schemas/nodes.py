"""Schemas of the service nodes and the body that disables or enables one."""

from __future__ import annotations

from t4o.api.schemas.common import STR, page_query
from t4o.workloads.paging import NODE_SORT_KEYS

PAGE = page_query(NODE_SORT_KEYS)

BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["node"],
    "properties": {
        "node": {
            "type": "object",
            "additionalProperties": False,
            "required": ["disabled"],
            "properties": {"disabled": {"type": "boolean"}},
        }
    },
}
NODE_ITEM = {
    "type": "object",
    "required": ["host", "binary", "state", "disabled"],
    "properties": {
        "id": STR,
        "host": STR,
        "binary": STR,
        "state": {"type": "string", "enum": ["up", "down"]},
        "disabled": {"type": "boolean"},
        "last_heartbeat": {"type": "string"},
    },
}
NODE = {"type": "object", "required": ["node"], "properties": {"node": NODE_ITEM}}
