"""Schema of the service-wide metrics."""

from __future__ import annotations

QUERY = {"limit": {"type": "integer", "minimum": 1, "maximum": 500}}

_BYTES_OR_NULL = {"type": ["integer", "null"], "minimum": 0}
BACKUP_TARGET = {
    "type": "object",
    "required": ["id", "name", "url", "type", "total_bytes", "free_bytes", "stored_bytes", "reason"],
    "properties": {
        "id": {"type": "string", "description": "The target's id (config: the [backup_target] of t4o.conf)"},
        "name": {"type": "string"},
        "url": {"type": "string", "description": "The target's location (without credentials or query)"},
        "type": {"type": "string", "enum": ["nfs", "posix", "s3"]},
        "default": {"type": "boolean", "description": "New workloads that name no target go here"},
        "mount_point": {
            "type": ["string", "null"],
            "description": "Mount point of the directory's filesystem (posix, nfs)",
        },
        "total_bytes": {**_BYTES_OR_NULL, "description": "Size of the filesystem; null: unknown, see reason"},
        "free_bytes": {**_BYTES_OR_NULL, "description": "Bytes the services may still write; null: unknown"},
        "used_bytes": {**_BYTES_OR_NULL, "description": "Bytes in use on the filesystem (by anything)"},
        "stored_bytes": {
            "type": "integer",
            "minimum": 0,
            "description": "Bytes the snapshots of the workloads on this target stored there (after dedup "
            "and compression), as the database records them: summed like the Storage quota's usage, so the "
            "targets add up to the projects' stored_bytes",
        },
        "snapshots": {"type": "integer", "minimum": 0, "description": "Live snapshots on the target"},
        "workload_count": {"type": "integer", "minimum": 0, "description": "Live workloads on the target"},
        "reason": {"type": ["string", "null"], "description": "Why the capacity is null"},
    },
}
BACKUP_TARGETS = {"type": "array", "items": BACKUP_TARGET}

_COUNT = {"type": "integer", "minimum": 0}
STORAGE_ROW = {
    "type": "object",
    "required": ["project_id", "snapshots", "bytes", "stored_bytes"],
    "properties": {
        "project_id": {"type": "string"},
        "snapshots": {**_COUNT, "description": "Live (not deleted) snapshots"},
        "bytes": {**_COUNT, "description": "Provisioned: the size of the disks they captured"},
        "stored_bytes": {**_COUNT, "description": "Stored on the target: the Storage quota's usage"},
        "full_stored_bytes": {**_COUNT, "description": "Of stored_bytes, by full snapshots"},
        "incremental_stored_bytes": {**_COUNT, "description": "Of stored_bytes, by incremental snapshots"},
    },
}
STORAGE_ROWS = {"type": "array", "items": STORAGE_ROW}

METRICS = {
    "type": "object",
    "required": ["metrics"],
    "properties": {
        "metrics": {
            "type": "object",
            "required": ["storage_usage", "protected_vms", "recent_activity", "nodes"],
            "properties": {
                "storage_usage": STORAGE_ROWS,
                "protected_vms": {"type": "integer"},
                "protected_volumes": {"type": "integer"},
                "recent_activity": {"type": "array", "items": {"type": "object"}},
                "nodes": {"type": "array", "items": {"type": "object"}},
                "backup_targets": BACKUP_TARGETS,
            },
        }
    },
}
