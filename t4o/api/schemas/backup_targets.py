"""Schemas of backup targets (admin): where snapshots are stored, one target per workload."""

from __future__ import annotations

from t4o.api.schemas.common import NAME, TIMESTAMP

_URL = {"type": "string", "minLength": 1, "maxLength": 2048, "pattern": "^[^\\u0000]*$"}
_KEY = {"type": "string", "minLength": 1, "maxLength": 1024, "pattern": "^[^\\u0000]*$"}
CREDENTIALS = {
    "type": ["object", "null"],
    "additionalProperties": False,
    "required": ["access_key", "secret_key"],
    "properties": {"access_key": _KEY, "secret_key": _KEY},
}
_FIELDS = {
    "name": NAME,
    "type": {"type": "string", "enum": ["nfs", "posix", "s3"]},
    "url": _URL,
    "is_default": {"type": "boolean"},
    "immutable": {"type": "boolean"},
    # S3 keys: stored encrypted, never returned (has_credentials says whether there are some).
    "credentials": CREDENTIALS,
}


def _body(required: list[str]) -> dict[str, object]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["backup_target"],
        "properties": {
            "backup_target": {
                "type": "object",
                "additionalProperties": False,
                "required": required,
                "properties": _FIELDS,
            }
        },
    }


CREATE = _body(["name", "type", "url"])
UPDATE = _body([])
BACKUP_TARGET = {
    "type": "object",
    "required": ["id", "name", "type", "url", "is_default", "immutable", "read_only"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "type": {"type": "string", "enum": ["nfs", "posix", "s3"]},
        "url": {"type": "string"},
        "is_default": {"type": "boolean"},
        "immutable": {"type": "boolean"},
        # The [backup_target] of the configuration, shown as target "config": not changeable here.
        "read_only": {"type": "boolean"},
        "has_credentials": {"type": "boolean"},
        "workload_count": {"type": "integer"},
        "mount_point": {"type": "string"},
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
    },
}
