"""Schemas of restores: the body that starts one (oneclick, selective, inplace; network-topology and
security-groups, which restore no VM), the restore, the list's query."""

from __future__ import annotations

from t4o.api.schemas.common import ID, JOB_FIELDS, NAME, STR, TEXT
from t4o.api.schemas.workloads import PAGE

LIST_QUERY = {"snapshot_id": STR, **PAGE}

_SIZE = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
# A VM's flavor: an existing one (id or name), or the sizes it needs (found or created).
_FLAVOR = {
    "type": "object",
    "properties": {"id": ID, **{k: _SIZE for k in ("vcpus", "ram", "disk", "ephemeral", "swap")}},
}
# The target network of one of a VM's recorded ports: the port by its snapshot id or MAC, else by place.
_NIC = {
    "type": "object",
    "required": ["network"],
    "properties": {
        "id": ID,
        "mac_address": NAME,
        "network": {
            "type": "object",
            "required": ["id"],
            "properties": {"id": ID, "subnet": {"type": "object", "properties": {"id": ID}}},
        },
    },
}
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
                                            "flavor": _FLAVOR,
                                            "nics": {"type": "array", "maxItems": 64, "items": _NIC},
                                            "vdisks": {
                                                "type": "array",
                                                "maxItems": 64,
                                                "items": {
                                                    "type": "object",
                                                    "required": ["id"],
                                                    "properties": {
                                                        "id": ID,
                                                        "include": {"type": "boolean"},
                                                        "name": NAME,
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
