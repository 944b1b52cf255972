"""Repository: init/open/info, backup planning, dedup, incrementals, metadata, retention."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from t4o.vault import (
    CorruptRepository,
    InvalidArgument,
    PasswordRequired,
    PosixBackend,
    Repository,
    RepositoryExists,
    RepositoryNotFound,
    SnapshotNotFound,
    WrongPassword,
)
from tests.fixtures.vault_blobs import stored_sizes

from .conftest import CS, make_disk


def test_init_open_info(tmp_path):
    b = PosixBackend(tmp_path / "r")
    with pytest.raises(RepositoryNotFound):
        Repository.open(b)
    Repository.init(b, chunk_size=CS)
    with pytest.raises(RepositoryExists):
        Repository.init(b)
    info = Repository.open(b).info()
    assert info["chunk_size"] == CS and info["encryption"] == "none" and info["snapshots"] == 0
    with pytest.raises(InvalidArgument):
        Repository.init(PosixBackend(tmp_path / "r2"), chunk_size=3000)


def test_password_repository(tmp_path):
    b = PosixBackend(tmp_path / "r")
    Repository.init(b, password="pw")
    assert "master_key" not in b.get("config").decode()
    with pytest.raises(PasswordRequired):
        Repository.open(b)
    with pytest.raises(WrongPassword):
        Repository.open(b, "nope")
    assert Repository.open(b, "pw").password_protected


def test_corrupt_config(tmp_path):
    b = PosixBackend(tmp_path / "r")
    b.put("config", b"{not json")
    with pytest.raises(CorruptRepository):
        Repository.open(b)


def test_full_backup_dedup_zero_and_tail(repo, tmp_path):
    a, b = os.urandom(16), os.urandom(16)
    disk = make_disk(tmp_path / "d", [a, None, a, b, bytes(1)], tail=b"tail")
    m = repo.backup_disk(disk, "vda")
    assert m.size == 5 * CS + 4
    assert m.chunks[1] is None and m.chunks[4] is None  # hole and written zeros
    assert m.chunks[0] == m.chunks[2] != m.chunks[3]
    # two workers may both store the same new block at once; the store still holds it once
    assert m.stats["new_chunks"] + m.stats["dedup_chunks"] == 4
    assert len(stored_sizes(repo)) == 3 and len(list(repo.backend.list("data/"))) == 1
    out = tmp_path / "out"
    repo.restore_disk(m.ref, out)
    assert out.read_bytes() == Path(disk).read_bytes()
    assert repo.read_range(m.ref, CS - 2, 4) == a[-2:] + b"\0\0"
    assert repo.read_range(m.ref, 5 * CS, 4) == b"tail"
    with pytest.raises(InvalidArgument):
        repo.read_range(m.ref, 5 * CS, 5)


def test_second_full_backup_stores_only_changes(repo, tmp_path):
    blocks = [os.urandom(16) for _ in range(8)]
    disk = make_disk(tmp_path / "d", blocks)
    m1 = repo.backup_disk(disk, "vda")
    with open(disk, "r+b") as f:
        f.seek(3 * CS + 10)
        f.write(b"changed")
    m2 = repo.backup_disk(disk, "vda", parent=m1.ref)
    assert m2.stats["new_chunks"] == 1 and m2.stats["dedup_chunks"] == 7
    # dedup across disks and workloads, without a parent
    m3 = repo.backup_disk(disk, "vdb", workload_id="other")
    assert m3.stats["new_chunks"] == 0


def test_incremental_with_extents_reads_only_them(repo, tmp_path):
    disk = make_disk(tmp_path / "d", [os.urandom(16) for _ in range(8)])
    m1 = repo.backup_disk(disk, "vda")
    with open(disk, "r+b") as f:
        f.seek(5 * CS + 1)
        f.write(b"new")
        f.seek(6 * CS)  # a change the extent list does not mention is (correctly) not seen
        f.write(b"unlisted")
    m2 = repo.backup_disk(disk, "vda", parent=m1.ref, changed_extents=[(5 * CS + 1, 3)])
    assert m2.stats["read_bytes"] == CS and m2.parent == m1.ref
    assert m2.chunks[6] == m1.chunks[6] and m2.chunks[5] != m1.chunks[5]
    out = tmp_path / "out"
    repo.restore_disk(m2.ref, out)
    data = out.read_bytes()
    assert data[5 * CS + 1 : 5 * CS + 4] == b"new" and data[6 * CS : 6 * CS + 8] != b"unlisted"


def test_incremental_of_a_grown_disk_reads_the_new_part(repo, tmp_path):
    disk = make_disk(tmp_path / "d", [b"a", b"b"], tail=b"xy")
    m1 = repo.backup_disk(disk, "vda")
    with open(disk, "ab") as f:
        f.write(b"z" * CS)
    m2 = repo.backup_disk(disk, "vda", parent=m1.ref, changed_extents=[])
    out = tmp_path / "out"
    repo.restore_disk(m2.ref, out)
    assert out.read_bytes() == Path(disk).read_bytes()


def test_incremental_of_a_shrunk_disk_rereads_its_new_last_block(repo, tmp_path):
    disk = make_disk(tmp_path / "d", [b"a", b"b", b"c"])
    m1 = repo.backup_disk(disk, "vda")
    os.truncate(disk, CS + 100)
    m2 = repo.backup_disk(disk, "vda", parent=m1.ref, changed_extents=[])
    assert m2.size == CS + 100 and m2.chunks[0] == m1.chunks[0] and m2.chunks[1] != m1.chunks[1]
    repo.restore_disk(m2.ref, tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == Path(disk).read_bytes()


def test_extents_need_a_parent_and_valid_ranges(repo, tmp_path):
    disk = make_disk(tmp_path / "d", [b"a"])
    with pytest.raises(InvalidArgument, match="parent"):
        repo.backup_disk(disk, "vda", changed_extents=[(0, 1)])
    m = repo.backup_disk(disk, "vda")
    with pytest.raises(InvalidArgument, match="bad extent"):
        repo.backup_disk(disk, "vda", parent=m.ref, changed_extents=[(-1, 5)])
    with pytest.raises(InvalidArgument, match="already has"):
        repo.backup_disk(disk, "vda", snapshot_id=m.snapshot_id)


def test_encrypted_workloads(tmp_path):
    repo = Repository.init(PosixBackend(tmp_path / "r"), password="pw", chunk_size=CS)
    disk = make_disk(tmp_path / "d", [b"plain text "] * 2)
    m = repo.backup_disk(disk, "vda", workload_id="wa")
    assert m.encrypted
    blob = repo.fetch_blob(m.chunks[0])
    assert b"plain text" not in blob
    other = repo.backup_disk(disk, "vda", workload_id="wb")
    assert other.chunks[0] != m.chunks[0]  # per-workload id key: no cross-workload linkage
    plain = repo.backup_disk(disk, "vdc", workload_id="wc", encrypt=False)
    assert not plain.encrypted
    again = Repository.open(repo.backend, "pw")
    again.restore_disk(m.ref, tmp_path / "o")
    assert (tmp_path / "o").read_bytes() == Path(disk).read_bytes()
    clear = Repository.init(PosixBackend(tmp_path / "r2"))
    with pytest.raises(InvalidArgument, match="password"):
        clear.backup_disk(disk, "vda", encrypt=True)


def test_metadata_listing_and_delete(repo, tmp_path):
    disk = make_disk(tmp_path / "d", [b"a", b"b"])
    repo.put_workload("wl1", {"name": "web", "vms": ["vm1"]})
    repo.put_snapshot_metadata("snap1", {"vms": {"vm1": {"flavor": "m1.small"}}}, workload_id="wl1")
    repo.backup_disk(disk, "vda", snapshot_id="snap1", workload_id="wl1")
    repo.backup_disk(disk, "vdb", snapshot_id="snap1", workload_id="wl1")
    repo.backup_disk(disk, "vda", snapshot_id="snap2", workload_id="wl2")
    assert repo.list_workloads() == ["wl1", "wl2"]
    assert [s["snapshot_id"] for s in repo.list_snapshots("wl1")] == ["snap1"]
    snap = repo.get_snapshot("snap1")
    assert snap["disks"] == ["vda", "vdb"] and snap["metadata"]["vms"]["vm1"]["flavor"] == "m1.small"
    assert repo.get_workload("wl1")["name"] == "web"
    with pytest.raises(SnapshotNotFound, match="2 disks"):
        repo.restore_disk("snap1", tmp_path / "x")
    assert repo.delete_snapshot("snap1/vdb") == ["vdb"]
    assert repo.list_disks("snap1") == ["vda"]
    repo.delete_snapshot("snap1")
    assert [s["snapshot_id"] for s in repo.list_snapshots()] == ["snap2"]
    with pytest.raises(SnapshotNotFound):
        repo.delete_snapshot("snap1")
    with pytest.raises(SnapshotNotFound):
        repo.get_snapshot("snap1")


def test_snapshot_without_manifest_is_invisible(repo, tmp_path):
    repo.put_snapshot_metadata("half", {"x": 1})
    assert repo.list_snapshots() == []
    with pytest.raises(SnapshotNotFound):
        repo.restore_disk("half", tmp_path / "x")


def test_damaged_manifest(repo, tmp_path):
    m = repo.backup_disk(make_disk(tmp_path / "d", [b"a"]), "vda")
    repo.backend.put(f"snapshots/{m.snapshot_id}/disks/vda.json", b"garbage")
    with pytest.raises(CorruptRepository):
        repo.restore_disk(m.ref, tmp_path / "x")
    report = repo.verify()
    assert not report.ok and report.damaged_manifests


def test_progress_is_reported(repo, tmp_path):
    disk = make_disk(tmp_path / "d", [os.urandom(16) for _ in range(20)])
    seen = []
    repo.backup_disk(disk, "vda", progress=seen.append)
    assert seen[-1].done == seen[-1].total == 20 * CS and seen[-1].rate > 0
    json.dumps([p.__dict__ for p in seen])


def test_documents_are_sealed_in_a_password_repository(tmp_path):
    repo = Repository.init(PosixBackend(tmp_path / "r"), password="pw", chunk_size=CS)
    disk = make_disk(tmp_path / "d", [b"a"])
    repo.put_workload("wl1", {"name": "payroll-db"})
    repo.put_snapshot_metadata("s1", {"vm": "payroll-vm"}, workload_id="wl1")
    m = repo.backup_disk(disk, "vda", snapshot_id="s1", workload_id="wl1", metadata={"volume": "payroll-vol"})
    assert m.metadata == {"volume": "payroll-vol"}
    raw = b"".join(p.read_bytes() for p in (tmp_path / "r").rglob("*.json"))
    assert b"payroll" not in raw and b'"sealed": "aes-256-gcm"' in raw
    again = Repository.open(repo.backend, "pw")
    assert again.get_workload("wl1") == {"name": "payroll-db"}
    assert again.get_snapshot("s1")["metadata"] == {"vm": "payroll-vm"}
    assert again.list_snapshots("wl1")[0]["snapshot_id"] == "s1"
    assert again.get_manifest("s1/vda").metadata == {"volume": "payroll-vol"}
    # a sealed document is bound to its key: moved elsewhere it does not open
    repo.backend.put("workloads/wl2.json", repo.backend.get("workloads/wl1.json"))
    with pytest.raises(CorruptRepository, match="does not decrypt"):
        again.get_workload("wl2")


def test_documents_stay_plain_without_a_password(repo, tmp_path):
    repo.put_workload("wl1", {"name": "web"})
    assert json.loads(repo.backend.get("workloads/wl1.json")) == {"name": "web"}


def test_a_restore_reads_neighbouring_blobs_of_a_pack_at_once(tmp_path):
    class Counting(PosixBackend):
        ranges = 0

        def get_range(self, key: str, offset: int, length: int) -> bytes:
            Counting.ranges += 1
            return super().get_range(key, offset, length)

    backend = Counting(tmp_path / "r")
    repo = Repository.init(backend, chunk_size=CS)
    disk = make_disk(tmp_path / "d", [os.urandom(16) for _ in range(6)] + [None, os.urandom(16)])
    m = repo.backup_disk(disk, "vda")
    Counting.ranges = 0
    repo.restore_disk(m.ref, tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == Path(disk).read_bytes()
    assert Counting.ranges == 1  # the 7 blobs lie one after another in one pack: one read
