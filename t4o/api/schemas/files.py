"""Schemas of file recovery: browsing a snapshot disk's directories and downloading its files."""

from __future__ import annotations

from typing import Any

PATH = {"type": "string", "maxLength": 4096, "description": "An absolute path in the filesystem (default /)."}
PARTITION = {
    "type": "string",
    "maxLength": 255,
    "description": "The volume: a partition number (0 for a filesystem on the whole disk, 101 and up "
    "for LVM logical volumes) or an LV name vg/lv; default the first readable filesystem.",
}

QUERY: dict[str, dict[str, Any]] = {"path": PATH, "partition": PARTITION}

VOLUME = {
    "type": "object",
    "required": ["partition", "start", "size", "filesystem"],
    "properties": {
        "partition": {"type": "integer"},
        "start": {"type": "integer", "description": "Bytes from the start of the disk."},
        "size": {"type": "integer"},
        "filesystem": {"type": ["string", "null"], "description": "ext4, xfs, lvm2, swap... or null."},
        "table": {"type": "string", "enum": ["none", "mbr", "gpt", "lvm"]},
        "partition_type": {"type": "string"},
        "name": {"type": "string"},
    },
}

ENTRY = {
    "type": "object",
    "required": ["name", "path", "type", "size", "mode", "mtime", "link_target"],
    "properties": {
        "name": {"type": "string"},
        "path": {"type": "string"},
        "type": {
            "type": "string",
            "enum": ["file", "directory", "symlink", "chardev", "blockdev", "fifo", "socket", "unknown"],
        },
        "size": {"type": "integer"},
        "mode": {"type": "string", "description": "Permission bits in octal, e.g. 0644."},
        "mtime": {"type": "integer", "description": "Seconds since the epoch."},
        "uid": {"type": "integer"},
        "gid": {"type": "integer"},
        "link_target": {"type": ["string", "null"]},
    },
}

BROWSE = {
    "type": "object",
    "required": ["browse"],
    "properties": {
        "browse": {
            "type": "object",
            "required": ["path", "partition", "filesystem", "volumes", "entries"],
            "properties": {
                "path": {"type": "string"},
                "partition": {"type": "integer"},
                "filesystem": {"type": "string"},
                "volumes": {"type": "array", "items": VOLUME},
                "entries": {"type": "array", "items": ENTRY},
            },
        }
    },
}

BINARY = {"type": "string", "format": "binary"}
# What a download answers: a file's bytes, or a directory as a tar stream.
DOWNLOAD_CONTENT = {"application/octet-stream": {"schema": BINARY}, "application/x-tar": {"schema": BINARY}}
