"""Disk manifests: the complete block map of one disk in one snapshot (always a synthetic full).

A manifest is a JSON object at ``snapshots/<snapshot_id>/disks/<disk_id>.json``. Entry ``i`` of its
block list describes bytes ``[i*chunk_size, min((i+1)*chunk_size, size))``: null for an all-zero block,
the blob id of the whole block, or (version 2) a *patched* block: the parent's whole-block blob (or
zeros) with some of its pieces (``piece_size`` bytes each, 64 KiB) replaced by blobs of their own, so
an incremental after scattered small writes stores the pieces that changed, not whole blocks.

``checksum`` identifies the whole logical disk: ``blake3tree:`` + hex BLAKE3 (unkeyed) of the
concatenation of the raw 32-byte chunk ids of every block in order, where a zero block counts as the
keyed id of that many zero bytes. It is computed while restoring from the re-hashed data, so a restore
proves it produced the same disk that was backed up, including for incrementals that did not read
unchanged blocks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import blake3

from t4o.vault.chunks import chunk_id
from t4o.vault.errors import CorruptRepository, InvalidArgument

FORMAT = "t4o-vault-manifest"
VERSION = 2
READABLE = (1, 2)
KEY_SOURCES = ("repository", "workload")
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


@dataclass(frozen=True)
class Patched:
    """A block stored as ``base`` (a whole-block blob id, or None for zeros) with ``pieces`` replaced:
    ``(piece index, blob id or None for a zero piece)``, ascending. ``digest`` is the keyed BLAKE3 of the
    whole block as it is now, what a whole-block blob of it would be named: the disk checksum and the
    restore's check use it."""

    digest: str
    base: str | None
    pieces: tuple[tuple[int, str | None], ...]

    def blob_ids(self) -> Iterator[str]:
        if self.base:
            yield self.base
        yield from (p for _, p in self.pieces if p)

    def to_json(self) -> list[Any]:
        return [self.digest, self.base, [[n, p] for n, p in self.pieces]]

    @classmethod
    def from_json(cls, doc: Any) -> Patched:
        digest, base, pieces = doc
        if not isinstance(digest, str) or not (base is None or isinstance(base, str)):
            raise ValueError("bad patched block")
        return cls(digest, base, tuple((int(n), p) for n, p in pieces))


Entry = str | Patched | None


def digest_of(entry: Entry) -> str | None:
    """The keyed id of the whole block an entry stands for (None: zeros)."""
    return entry.digest if isinstance(entry, Patched) else entry


def entry_blobs(entry: Entry) -> Iterator[str]:
    """The blob ids an entry needs."""
    if isinstance(entry, Patched):
        yield from entry.blob_ids()
    elif entry:
        yield entry


def tree_checksum(chunks: Sequence[Entry], size: int, chunk_size: int, id_key: bytes) -> str:
    tree = blake3.blake3()
    zero_ids: dict[int, bytes] = {}
    for i, entry in enumerate(chunks):
        cid = digest_of(entry)
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
    chunks: list[Entry]
    checksum: str
    encrypted: bool
    created: str
    parent: str | None = None
    source_format: str = "raw"
    stats: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    piece_size: int = 0  # 0: no patched blocks (a version 1 manifest)
    version: int = VERSION
    # "workload": encrypted with the workload's own key (keys/<workload_id>), else the repository's keys
    keys: str = "repository"

    @property
    def ref(self) -> str:
        """The reference other calls take: ``<snapshot_id>/<disk_id>``."""
        return f"{self.snapshot_id}/{self.disk_id}"

    @property
    def stored_blocks(self) -> int:
        return sum(1 for c in self.chunks if c is not None)

    def blob_ids(self) -> set[str]:
        """Every blob this disk needs."""
        return {b for entry in self.chunks for b in entry_blobs(entry)}

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
            "piece_size": self.piece_size,
            "blocks": [e.to_json() if isinstance(e, Patched) else e for e in self.chunks],
        }
        if self.keys != "repository":
            doc["keys"] = self.keys
        return json.dumps(doc, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> Manifest:
        try:
            doc = json.loads(data)
            if doc.get("format") != FORMAT:
                raise ValueError("not a manifest")
            version = doc.get("version")
            if version not in READABLE:
                raise ValueError(f"unsupported manifest version {version}")
            if version == 1:
                blocks: list[Entry] = list(doc["chunks"])
            else:
                blocks = [Patched.from_json(e) if isinstance(e, list) else e for e in doc["blocks"]]
            if not all(e is None or isinstance(e, str | Patched) for e in blocks):
                raise ValueError("bad block entry")
            m = cls(
                snapshot_id=doc["snapshot_id"],
                disk_id=doc["disk_id"],
                workload_id=doc["workload_id"],
                size=int(doc["size"]),
                chunk_size=int(doc["chunk_size"]),
                chunks=blocks,
                checksum=doc["checksum"],
                encrypted=bool(doc["encrypted"]),
                created=doc["created"],
                parent=doc.get("parent"),
                source_format=doc.get("source_format", "raw"),
                stats=doc.get("stats") or {},
                metadata=doc.get("metadata") or {},
                piece_size=int(doc.get("piece_size") or 0),
                version=version,
                keys=doc.get("keys", "repository"),
            )
            if m.keys not in KEY_SOURCES or (m.keys == "workload" and not m.encrypted):
                raise ValueError(f"unknown keys {m.keys!r}")
        except (ValueError, KeyError, TypeError) as exc:
            raise CorruptRepository(f"manifest {where} is damaged ({exc})") from None
        if len(m.chunks) != block_count(m.size, m.chunk_size):
            raise CorruptRepository(f"manifest {where} is damaged (block count does not match size)")
        if any(isinstance(e, Patched) for e in m.chunks) and (
            m.piece_size <= 0 or m.chunk_size % m.piece_size
        ):
            raise CorruptRepository(f"manifest {where} is damaged (patched blocks without a piece size)")
        return m
