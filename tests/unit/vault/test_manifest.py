"""Manifest serialisation, validation and the whole-disk checksum."""

from __future__ import annotations

import json

import pytest

from t4o.vault.chunks import chunk_id
from t4o.vault.errors import CorruptRepository, InvalidArgument
from t4o.vault.manifest import (
    Manifest,
    Patched,
    block_count,
    block_len,
    check_id,
    digest_of,
    tree_checksum,
)

KEY = b"k" * 32


def _m(chunks):
    return Manifest("s1", "vda", "wl", 2500, 1000, chunks, "blake3tree:x", False, "2026-01-01T00:00:00+00:00")


def test_round_trip():
    m = _m(["a" * 64, None, "b" * 64])
    back = Manifest.from_bytes(m.to_bytes(), "k")
    assert back == m and back.ref == "s1/vda" and back.stored_blocks == 2


def test_damage_is_reported():
    with pytest.raises(CorruptRepository, match="block count"):
        Manifest.from_bytes(_m(["a" * 64]).to_bytes(), "k")
    with pytest.raises(CorruptRepository):
        Manifest.from_bytes(b'{"format": "t4o-vault-manifest", "version": 1', "k")
    with pytest.raises(CorruptRepository, match="unsupported"):
        Manifest.from_bytes(_m([None] * 3).to_bytes().replace(b'"version":2', b'"version":9'), "k")


def test_version_1_manifests_are_read_and_patched_blocks_round_trip():
    v1 = {
        "format": "t4o-vault-manifest",
        "version": 1,
        "snapshot_id": "s",
        "disk_id": "d",
        "workload_id": "w",
        "created": "2026-01-01T00:00:00+00:00",
        "size": 2500,
        "chunk_size": 1000,
        "encrypted": False,
        "checksum": "blake3tree:00",
        "chunks": ["a" * 64, None, "b" * 64],
    }
    m = Manifest.from_bytes(json.dumps(v1).encode(), "k")
    assert (m.version, m.chunks, m.piece_size) == (1, ["a" * 64, None, "b" * 64], 0)
    m.chunks[2] = Patched("c" * 64, "a" * 64, ((1, "d" * 64), (3, None)))
    m.piece_size = 250
    again = Manifest.from_bytes(m.to_bytes(), "k")
    assert again.version == 2 and again.chunks == m.chunks
    assert again.blob_ids() == {"a" * 64, "d" * 64} and digest_of(again.chunks[2]) == "c" * 64
    m.piece_size = 0
    with pytest.raises(CorruptRepository, match="piece size"):
        Manifest.from_bytes(m.to_bytes(), "k")


def test_blocks():
    assert block_count(2500, 1000) == 3 and block_count(0, 1000) == 0
    assert block_len(2, 2500, 1000) == 500


def test_checksum_counts_zero_blocks_as_their_id():
    size, cs = 2500, 1000
    ids = [chunk_id(KEY, bytes([1]) * 1000), chunk_id(KEY, bytes(1000)), chunk_id(KEY, bytes(500))]
    assert tree_checksum([ids[0], None, None], size, cs, KEY) == tree_checksum(ids, size, cs, KEY)
    # zero blocks are hashed with the disk's key, so the key is part of the checksum
    assert tree_checksum([None] * 3, size, cs, KEY) != tree_checksum([None] * 3, size, cs, b"j" * 32)


@pytest.mark.parametrize("bad", ["", "a/b", "../x", "-x", "a" * 200, "a b"])
def test_bad_ids(bad):
    with pytest.raises(InvalidArgument):
        check_id("disk id", bad)
