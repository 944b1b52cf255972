"""The datamover's vault glue: back up a source object, restore it into a writer, checksum it back."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from t4o.datamover import vault_io
from t4o.vault import gc
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


class GcDuringRead(MemSource):
    """Runs a gc sweep (no grace) while the backup reads its last block, as a concurrent gc would."""

    def __init__(self, data: bytearray, repo: vault_io.Repository) -> None:
        super().__init__(data)
        self.repo, self.swept = repo, 0

    def read(self, offset: int, length: int) -> bytes:
        if offset + length >= self.size and not self.swept:
            self.swept = gc.collect(self.repo.backend, grace=0).deleted
        return super().read(offset, length)


def test_backup_commits_through_the_vault_and_restores_chunks_a_concurrent_gc_removed(tmp_path: Path) -> None:
    repo = vault_io.open_repository(str(tmp_path / "vault"))
    data = bytearray(os.urandom(6 * MiB))
    old = vault_io.backup_source(
        repo, MemSource(data), snapshot_id="old", disk_id="d", workload_id="w", parent=None,
        changed_extents=None,
    )  # fmt: skip
    repo.delete_snapshot("old")  # its chunks are garbage now, but the next backup finds and reuses them
    time.sleep(0.05)  # older than the next backup's start: a sweep may remove them
    data[0:4096] = b"\x07" * 4096
    source = GcDuringRead(data, repo)
    res = vault_io.backup_source(
        repo, source, snapshot_id="new", disk_id="d", workload_id="w", parent=None, changed_extents=None
    )
    assert source.swept >= 5  # the sweep removed the reused chunks ...
    assert res.manifest.stats["repaired_after_gc"] >= 5  # ... and the commit stored them again
    writer = MemWriter(len(data))
    vault_io.restore_to_writer(repo, res.manifest.ref, writer)
    assert writer.data == data
    assert repo.verify(read_data=True).ok
    assert old.manifest.checksum != res.manifest.checksum


def test_a_backup_that_dies_before_its_commit_leaves_what_gc_removes(tmp_path: Path) -> None:
    repo = vault_io.open_repository(str(tmp_path / "vault"))
    repo.stale_after = 0.2

    class Dies(MemSource):
        def read(self, offset: int, length: int) -> bytes:
            if offset >= 3 * MiB:
                raise OSError("the disk went away")
            return super().read(offset, length)

    with pytest.raises(OSError, match="went away"):
        vault_io.backup_source(
            repo, Dies(bytearray(os.urandom(4 * MiB))), snapshot_id="s", disk_id="d", workload_id="w",
            parent=None, changed_extents=None,
        )  # fmt: skip
    assert repo.list_disks("s") == []  # no manifest: the snapshot does not exist
    assert list(repo.backend.list("chunks/"))  # but chunks were stored
    time.sleep(0.05)  # the store's clock is coarse: chunks written just now may not be older than "now"
    report = gc.collect(repo.backend, grace=0, stale_after=0.2)
    assert report.swept and list(repo.backend.list("chunks/")) == []
    assert repo.verify(read_data=True).ok


def test_a_target_without_a_vault_is_refused_not_created(tmp_path: Path) -> None:
    target = tmp_path / "mnt"
    target.mkdir()  # what an unmounted share's mount point looks like
    with pytest.raises(vault_io.TargetUnavailable, match=r"holds no vault.*t4o-vault init"):
        vault_io.open_target(str(target))
    assert list(target.iterdir()) == []
    repo = vault_io.open_target(str(target), create_if_missing=True)
    assert (target / "config").is_file()
    assert vault_io.open_target(str(target)).config["id"] == repo.config["id"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(vault_io.TargetUnavailable, match="is unavailable"):
        vault_io.open_target(str(tmp_path / "file"))


def test_require_mount_refuses_a_target_on_the_root_filesystem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "share" / "vault"
    vault_io.open_target(str(target), create_if_missing=True)
    mounts = {"/"}
    monkeypatch.setattr(os.path, "ismount", lambda p: str(p) in mounts)
    assert vault_io.mount_point_of(str(target)) == "/"
    with pytest.raises(vault_io.TargetUnavailable, match="not on a mounted filesystem"):
        vault_io.open_target(str(target), require_mount=True)
    mounts.add(str(tmp_path / "share"))  # the share is mounted
    assert vault_io.mount_point_of(str(target)) == str(tmp_path / "share")
    vault_io.open_target(str(target), require_mount=True)
    vault_io.open_target(str(target), require_mount=False)
