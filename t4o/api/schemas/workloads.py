"""Schemas of workloads: create and update bodies, the workload, the list's query."""

from __future__ import annotations

from t4o.api.schemas.common import BOOL, ID, METADATA, NAME, NULLABLE_TEXT, TEXT, TIMESTAMP, page_query
from t4o.workloads.paging import SORT_KEYS

# The lists of workloads, snapshots and restores.
PAGE = page_query(SORT_KEYS)
LIST_QUERY = {"all_workloads": BOOL, **PAGE}

JOBSCHEDULE = {
    "type": "object",
    "maxProperties": 64,
    "properties": {
        "enabled": {"type": "boolean"},
        "start_date": NAME,
        "end_date": NAME,
        "start_time": NAME,
        "interval": NAME,
        "timezone": NAME,
        "retention_policy_type": NAME,
        "retention_policy_value": {"type": ["string", "integer"], "maxLength": 64},
        "fullbackup_interval": {"type": ["string", "integer"], "maxLength": 64},
        # Hours; null removes it. Checked by t4o.policies.jobschedule (400 naming the field).
        "rpo_hours": {"type": ["number", "string", "null"], "maxLength": 64},
        # When scheduled snapshots may start, 24-hour times in the schedule's time zone (end before start
        # crosses midnight); null or absent: any time. Checked by t4o.policies.windows (400 naming it).
        "window": {
            "type": ["object", "null"],
            "maxProperties": 8,
            "properties": {
                "start": {"type": "string", "maxLength": 16},
                "end": {"type": "string", "maxLength": 16},
            },
        },
    },
}

INSTANCES = {
    "type": "array",
    "minItems": 1,
    "maxItems": 256,
    "items": {
        "type": "object",
        "required": ["instance-id"],
        # Nova server ids are UUIDs.
        "properties": {"instance-id": {"type": "string", "format": "uuid"}},
    },
}

CREATE = {
    "type": "object",
    "required": ["workload"],
    "additionalProperties": False,
    "properties": {
        "workload": {
            "type": "object",
            "required": ["instances"],
            "properties": {
                "name": NAME,
                "description": TEXT,
                "workload_type_id": ID,
                "source_platform": {"type": "string", "enum": ["openstack"]},
                "instances": INSTANCES,
                "jobschedule": JOBSCHEDULE,
                "metadata": METADATA,
                "encryption": {"type": "boolean"},
                "secret_uuid": {"type": ["string", "null"], "maxLength": 255, "pattern": "^[^\\u0000]*$"},
                # Where its snapshots are stored (GET /backup_targets); absent: the default target.
                "backup_target_id": ID,
            },
            # An encrypted workload names its Barbican secret.
            "if": {"required": ["encryption"], "properties": {"encryption": {"const": True}}},
            "then": {
                "required": ["secret_uuid"],
                "properties": {"secret_uuid": {"type": "string", "minLength": 1}},
            },
        }
    },
}

UPDATE = {
    "type": "object",
    "required": ["workload"],
    "additionalProperties": False,
    "properties": {
        "workload": {
            "type": "object",
            "properties": {
                "name": NAME,
                "description": TEXT,
                "instances": INSTANCES,
                "jobschedule": JOBSCHEDULE,
                "metadata": METADATA,
                # Accepted only unchanged (409 otherwise: the workload's snapshots live on its target).
                "backup_target_id": ID,
                # An encrypted workload's new Barbican secret: its key is re-wrapped, no data rewritten.
                "secret_uuid": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 255,
                    "pattern": "^[^\\u0000]*$",
                },
            },
        }
    },
}

WORKLOAD = {
    "type": "object",
    "required": ["id", "name", "status", "project_id", "instances"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "description": {"type": "string"},
        "project_id": {"type": "string"},
        "user_id": {"type": "string"},
        "workload_type_id": {"type": "string"},
        "source_platform": {"type": "string"},
        "status": {"type": "string"},
        "error_msg": NULLABLE_TEXT,
        "jobschedule": {"type": "object"},
        "metadata": {"type": "object"},
        "encryption": {"type": "boolean"},
        "secret_uuid": NULLABLE_TEXT,
        "backup_target_id": {"type": "string"},  # "config": the [backup_target] of the configuration
        "instances": {
            "type": "array",
            "items": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}}},
        },
        "storage_usage": {"type": "object"},
        # Shown by GET .../workloads/{id} and GET .../workloads/detail: the RPO of the jobschedule and how
        # the newest available snapshot stands against it.
        "rpo_hours": {"type": ["number", "null"]},
        "rpo_breached": {"type": "boolean"},
        "last_snapshot_at": {"type": ["string", "null"]},
        "last_snapshot_age_seconds": {"type": ["number", "null"]},
        "rpo_missed_since": {"type": ["string", "null"]},  # when the RPO got breached; null when it holds
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
    },
}

DELETE_QUERY = {"database_only": BOOL}
# ?full=1 takes a full snapshot.
SNAPSHOT_QUERY = {"full": {"type": "string", "enum": ["0", "1", "true", "false", "True", "False"]}}
