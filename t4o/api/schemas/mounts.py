"""Schemas of snapshot mounts: a snapshot's disks attached to a recovery VM (Trilio's snapshot mount)."""

from __future__ import annotations

from typing import Any

from t4o.api.schemas.common import ID, NULLABLE_TEXT, TIMESTAMP

MOUNT_BODY = {
    "type": "object",
    "required": ["mount"],
    "additionalProperties": False,
    "properties": {
        "mount": {
            "type": "object",
            "required": ["mount_vm_id"],
            "properties": {
                "mount_vm_id": {**ID, "description": "The recovery VM: a server of the project, ACTIVE."},
                # Trilio's client sends options (empty); nothing in them changes a mount.
                "options": {"type": "object"},
            },
        }
    },
}

# Trilio's client sends {} or {"mount": {}}; a dismount takes nothing.
DISMOUNT_BODY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"mount": {"type": "object"}},
}

DISK = {
    "type": "object",
    "required": ["vm_id", "disk", "device", "serial"],
    "properties": {
        "vm_id": {"type": "string", "description": "The snapshot's VM the disk belongs to."},
        "disk": {"type": "string", "description": "The disk in that VM, e.g. vda."},
        "device": {
            "type": ["string", "null"],
            "description": "The device in the recovery VM, e.g. vdb (as libvirt names it).",
        },
        "serial": {
            "type": "string",
            "description": "The disk's serial: /dev/disk/by-id/virtio-<serial> in the recovery VM.",
        },
    },
}

MOUNT: dict[str, Any] = {
    "type": "object",
    "required": ["id", "snapshot_id", "mount_vm_id", "status", "disks"],
    "properties": {
        "id": {"type": "string"},
        "snapshot_id": {"type": "string"},
        "snapshot_name": {"type": "string"},
        "workload_id": {"type": "string"},
        "mount_vm_id": {"type": "string"},
        "host": NULLABLE_TEXT,
        "status": {"type": "string", "enum": ["mounting", "mounted", "dismounting", "dismounted", "error"]},
        "error_msg": NULLABLE_TEXT,
        "disks": {"type": "array", "items": DISK},
        "mounted_at": TIMESTAMP,
        "last_used_at": {**TIMESTAMP, "description": "The last read of a disk by the recovery VM."},
        "expires_at": {
            **TIMESTAMP,
            "description": "When the mount is dismounted unless a disk is read before "
            "([file_recovery] mount_idle_timeout after the last read).",
        },
        "dismounted_at": TIMESTAMP,
        "dismount_reason": NULLABLE_TEXT,
    },
}
