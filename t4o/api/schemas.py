"""JSON Schemas (2020-12, as OpenAPI 3.1 uses them) of request bodies and response objects.

Strings are bounded and refuse NUL: every value must be storable as-is in SQLite, MariaDB and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

NAME = {"type": "string", "maxLength": 255, "pattern": "^[^\\u0000]*$"}
TEXT = {"type": "string", "maxLength": 4096, "pattern": "^[^\\u0000]*$"}
ID = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^\\u0000]+$"}
METADATA = {
    "type": "object",
    "additionalProperties": {"type": "string", "maxLength": 1024},
    "maxProperties": 64,
}
NULLABLE_TEXT = {"type": ["string", "null"]}
TIMESTAMP = {"type": ["string", "null"], "format": "date-time"}

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

WORKLOAD_CREATE = {
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

WORKLOAD_UPDATE = {
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
            },
        }
    },
}

SNAPSHOT_CREATE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "snapshot": {
            "type": "object",
            "properties": {"name": NAME, "description": TEXT},
        }
    },
}

_SIZE = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
RESTORE_CREATE = {
    "type": "object",
    "required": ["restore"],
    "additionalProperties": False,
    "properties": {
        "restore": {
            "type": "object",
            "properties": {
                "name": NAME,
                "description": TEXT,
                "options": {
                    "type": "object",
                    "properties": {
                        "name": NAME,
                        "description": TEXT,
                        "type": {"type": "string", "enum": ["openstack"]},
                        "restore_type": {"type": "string", "enum": ["oneclick", "selective", "inplace"]},
                        "oneclickrestore": {"type": "boolean"},
                        "zone": NAME,
                        "openstack": {
                            "type": "object",
                            "properties": {
                                "instances": {
                                    "type": "array",
                                    "maxItems": 256,
                                    "items": {
                                        "type": "object",
                                        "required": ["id"],
                                        "properties": {
                                            "id": ID,
                                            "include": {"type": "boolean"},
                                            "name": NAME,
                                            "availability_zone": NAME,
                                            "restore_boot_disk": {"type": "boolean"},
                                            "flavor": {
                                                "type": "object",
                                                "properties": {
                                                    k: _SIZE
                                                    for k in ("vcpus", "ram", "disk", "ephemeral", "swap")
                                                },
                                            },
                                            "vdisks": {
                                                "type": "array",
                                                "maxItems": 64,
                                                "items": {
                                                    "type": "object",
                                                    "required": ["id"],
                                                    "properties": {
                                                        "id": ID,
                                                        "new_volume_type": NAME,
                                                        "availability_zone": NAME,
                                                        "restore_cinder_volume": {"type": "boolean"},
                                                    },
                                                },
                                            },
                                        },
                                    },
                                },
                                "networks_mapping": {
                                    "type": "object",
                                    "properties": {"networks": {"type": "array", "maxItems": 256}},
                                },
                                "restore_topology": {"type": "boolean"},
                            },
                        },
                    },
                },
            },
        }
    },
}

SETTING = {
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
SETTINGS_BODY = {
    "type": "object",
    "required": ["settings"],
    "additionalProperties": False,
    "properties": {"settings": {"type": "array", "minItems": 1, "maxItems": 100, "items": SETTING}},
}

# ------------------------------------------------------------------ responses
ERROR = {
    "type": "object",
    "minProperties": 1,
    "maxProperties": 1,
    "additionalProperties": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
    },
}

WORKLOAD_TYPE = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "description": {"type": "string"},
        "is_public": {"type": "boolean"},
        "metadata": {"type": "object"},
        "created_at": TIMESTAMP,
    },
}

_JOB_FIELDS: dict[str, Any] = {
    "id": {"type": "string"},
    "name": {"type": "string"},
    "description": {"type": "string"},
    "project_id": {"type": "string"},
    "user_id": {"type": "string"},
    "workload_id": {"type": "string"},
    "status": {
        "type": "string",
        "enum": ["queued", "executing", "cancelling", "available", "error", "cancelled"],
    },
    "progress_percent": {"type": "integer", "minimum": 0, "maximum": 100},
    "progress_msg": {"type": "string"},
    "warning_msg": NULLABLE_TEXT,
    "error_msg": NULLABLE_TEXT,
    "time_taken": {"type": "number"},
    "size": {"type": "integer"},
    "uploaded_size": {"type": "integer"},
    "host": NULLABLE_TEXT,
    "created_at": TIMESTAMP,
    "updated_at": TIMESTAMP,
    "finished_at": TIMESTAMP,
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
        "instances": {
            "type": "array",
            "items": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}}},
        },
        "storage_usage": {"type": "object"},
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
    },
}

SNAPSHOT = {
    "type": "object",
    "required": ["id", "status", "workload_id", "progress_percent"],
    "properties": {**_JOB_FIELDS, "snapshot_type": {"type": "string"}, "instances": {"type": "array"}},
}

RESTORE = {
    "type": "object",
    "required": ["id", "status", "snapshot_id", "progress_percent"],
    "properties": {
        **_JOB_FIELDS,
        "snapshot_id": {"type": "string"},
        "restore_type": {"type": "string"},
        "restore_options": {"type": "object"},
        "instances": {"type": "array"},
    },
}

SETTING_OUT = {
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

GLOBAL_JOB_SCHEDULER = {
    "type": "object",
    "required": ["global_job_scheduler"],
    "properties": {"global_job_scheduler": {"type": "boolean"}},
}


def wrap(key: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": [key], "properties": {key: schema}}


def wrap_list(key: str, schema: dict[str, Any]) -> dict[str, Any]:
    return wrap(key, {"type": "array", "items": schema})
