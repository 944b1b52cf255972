"""Schemas of Trilio's trusts: a user's delegation of a role to T4O's service user."""

from __future__ import annotations

from t4o.api.schemas.common import NAME

CREATE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["trusts"],
    "properties": {
        "trusts": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "role_name": {**NAME, "description": "Role delegated (default: [trustee] trustee_role)"},
                "is_cloud_trust": {"type": "boolean", "description": "The cloud administrator's trust"},
            },
        }
    },
}

TRUST = {
    "type": "object",
    "required": ["name", "value", "user_id", "project_id", "metadata"],
    "properties": {
        "name": {"type": "string"},
        "value": {"type": "string", "description": "The Keystone trust id"},
        "user_id": {"type": "string"},
        "project_id": {"type": "string"},
        "category": {"type": "string"},
        "type": {"type": "string"},
        "description": {"type": "string"},
        "is_public": {"type": "boolean"},
        "is_hidden": {"type": "boolean"},
        "metadata": {
            "type": "object",
            "properties": {
                "role_name": {"type": "string"},
                "is_cloud_trust": {"type": "string", "enum": ["true", "false"]},
            },
        },
        "created_at": {"type": ["string", "null"]},
    },
}
