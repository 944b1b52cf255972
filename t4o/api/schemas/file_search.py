"""Schemas of file search: a search for a path, glob or regex over some snapshots of one VM."""

from __future__ import annotations

from typing import Any

from t4o.api.schemas.common import ID, NULLABLE_TEXT, TIMESTAMP
from t4o.api.schemas.files import ENTRY

_WHEN = {
    "type": ["string", "null"],
    "maxLength": 64,
    "description": "An ISO 8601 date (2026-01-02: the whole day) or date-time; empty or null for none.",
}
_INDEX = {"type": ["integer", "null"], "minimum": 0}

CREATE = {
    "type": "object",
    "required": ["file_search"],
    "additionalProperties": False,
    "properties": {
        "file_search": {
            "type": "object",
            "required": ["vm_id", "filepath"],
            "additionalProperties": False,
            "properties": {
                "vm_id": ID,
                "filepath": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 4096,
                    "pattern": "^[^\\u0000]*$",
                    "description": "An absolute path (/etc/hosts), a file name at any depth (hosts), a glob "
                    "(/var/log/*.log, *.conf, /etc/**/x) or a regular expression (^/home/.*\\.txt$) "
                    "matched against full paths.",
                },
                "snapshot_ids": {
                    "description": "Search only these snapshots (a list, or IDs separated by commas).",
                    "oneOf": [
                        {"type": "array", "items": ID, "maxItems": 1000},
                        {"type": "string", "maxLength": 40000},
                        {"type": "null"},
                    ],
                },
                "start": {**_INDEX, "description": "Skip this many of the newest matching snapshots."},
                "end": {**_INDEX, "description": "Stop before this index of them (0: no end)."},
                "date_from": {**_WHEN, "description": "Snapshots taken at or after this time."},
                "date_to": {
                    **_WHEN,
                    "description": "Snapshots taken at or before this time (a date: that day).",
                },
            },
        }
    },
}

DISK_RESULT = {
    "type": "object",
    "required": ["disk", "partition", "filesystem", "truncated", "entries"],
    "properties": {
        "disk": {"type": "string", "description": "The disk's target name (vda)."},
        "partition": {
            "type": ["integer", "string", "null"],
            "description": "The partition number, vg/lv for an LVM logical volume, null for a filesystem "
            "on the whole disk.",
        },
        "filesystem": {"type": ["string", "null"]},
        "truncated": {"type": "boolean", "description": "More files matched than the result keeps."},
        "entries": {"type": "array", "items": ENTRY},
    },
}

SNAPSHOT_RESULT = {
    "type": "object",
    "required": ["snapshot_id", "status", "disks"],
    "properties": {
        "snapshot_id": {"type": "string"},
        "snapshot_name": {"type": "string"},
        "snapshot_created_at": TIMESTAMP,
        "status": {"type": "string", "enum": ["completed", "error"]},
        "error_msg": NULLABLE_TEXT,
        "disks": {"type": "array", "items": DISK_RESULT},
    },
}

_FIELDS: dict[str, Any] = {
    "id": {"type": "string"},
    "project_id": {"type": "string"},
    "user_id": {"type": "string"},
    "vm_id": {"type": "string"},
    "filepath": {"type": "string"},
    "snapshot_ids": {"type": ["array", "null"], "items": {"type": "string"}},
    "start": {"type": "integer"},
    "end": {"type": "integer"},
    "date_from": NULLABLE_TEXT,
    "date_to": NULLABLE_TEXT,
    "status": {"type": "string", "enum": ["executing", "completed", "error"]},
    "error_msg": NULLABLE_TEXT,
    "progress_percent": {"type": "integer", "minimum": 0, "maximum": 100},
    "created_at": TIMESTAMP,
    "finished_at": TIMESTAMP,
}

FILE_SEARCH = {
    "type": "object",
    "required": ["id", "status", "progress_percent", "json_resp"],
    "properties": {
        **_FIELDS,
        "json_resp": {
            "type": "array",
            "items": SNAPSHOT_RESULT,
            "description": "The results, one entry per snapshot searched so far (newest snapshot first).",
        },
    },
}

FILE_SEARCH_ITEM = {"type": "object", "required": ["id", "status", "progress_percent"], "properties": _FIELDS}

LIST_QUERY: dict[str, dict[str, Any]] = {
    "limit": {
        "type": "integer",
        "minimum": 1,
        "description": "The newest few only (at most 1000 are listed).",
    }
}
