"""The datamover's vault glue: back up a source object, restore it into a writer, checksum it back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from t4o.datamover import vault_io
from t4o.vault.errors import CorruptRepository

MiB = 1 << 20


class MemSource:
    path, format = "mem:vda", "raw"

    def __init__(self, data: bytearray) -> None:
        self.data = data
        self.size = len(data)

    def read(self, offset: int, length: int) -> bytes:
        return bytes(self.data[offset : offset + length])

    def data_extents(self) -> list[tuple[int, int]]:
        return [(0, self.size)]


class MemWriter:
    def __init__(self, size: int) -> None:
        self.size = size
        self.data = bytearray(b"\xff" * size)  # old content that must be overwritten
        self.flushed = False

    def write(self, offset: int, data: bytes) -> None:
        self.data[offset : offset + len(data)] = data

    def write_zeroes(self, offset: int, length: int) -> None:
        self.data[offset : offset + length] = bytes(length)

    def flush(self) -> None:
        self.flushed = True


def test_full_then_incremental_restore_and_checksum(tmp_path: Path) -> None:
    repo = vault_io.open_repository(str(tmp_path / "vault"))
    data = bytearray(8 * MiB)
    data[MiB : 3 * MiB] = os.urandom(2 * MiB)
    full = vault_io.backup_source(
        repo, MemSource(data), snapshot_id="s1", disk_id="vm_vda", workload_id="w",
        parent=None, changed_extents=None,
    )  # fmt: skip
    assert not full.incremental and full.read_bytes == 8 * MiB
    data[5 * MiB : 5 * MiB + 4096] = b"\x01" * 4096
    seen: list[int] = []
    incr = vault_io.backup_source(
        repo, MemSource(data), snapshot_id="s2", disk_id="vm_vda", workload_id="w",
        parent=full.manifest.ref, changed_extents=[(5 * MiB, 4096)], on_bytes=seen.append,
    )  # fmt: skip
    assert incr.incremental and incr.read_bytes == MiB and incr.new_bytes <= MiB
    assert sum(seen) == MiB
    writer = MemWriter(8 * MiB)
    m = vault_io.restore_to_writer(repo, incr.manifest.ref, writer)
    assert writer.data == data and writer.flushed
    assert vault_io.disk_checksum(repo, m, MemSource(writer.data)) == m.checksum
    writer.data[0] = 9
    assert vault_io.disk_checksum(repo, m, MemSource(writer.data)) != m.checksum


def test_restore_refuses_a_target_of_another_size(tmp_path: Path) -> None:
    repo = vault_io.open_repository(str(tmp_path / "vault"))
    res = vault_io.backup_source(
        repo, MemSource(bytearray(2 * MiB)), snapshot_id="s1", disk_id="d", workload_id="w",
        parent=None, changed_extents=None,
    )  # fmt: skip
    with pytest.raises(CorruptRepository, match="target disk has"):
        vault_io.restore_to_writer(repo, res.manifest.ref, MemWriter(MiB))
