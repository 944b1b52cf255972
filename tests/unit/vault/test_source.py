"""Disk sources: sizes, sparse extents, short reads, block ranges, restore targets."""

from __future__ import annotations

import os

import pytest

from t4o.vault.errors import InvalidArgument, SourceError
from t4o.vault.source import DiskSource, RestoreTarget, block_ranges, detect_format


def test_block_ranges():
    assert list(block_ranges([(0, 1)], 10_000, 1000)) == [0]
    assert list(block_ranges([(999, 2), (5000, 1000), (5500, 10)], 10_000, 1000)) == [0, 1, 5]
    assert list(block_ranges([(9500, 10_000)], 10_000, 1000)) == [9]
    assert list(block_ranges([(100, 0)], 10_000, 1000)) == []


def test_sparse_file_extents_and_short_read(tmp_path):
    p = tmp_path / "d.raw"
    with open(p, "wb") as f:
        f.truncate(8 << 20)
        f.seek(3 << 20)
        f.write(b"x" * 4096)
    with DiskSource(p) as src:
        assert src.format == "raw" and src.size == 8 << 20
        ext = src.data_extents()
        assert ext is not None and len(ext) == 1 and ext[0][0] <= 3 << 20 < ext[0][0] + ext[0][1]
        assert src.read(3 << 20, 4) == b"xxxx"
        os.truncate(p, 1 << 20)
        with pytest.raises(SourceError, match="shrank or vanished"):
            src.read(3 << 20, 4096)


def test_missing_source_and_bad_format(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        DiskSource(tmp_path / "nope")
    (tmp_path / "d").write_bytes(b"QFI\xfb" + bytes(100))
    assert detect_format(str(tmp_path / "d")) == "qcow2"
    with pytest.raises(InvalidArgument):
        DiskSource(tmp_path / "d", fmt="vmdk")


def test_restore_target_is_sparse(tmp_path):
    p = tmp_path / "out"
    t = RestoreTarget(p, 16 << 20)
    t.write_zeroes(0, 1 << 20)
    t.write(8 << 20, b"y" * 4096)
    t.finish()
    assert p.stat().st_size == 16 << 20
    assert p.stat().st_blocks * 512 < 1 << 20
