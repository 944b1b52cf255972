"""The backup's CPU savers keep blocks exact: zero test on views, the incompressibility probe, blobs
sealed in place, and blocks read by the workers into reused buffers."""

from __future__ import annotations

import os

import pytest
import zstandard
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from t4o.vault import PosixBackend, Repository
from t4o.vault.chunks import COMP_NONE, COMP_ZSTD, ENC_AESGCM, ChunkCodec, incompressible, is_zero
from t4o.vault.errors import SourceError
from t4o.vault.source import DiskSource

KEY = bytes(range(32))
MiB = 1 << 20


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_is_zero_on_any_buffer(kind):
    zero = bytearray(MiB)
    assert is_zero(kind(zero))
    assert is_zero(memoryview(zero)[: 3 * 4096])
    for pos in (0, 4096, MiB - 1):
        one = bytearray(MiB)
        one[pos] = 1
        assert not is_zero(kind(one))
        assert not is_zero(memoryview(one)[pos:])
    assert is_zero(b"")


def test_incompressible_probe():
    assert incompressible(os.urandom(MiB))
    assert not incompressible(b"disk " * (MiB // 5))
    # One compressible quarter is enough for zstd to get the whole block.
    mixed = os.urandom(3 * MiB // 4) + b"text " * (MiB // 20)
    assert not incompressible(mixed)
    blob = ChunkCodec(KEY).encode("00" * 32, mixed)
    assert blob[1] == COMP_ZSTD and len(blob) < len(mixed) - MiB // 8
    assert not incompressible(os.urandom(65536))  # a piece: zstd decides
    blob = ChunkCodec(KEY).encode("00" * 32, os.urandom(65536))
    assert blob[1] == COMP_NONE


@pytest.mark.parametrize("enc", [None, bytes(range(32, 64))])
@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_encode_from_a_reused_buffer(enc, kind):
    """A blob owns its bytes: the reader's buffer is filled with the next block right after."""
    c = ChunkCodec(KEY, enc)
    for fill in (b"abc" * (MiB // 3) + b"d", os.urandom(MiB)):
        buf = bytearray(fill)
        cid = c.chunk_id(kind(buf))
        blob = c.encode(cid, kind(buf))
        buf[:] = bytes(MiB)
        assert c.decode(cid, bytes(blob), MiB) == fill
        assert blob[2] == (ENC_AESGCM if enc else 0)
        if blob[1] == COMP_ZSTD:
            plain = bytes(blob[4:])
            frame = plain if enc is None else AESGCM(enc).decrypt(plain[:12], plain[12:], bytes.fromhex(cid))
            assert zstandard.frame_content_size(frame) == MiB  # restore sizes its output from it
        else:
            assert blob[1] == COMP_NONE


def test_read_into_and_short_read(tmp_path):
    path = tmp_path / "disk.raw"
    data = os.urandom(3 * 65536 + 1000)
    path.write_bytes(data)
    with DiskSource(path) as src:
        buf = bytearray(65536)
        src.read_into(65536, buf)
        assert buf == data[65536:131072]
        tail = memoryview(bytearray(65536))[:1000]
        src.read_into(3 * 65536, tail)
        assert tail == data[-1000:]
        with pytest.raises(SourceError, match="shrank or vanished"):
            src.read_into(3 * 65536, bytearray(65536))


@pytest.mark.parametrize("encrypt", [False, True])
def test_backup_read_by_workers_restores_exactly(tmp_path, encrypt):
    """Many distinct blocks, zeros, random and text ones, a hole and a short last block, through the
    workers' reused buffers: every block is stored as itself."""
    cs = 65536
    backend = PosixBackend(tmp_path / "repo", fsync=False)
    repo = Repository.init(backend, chunk_size=cs, password="pw" if encrypt else None)
    disk = tmp_path / "disk.raw"
    with open(disk, "wb") as f:
        for i in range(40):
            kind = i % 4
            if kind == 0:
                f.write(os.urandom(cs))
            elif kind == 1:
                f.write((f"block {i} ".encode() * cs)[:cs])
            elif kind == 2:
                f.write(bytes(cs))
            else:
                f.seek(cs, os.SEEK_CUR)  # a hole
        f.write(b"tail" * 100)
    m = repo.backup_disk(disk, "d0")
    # Holes are not read (where the filesystem keeps them: a hole read is one more zero block).
    read = m.stats["read_bytes"]
    assert 30 * cs + 400 <= read <= 40 * cs + 400 and (read - 400) % cs == 0
    assert m.stats["zero_blocks"] == 10 + (read - 400 - 30 * cs) // cs
    assert m.stats["new_chunks"] == 21
    out = tmp_path / "out.raw"
    repo.restore_disk(m.ref, out)
    assert out.read_bytes() == disk.read_bytes()
