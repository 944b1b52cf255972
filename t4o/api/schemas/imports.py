"""Schemas of disaster recovery's calls: workloads on the backup target, import, orphans, reassign."""

from __future__ import annotations

from typing import Any

from t4o.api.schemas.common import BOOL, ID, STR

_IDS = {"type": "array", "items": ID, "uniqueItems": True, "maxItems": 10000}

TARGET_WORKLOAD = {
    "type": "object",
    "required": ["id", "name", "project_id", "user_id", "snapshots", "in_database"],
    "properties": {
        "id": STR,
        "name": {"type": "string"},
        "description": {"type": "string"},
        "project_id": {"type": "string"},
        "user_id": {"type": "string"},
        "snapshots": {"type": "integer", "minimum": 0},
        "last_snapshot_at": {"type": ["string", "null"]},
        "vms": {"type": "array", "items": {"type": ["string", "null"]}},
        "in_database": BOOL,
        "deleted_in_database": BOOL,
        "missing": {"type": "array", "items": {"type": "string", "enum": ["project", "user"]}},
        "backup_target_id": {
            "type": "string",
            "description": "the target it is on ('config': the configured one)",
        },
        "encrypted": {"type": "boolean", "description": "encrypted with a key of its own"},
        "error": {
            "type": "string",
            "description": "why an encrypted workload's documents cannot be read (its secret, named)",
        },
    },
}
TARGET_WORKLOADS = {
    "type": "object",
    "required": ["workloads"],
    "properties": {"workloads": {"type": "array", "items": TARGET_WORKLOAD}},
}

_TARGET_ID = {
    "type": "string",
    "minLength": 1,
    "maxLength": 36,
    "description": "read only this backup target ('config': the configured one); default: every target",
}
IMPORT_BODY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"workload_ids": _IDS, "backup_target_id": _TARGET_ID},
}
IMPORTABLE_QUERY = {"backup_target_id": _TARGET_ID}
_IMPORTED = {
    "type": "object",
    "required": ["id"],
    "properties": {
        "id": STR,
        "name": {"type": "string"},
        "snapshots": {"type": "array", "items": STR},
        "error": {"type": "string"},
    },
}
_LIST: dict[str, Any] = {"type": "array", "items": _IMPORTED}
IMPORT_RESULT = {
    "type": "object",
    "required": ["workloads"],
    "properties": {
        "workloads": {
            "type": "object",
            "required": [
                "imported_workloads",
                "updated_workloads",
                "unchanged_workloads",
                "failed_workloads",
            ],
            "properties": {
                "imported_workloads": _LIST,
                "updated_workloads": _LIST,
                "unchanged_workloads": _LIST,
                "failed_workloads": _LIST,
            },
        }
    },
}

ORPHAN_QUERY = {"migrate_cloud": {"type": "string", "enum": ["0", "1", "true", "false", "True", "False"]}}

REASSIGN_BODY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "workload_ids": _IDS,
        "reassign_workload_ids": _IDS,
        "old_tenant_ids": _IDS,
        "new_tenant_id": ID,
        "user_id": ID,
        "migrate_cloud": BOOL,
        "project_map": {"type": "object", "additionalProperties": ID, "maxProperties": 10000},
    },
}
REASSIGN_RESULT = {
    "type": "object",
    "required": ["workloads"],
    "properties": {
        "workloads": {
            "type": "object",
            "required": ["reassigned_workloads"],
            "properties": {
                "reassigned_workloads": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id", "project_id", "user_id"],
                        "properties": {
                            "id": STR,
                            "name": {"type": "string"},
                            "old_project_id": {"type": "string"},
                            "project_id": {"type": "string"},
                            "user_id": {"type": "string"},
                        },
                    },
                }
            },
        }
    },
}
