"""The streaming API: back up from any block source object, restore into any block writer, read a
restored disk back, with the lease, the commit order and the checksums inside the vault."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from t4o.vault import (
    CorruptRepository,
    InvalidArgument,
    Progress,
    Repository,
    SourceError,
    TargetError,
    backup_source,
    disk_checksum,
    open_repository,
    restore_to_writer,
)
from t4o.vault.gc import collect
from t4o.vault.manifest import manifest_key
from tests.fixtures.vault_blobs import damage_blob, forget_blob

MiB = 1 << 20


class MemSource:
    """A block source that is not a path: size, read(), data_extents()."""

    path, format = "mem:vda", "raw"

    def __init__(self, data: bytearray) -> None:
        self.data = data
        self.size = len(data)
        self.reads: list[int] = []

    def read(self, offset: int, length: int) -> bytes:
        self.reads.append(offset)
        return bytes(self.data[offset : offset + length])

    def data_extents(self) -> list[tuple[int, int]]:
        return [(0, self.size)]


class MemWriter:
    """A block writer: size, write(), write_zeroes(), flush(); optionally data_extents()."""

    def __init__(self, size: int, dirty: list[tuple[int, int]] | None = None) -> None:
        self.size = size
        self.data = bytearray(b"\xff" * size)  # old content that must be overwritten
        self.dirty = dirty
        self.zeroed: list[int] = []
        self.flushed = False

    def write(self, offset: int, data: bytes) -> None:
        self.data[offset : offset + len(data)] = data

    def write_zeroes(self, offset: int, length: int) -> None:
        self.zeroed.append(offset)
        self.data[offset : offset + length] = bytes(length)

    def flush(self) -> None:
        self.flushed = True


class FreshWriter(MemWriter):
    """A new disk: reads as zeros except where it says it may hold data."""

    def __init__(self, size: int, dirty: list[tuple[int, int]]) -> None:
        super().__init__(size)
        self.data = bytearray(size)
        self.dirty = dirty

    def data_extents(self) -> list[tuple[int, int]]:
        return list(self.dirty or [])


@pytest.fixture
def vault(tmp_path: Path) -> Repository:
    return open_repository(str(tmp_path / "vault"))


def test_full_then_incremental_into_a_writer_and_read_back(vault: Repository) -> None:
    data = bytearray(8 * MiB)
    data[MiB : 3 * MiB] = os.urandom(2 * MiB)
    full = backup_source(vault, MemSource(data), "vm_vda", snapshot_id="s1", workload_id="w")
    assert not full.stats["incremental"] and full.stats["read_bytes"] == 8 * MiB
    assert vault.get_snapshot("s1")["workload_id"] == "w"  # the snapshot names its workload
    data[5 * MiB : 5 * MiB + 4096] = b"\x01" * 4096
    seen: list[Progress] = []
    source = MemSource(data)
    incr = backup_source(
        vault, source, "vm_vda", snapshot_id="s2", workload_id="w", parent=full.ref,
        changed_extents=[(5 * MiB, 4096)], progress=seen.append,
    )  # fmt: skip
    assert source.reads == [5 * MiB]  # only the changed block was read
    assert incr.stats["incremental"] and incr.stats["read_bytes"] == MiB and incr.stats["new_bytes"] <= MiB
    assert incr.parent == full.ref and seen[-1].done == MiB
    writer = MemWriter(8 * MiB)
    m = restore_to_writer(vault, incr.ref, writer)
    assert writer.data == data and writer.flushed
    assert disk_checksum(vault, m, MemSource(writer.data)) == m.checksum == incr.checksum
    writer.data[0] = 9
    assert disk_checksum(vault, m, MemSource(writer.data)) != m.checksum


def test_a_fresh_writer_is_zeroed_only_where_it_may_hold_data(vault: Repository) -> None:
    data = bytearray(4 * MiB)
    data[0:MiB] = os.urandom(MiB)
    m = backup_source(vault, MemSource(data), "d", snapshot_id="s", workload_id="w")
    writer = FreshWriter(4 * MiB, dirty=[(2 * MiB + 10, 5)])
    writer.data[2 * MiB + 10 : 2 * MiB + 15] = b"stale"
    restore_to_writer(vault, m.ref, writer)
    assert writer.zeroed == [2 * MiB] and writer.data == data


def test_a_writer_smaller_than_the_disk_is_refused(vault: Repository) -> None:
    m = backup_source(vault, MemSource(bytearray(2 * MiB)), "d", snapshot_id="s1", workload_id="w")
    with pytest.raises(TargetError, match="smaller than the disk"):
        restore_to_writer(vault, m.ref, MemWriter(MiB))


def test_a_manifest_that_does_not_add_up_to_its_checksum_fails_the_restore(vault: Repository) -> None:
    m = backup_source(vault, MemSource(bytearray(os.urandom(2 * MiB))), "d", snapshot_id="s", workload_id="w")
    key = manifest_key("s", "d")
    doc = json.loads(vault.backend.get(key))
    doc["checksum"] = "blake3tree:" + "0" * 64
    vault.backend.put(key, json.dumps(doc).encode())
    writer = MemWriter(m.size)
    with pytest.raises(CorruptRepository, match="does not match the checksum taken at backup"):
        restore_to_writer(vault, m.ref, writer)


def test_a_damaged_chunk_fails_the_restore_and_names_the_snapshot(vault: Repository) -> None:
    m = backup_source(vault, MemSource(bytearray(os.urandom(2 * MiB))), "d", snapshot_id="s", workload_id="w")
    cid = m.chunks[1]
    assert cid is not None
    damage_blob(vault, cid)
    with pytest.raises(CorruptRepository, match=f"chunk {cid}"):
        restore_to_writer(vault, m.ref, MemWriter(m.size))
    forget_blob(vault, cid)
    with pytest.raises(CorruptRepository, match=f"snapshot {m.ref}: chunk {cid} .block 1. is unreadable"):
        restore_to_writer(vault, m.ref, MemWriter(m.size))


def test_an_incremental_needs_a_parent_of_the_same_encryption_domain(tmp_path: Path) -> None:
    vault = open_repository(str(tmp_path / "vault"), password="pw")
    data = bytearray(os.urandom(2 * MiB))
    full = backup_source(vault, MemSource(data), "d", snapshot_id="s1", workload_id="w")
    assert full.encrypted
    with pytest.raises(InvalidArgument, match="another encryption domain"):
        backup_source(
            vault, MemSource(data), "d", snapshot_id="s2", workload_id="other", parent=full.ref,
            changed_extents=[(0, 10)],
        )  # fmt: skip
    # Without extents the parent is only a hint: another domain's parent gives a plain full backup.
    m = backup_source(vault, MemSource(data), "d", snapshot_id="s3", workload_id="other", parent=full.ref)
    assert m.parent is None and m.stats["read_bytes"] == 2 * MiB
    # The same workload's encrypted parent serves an incremental.
    data[0:10] = b"0123456789"
    incr = backup_source(
        vault, MemSource(data), "d", snapshot_id="s4", workload_id="w", parent=full.ref,
        changed_extents=[(0, 10)],
    )  # fmt: skip
    assert incr.stats["read_bytes"] == MiB
    writer = MemWriter(len(data))
    restore_to_writer(vault, incr.ref, writer)
    assert writer.data == data


class GcDuringRead(MemSource):
    """Runs a gc sweep (no grace) while the backup reads its last block, as a concurrent gc would."""

    def __init__(self, data: bytearray, repo: Repository) -> None:
        super().__init__(data)
        self.repo, self.swept = repo, 0

    def read(self, offset: int, length: int) -> bytes:
        if offset + length >= self.size and not self.swept:
            self.swept = collect(self.repo, grace=0).deleted
        return super().read(offset, length)


def test_a_gc_beside_a_backup_removes_reused_chunks_and_the_commit_stores_them_again(
    vault: Repository,
) -> None:
    data = bytearray(os.urandom(6 * MiB))
    old = backup_source(vault, MemSource(data), "d", snapshot_id="old", workload_id="w")
    vault.delete_snapshot("old")  # its chunks are garbage now, but the next backup finds and reuses them
    time.sleep(0.05)  # older than the next backup's start: a sweep may remove them
    data[0:4096] = b"\x07" * 4096
    source = GcDuringRead(data, vault)
    m = backup_source(vault, source, "d", snapshot_id="new", workload_id="w")
    assert source.swept >= 5  # the sweep removed the reused chunks ...
    assert m.stats["repaired_after_gc"] >= 4  # ... and the commit stored them again (blocks 1-4)
    writer = MemWriter(len(data))
    restore_to_writer(vault, m.ref, writer)
    assert writer.data == data
    assert vault.verify(read_data=True).ok
    assert old.checksum != m.checksum


def test_a_backup_that_dies_before_its_commit_leaves_what_gc_removes(vault: Repository) -> None:
    vault.stale_after = 0.2

    class Dies(MemSource):
        def read(self, offset: int, length: int) -> bytes:
            if offset >= 3 * MiB:
                raise OSError("the disk went away")
            return super().read(offset, length)

    with pytest.raises(SourceError, match="went away"):
        backup_source(vault, Dies(bytearray(os.urandom(4 * MiB))), "d", snapshot_id="s", workload_id="w")
    assert vault.list_disks("s") == []  # no manifest: the snapshot does not exist
    assert not list(vault.backend.list("index/"))  # its blobs (if a pack was full) are not indexed
    assert not list(vault.backend.list("locks/backup-"))  # and the lease was released
    time.sleep(0.05)  # the store's clock is coarse: chunks written just now may not be older than "now"
    report = collect(vault, grace=0, stale_after=0.2)
    assert report.swept and list(vault.backend.list("data/")) == []
    assert vault.list_snapshots() == []
    assert vault.verify(read_data=True).ok


def test_a_failing_writer_stops_the_restore_with_its_error(vault: Repository) -> None:
    m = backup_source(vault, MemSource(bytearray(os.urandom(4 * MiB))), "d", snapshot_id="s", workload_id="w")

    class Full(MemWriter):
        def write(self, offset: int, data: bytes) -> None:
            if offset >= MiB:
                raise OSError("no space left")
            super().write(offset, data)

    writer = Full(m.size)
    with pytest.raises(OSError, match="no space left"):
        restore_to_writer(vault, m.ref, writer)
    assert not writer.flushed
