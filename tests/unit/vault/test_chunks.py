"""Chunk encoding: ids, compression choice, encryption, and damage detection."""

from __future__ import annotations

import os

import pytest

from t4o.vault.chunks import COMP_NONE, COMP_ZSTD, ENC_AESGCM, ChunkCodec, chunk_key, is_zero
from t4o.vault.errors import CorruptRepository

KEY = bytes(range(32))


def test_compressible_block_is_zstd_and_round_trips():
    c = ChunkCodec(KEY)
    data = b"abc" * 100000
    cid = c.chunk_id(data)
    blob = c.encode(cid, data)
    assert blob[1] == COMP_ZSTD and len(blob) < len(data) // 10
    assert c.decode(cid, blob, len(data)) == data


def test_random_block_is_stored_raw():
    c = ChunkCodec(KEY)
    data = os.urandom(65536)
    cid = c.chunk_id(data)
    blob = c.encode(cid, data)
    assert blob[1] == COMP_NONE and blob[4:] == data
    assert c.decode(cid, blob) == data


def test_ids_are_keyed():
    data = b"x" * 1000
    assert ChunkCodec(KEY).chunk_id(data) != ChunkCodec(bytes(32)).chunk_id(data)
    assert len(ChunkCodec(KEY).chunk_id(data)) == 64


def test_encrypted_round_trip_and_wrong_key():
    enc = os.urandom(32)
    c = ChunkCodec(KEY, enc)
    data = b"secret " * 5000
    cid = c.chunk_id(data)
    blob = c.encode(cid, data)
    assert blob[2] == ENC_AESGCM and b"secret" not in blob
    assert c.decode(cid, blob) == data
    with pytest.raises(CorruptRepository, match="authentication failed"):
        ChunkCodec(KEY, os.urandom(32)).decode(cid, blob)
    with pytest.raises(CorruptRepository, match="no key"):
        ChunkCodec(KEY).decode(cid, blob)


@pytest.mark.parametrize("enc", [None, b"k" * 32])
def test_damage_is_detected(enc):
    c = ChunkCodec(KEY, enc)
    data = os.urandom(4096) + bytes(4096)
    cid = c.chunk_id(data)
    blob = bytearray(c.encode(cid, data))
    blob[-5] ^= 0xFF
    with pytest.raises(CorruptRepository):
        c.decode(cid, bytes(blob))
    with pytest.raises(CorruptRepository, match="bad header"):
        c.decode(cid, b"\x00\x01")
    with pytest.raises(CorruptRepository, match="holds"):
        c.decode(cid, c.encode(cid, data), size=len(data) + 1)


def test_zero_detection_and_keys():
    assert is_zero(bytes(1 << 20)) and not is_zero(bytes(100) + b"\x01")
    assert chunk_key("ab" + "0" * 62) == "chunks/ab/ab" + "0" * 62
