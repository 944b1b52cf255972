"""A repository written in format version 1 (one object per chunk, manifests with ``chunks``) is read,
verified, backed up into (which upgrades it to version 2) and garbage-collected by this version."""

from __future__ import annotations

import json
import os
from pathlib import Path

from t4o.vault import PosixBackend, Repository
from t4o.vault.chunks import ChunkCodec
from t4o.vault.keys import RepoKeys
from t4o.vault.manifest import tree_checksum

CS = 256 * 1024


def write_v1_repository(root: Path, disk: bytes) -> str:
    """The objects version 1 wrote, built from its document: returns the disk's checksum."""
    keys = RepoKeys.generate()
    config = {
        "format": "t4o-vault",
        "version": 1,
        "id": "ab" * 16,
        "created": "2026-01-01T00:00:00+00:00",
        "chunk_size": CS,
        "chunk_id": "blake3-keyed",
        "compression": "zstd",
        "compression_level": 3,
        "encryption": "none",
        "keys": keys.to_json(),
    }
    (root / "chunks").mkdir(parents=True)
    (root / "config").write_text(json.dumps(config))
    codec = ChunkCodec(keys.id_key)
    chunks: list[str | None] = []
    for off in range(0, len(disk), CS):
        block = disk[off : off + CS]
        if block == bytes(len(block)):
            chunks.append(None)
            continue
        cid = codec.chunk_id(block)
        (root / "chunks" / cid[:2]).mkdir(exist_ok=True)
        (root / "chunks" / cid[:2] / cid).write_bytes(codec.encode(cid, block))
        chunks.append(cid)
    checksum = tree_checksum(chunks, len(disk), CS, keys.id_key)
    manifest = {
        "format": "t4o-vault-manifest",
        "version": 1,
        "snapshot_id": "old",
        "disk_id": "vda",
        "workload_id": "w",
        "created": "2026-01-01T00:00:00+00:00",
        "parent": None,
        "size": len(disk),
        "chunk_size": CS,
        "encrypted": False,
        "source_format": "raw",
        "checksum": checksum,
        "stats": {},
        "metadata": {},
        "chunks": chunks,
    }
    (root / "snapshots" / "old" / "disks").mkdir(parents=True)
    (root / "snapshots" / "old" / "disks" / "vda.json").write_text(json.dumps(manifest))
    doc = {"snapshot_id": "old", "workload_id": "w", "created": "2026-01-01T00:00:00+00:00", "metadata": {}}
    (root / "snapshots" / "old" / "snapshot.json").write_text(json.dumps(doc))
    return checksum


def age(root: Path, seconds: float) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            t = path.stat().st_mtime - seconds
            os.utime(path, (t, t))


def test_a_version_1_repository_is_read_upgraded_and_collected(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    model = bytearray(os.urandom(8 * CS))
    model[2 * CS : 3 * CS] = bytes(CS)  # a zero block
    checksum = write_v1_repository(root, bytes(model))
    repo = Repository.open(PosixBackend(root))
    assert repo.version == 1 and repo.settings()["format"] == "t4o-vault v1"
    out = tmp_path / "out.raw"
    assert repo.restore_disk("old/vda", out).checksum == checksum
    assert out.read_bytes() == bytes(model)
    assert repo.verify(read_data=True).ok

    # A backup into it upgrades the repository; unchanged blocks stay in their old chunk objects.
    disk = tmp_path / "disk.raw"
    model[5 * CS : 6 * CS] = os.urandom(CS)  # a whole block rewritten
    model[7 * CS + 4096 : 7 * CS + 8192] = os.urandom(4096)  # a page: a piece of block 7
    disk.write_bytes(bytes(model))
    m = repo.backup_disk(
        disk, "vda", snapshot_id="new", workload_id="w", parent="old/vda",
        changed_extents=[(5 * CS, CS), (7 * CS + 4096, 4096)],
    )  # fmt: skip
    assert m.stats["read_bytes"] == 2 * CS and m.stats["patched_blocks"] == 1
    config = json.loads((root / "config").read_text())
    assert (config["version"], config["legacy_chunks"]) == (2, True)
    reopened = Repository.open(PosixBackend(root))
    assert reopened.version == 2 and reopened.legacy_chunks
    reopened.restore_disk("new/vda", out)
    assert out.read_bytes() == bytes(model)
    assert reopened.verify(read_data=True).ok

    # Deleting the old snapshot frees its chunk objects the new one does not need (block 5's).
    reopened.delete_snapshot("old")
    age(root, 120)
    report = reopened.gc(grace=60)
    assert report.swept and report.deleted == 1
    assert len(list((root / "chunks").rglob("*/*"))) == 6  # blocks 0, 1, 3, 4, 6 and block 7's base
    reopened.restore_disk("new/vda", out)
    assert out.read_bytes() == bytes(model)
    assert reopened.verify(read_data=True).ok
