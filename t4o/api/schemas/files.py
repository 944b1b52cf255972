"""Schemas of file recovery: browsing a snapshot disk's directories and downloading its files."""

from __future__ import annotations

from typing import Any

PATH = {"type": "string", "maxLength": 4096, "description": "An absolute path in the filesystem (default /)."}
PATH_RAW = {
    "type": "string",
    "maxLength": 5464,  # base64 of 4096 bytes
    "contentEncoding": "base64",
    "description": "The path as the base64 of its exact bytes (standard or URL-safe alphabet, padding "
    "optional), instead of path: for a name that is not UTF-8, as an entry's path_raw gives it. "
    "Giving both path and path_raw, or a path_raw that is not base64, is a 400.",
}
PARTITION = {
    "type": "string",
    "maxLength": 255,
    "description": "The volume: a partition number (0 for a filesystem on the whole disk, 101 and up "
    "for LVM logical volumes) or an LV name vg/lv; default the first readable filesystem.",
}

QUERY: dict[str, dict[str, Any]] = {"path": PATH, "path_raw": PATH_RAW, "partition": PARTITION}

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


def _raw(what: str) -> dict[str, Any]:
    return {
        "type": "string",
        "contentEncoding": "base64",
        "description": f"The exact bytes of {what} in standard base64; present only when they are not "
        f"valid UTF-8 (the text then shows each undecodable byte as U+FFFD).",
    }


# A file name is bytes: name, path and link_target are text, and each that is not valid UTF-8 comes
# with its exact bytes as name_raw, path_raw, link_target_raw (a path_raw is what download takes).
ENTRY = {
    "type": "object",
    "required": ["name", "path", "type", "size", "mode", "mtime", "link_target"],
    "properties": {
        "name": {"type": "string"},
        "name_raw": _raw("the name"),
        "path": {"type": "string"},
        "path_raw": _raw("the path"),
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
        "link_target_raw": _raw("the symlink's target"),
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
                "path_raw": _raw("the directory's path"),
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
