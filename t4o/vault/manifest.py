"""Disk manifests: the complete block map of one disk in one snapshot (always a synthetic full).

A manifest is a JSON object at ``snapshots/<snapshot_id>/disks/<disk_id>.json``. ``chunks[i]`` is the
chunk id of bytes ``[i*chunk_size, min((i+1)*chunk_size, size))``, or null for an all-zero block.

``checksum`` identifies the whole logical disk: ``blake3tree:`` + hex BLAKE3 (unkeyed) of the
concatenation of the raw 32-byte chunk ids of every block in order, where a zero block counts as the
keyed id of that many zero bytes. It is computed while restoring from the re-hashed data, so a restore
proves it produced the same disk that was backed up, including for incrementals that did not read
unchanged blocks.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import blake3

from t4o.vault.chunks import chunk_id
from t4o.vault.errors import CorruptRepository, InvalidArgument

FORMAT = "t4o-vault-manifest"
VERSION = 1
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


def check_id(kind: str, value: str) -> str:
    if not isinstance(value, str) or not ID_RE.match(value):
        raise InvalidArgument(
            f"invalid {kind} {value!r}: use 1-128 letters, digits, '.', '_', ':' or '-', starting alnum"
        )
    return value


def manifest_key(snapshot_id: str, disk_id: str) -> str:
    return f"snapshots/{snapshot_id}/disks/{disk_id}.json"


def snapshot_doc_key(snapshot_id: str) -> str:
    return f"snapshots/{snapshot_id}/snapshot.json"


def block_count(size: int, chunk_size: int) -> int:
    return (size + chunk_size - 1) // chunk_size


def block_len(index: int, size: int, chunk_size: int) -> int:
    return min(chunk_size, size - index * chunk_size)


def tree_checksum(chunks: list[str | None], size: int, chunk_size: int, id_key: bytes) -> str:
    tree = blake3.blake3()
    zero_ids: dict[int, bytes] = {}
    for i, cid in enumerate(chunks):
        if cid is None:
            n = block_len(i, size, chunk_size)
            if n not in zero_ids:
                zero_ids[n] = bytes.fromhex(chunk_id(id_key, bytes(n)))
            tree.update(zero_ids[n])
        else:
            tree.update(bytes.fromhex(cid))
    return "blake3tree:" + tree.hexdigest()


@dataclass
class Manifest:
    snapshot_id: str
    disk_id: str
    workload_id: str
    size: int
    chunk_size: int
    chunks: list[str | None]
    checksum: str
    encrypted: bool
    created: str
    parent: str | None = None
    source_format: str = "raw"
    stats: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        """The reference other calls take: ``<snapshot_id>/<disk_id>``."""
        return f"{self.snapshot_id}/{self.disk_id}"

    @property
    def stored_blocks(self) -> int:
        return sum(1 for c in self.chunks if c is not None)

    def to_bytes(self) -> bytes:
        doc = {
            "format": FORMAT,
            "version": VERSION,
            "snapshot_id": self.snapshot_id,
            "disk_id": self.disk_id,
            "workload_id": self.workload_id,
            "created": self.created,
            "parent": self.parent,
            "size": self.size,
            "chunk_size": self.chunk_size,
            "encrypted": self.encrypted,
            "source_format": self.source_format,
            "checksum": self.checksum,
            "stats": self.stats,
            "metadata": self.metadata,
            "chunks": self.chunks,
        }
        return json.dumps(doc, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> Manifest:
        try:
            doc = json.loads(data)
            if doc.get("format") != FORMAT:
                raise ValueError("not a manifest")
            if doc.get("version") != VERSION:
                raise ValueError(f"unsupported manifest version {doc.get('version')}")
            m = cls(
                snapshot_id=doc["snapshot_id"],
                disk_id=doc["disk_id"],
                workload_id=doc["workload_id"],
                size=int(doc["size"]),
                chunk_size=int(doc["chunk_size"]),
                chunks=list(doc["chunks"]),
                checksum=doc["checksum"],
                encrypted=bool(doc["encrypted"]),
                created=doc["created"],
                parent=doc.get("parent"),
                source_format=doc.get("source_format", "raw"),
                stats=doc.get("stats") or {},
                metadata=doc.get("metadata") or {},
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise CorruptRepository(f"manifest {where} is damaged ({exc})") from None
        if len(m.chunks) != block_count(m.size, m.chunk_size):
            raise CorruptRepository(f"manifest {where} is damaged (block count does not match size)")
        return m
