"""Schemas of restores: the body that starts one (oneclick, selective, inplace; network-topology and
security-groups, which restore no VM), the restore, the list's query."""

from __future__ import annotations

from t4o.api.schemas.common import ID, JOB_FIELDS, NAME, STR, TEXT
from t4o.api.schemas.workloads import PAGE

LIST_QUERY = {"snapshot_id": STR, **PAGE}

_SIZE = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
CREATE = {
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
                        "restore_type": {
                            "type": "string",
                            "enum": [
                                "oneclick",
                                "selective",
                                "inplace",
                                "network-topology",
                                "security-groups",
                            ],
                        },
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

RESTORE = {
    "type": "object",
    "required": ["id", "status", "snapshot_id", "progress_percent"],
    "properties": {
        **JOB_FIELDS,
        "snapshot_id": {"type": "string"},
        "restore_type": {"type": "string"},
        "restore_options": {"type": "object"},
        "instances": {"type": "array"},
    },
}
