"""Schemas of project quotas: the kinds, and a project's allowed quotas."""

from __future__ import annotations

from t4o.api.schemas.common import STR, page_query
from t4o.workloads.paging import QUOTA_SORT_KEYS

PAGE = page_query(QUOTA_SORT_KEYS)

QUOTA_TYPE = {
    "type": "object",
    "required": ["id", "display_name"],
    "properties": {"id": STR, "display_name": STR, "display_description": {"type": "string"}},
}
_INT = {"type": ["integer", "string"], "maxLength": 20}
QUOTA_ITEM = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"quota_type_id": STR, "allowed_value": _INT, "high_watermark": _INT, "project_id": STR},
}
CREATE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["allowed_quotas"],
    "properties": {"allowed_quotas": {"type": "array", "maxItems": 16, "items": QUOTA_ITEM}},
}
UPDATE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["allowed_quotas"],
    "properties": {"allowed_quotas": QUOTA_ITEM},
}
QUOTA = {
    "type": "object",
    "required": ["id", "project_id", "quota_type_id", "allowed_value", "high_watermark"],
    "properties": {
        "id": STR,
        "project_id": STR,
        "quota_type_id": STR,
        "quota_type_name": STR,
        "allowed_value": {"type": "integer"},
        "high_watermark": {"type": "integer"},
        "usage": {"type": "integer"},
    },
}
