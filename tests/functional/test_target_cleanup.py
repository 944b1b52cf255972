"""Deletes that free the backup target, on a real posix vault and on SeaweedFS with object lock.

The snapshot and workload deletes of t4o.workloads.target_cleanup remove manifests and documents only;
the vault's gc then frees the chunks nothing references. The byte counts printed are what the target holds
before the delete, after it, and after gc.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from t4o.vault import PosixBackend, Repository
from t4o.vault.s3 import S3Backend
from t4o.workloads import target_cleanup
from tests.fixtures.s3 import S3Bucket

CHUNK = 64 * 1024


def disk(path: Path, mib: int) -> Path:
    path.write_bytes(os.urandom(mib * 1024 * 1024))
    return path


def target_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def backup(repo: Repository, tmp_path: Path, workload_id: str, snapshot_id: str, mib: int = 2) -> None:
    repo.backup_disk(
        disk(tmp_path / f"{snapshot_id}.raw", mib), "vda", snapshot_id=snapshot_id, workload_id=workload_id
    )
    repo.put_snapshot_metadata(snapshot_id, {"name": snapshot_id}, workload_id=workload_id)
    repo.put_workload(workload_id, {"id": workload_id})


@pytest.fixture
def posix_repo(tmp_path: Path) -> Repository:
    return Repository.init(PosixBackend(tmp_path / "target", fsync=False), chunk_size=CHUNK)


def test_snapshot_delete_then_gc_frees_its_bytes(posix_repo: Repository, tmp_path: Path) -> None:
    root = tmp_path / "target"
    backup(posix_repo, tmp_path, "wl-1", "snap-a")
    backup(posix_repo, tmp_path, "wl-1", "snap-b")
    before = target_bytes(root)

    assert target_cleanup.delete_snapshot(posix_repo, "snap-a")
    after_delete = target_bytes(root)
    assert not list((root / "snapshots" / "snap-a").rglob("*.json"))  # manifests and document gone
    assert [s["snapshot_id"] for s in posix_repo.list_snapshots()] == ["snap-b"]
    report = posix_repo.gc(grace=0)
    after_gc = target_bytes(root)
    print(f"\ntarget bytes: before {before}, after delete {after_delete}, after gc {after_gc}")
    assert report.deleted == 2 * 1024 * 1024 // CHUNK  # random data: every chunk of snap-a was its own
    assert before - after_gc >= 2 * 1024 * 1024 - 64 * 1024  # its chunks are freed (compression aside)
    assert posix_repo.verify("snap-b", read_data=True).ok
    assert not target_cleanup.delete_snapshot(posix_repo, "snap-a")  # gone already: nothing to do


def test_workload_delete_removes_every_snapshot_and_its_document(
    posix_repo: Repository, tmp_path: Path
) -> None:
    root = tmp_path / "target"
    backup(posix_repo, tmp_path, "wl-1", "snap-a")
    backup(posix_repo, tmp_path, "wl-1", "snap-b")  # on the target only (e.g. its row was lost)
    backup(posix_repo, tmp_path, "wl-2", "snap-c")
    before = target_bytes(root)

    gone = target_cleanup.delete_workload(posix_repo, "wl-1", ["snap-a"])
    assert gone == ["snap-a", "snap-b"]
    assert posix_repo.list_workloads() == ["wl-2"]
    assert not (root / "workloads" / "wl-1.json").exists()
    posix_repo.gc(grace=0)
    after_gc = target_bytes(root)
    print(f"\ntarget bytes: before {before}, after workload delete + gc {after_gc}")
    assert before - after_gc >= 4 * 1024 * 1024 - 128 * 1024
    assert posix_repo.verify("snap-c", read_data=True).ok


def test_run_delete_answers_for_the_api(posix_repo: Repository, tmp_path: Path) -> None:
    backup(posix_repo, tmp_path, "wl-1", "snap-a")
    assert target_cleanup.run_delete(lambda: posix_repo, "wl-1", ["snap-a"], False) == {"deleted": ["snap-a"]}
    assert target_cleanup.run_delete(lambda: None, "wl-1", ["snap-a"], False) == {"deleted": []}

    def unreachable() -> Repository:
        raise OSError("target unreachable")

    answer = target_cleanup.run_delete(unreachable, "wl-1", ["snap-a"], True)
    assert answer == {"error": "Deleting from the backup target failed: target unreachable"}


def open_s3(bucket: S3Bucket) -> S3Backend:
    server = bucket.server
    return S3Backend.from_url(
        f"s3://{bucket.name}/vault?endpoint={server.endpoint}",
        access_key=server.access_key,
        secret_key=server.secret_key,
    )


def test_a_locked_snapshot_is_refused_with_its_date_and_nothing_is_deleted(
    s3_lock_bucket: S3Bucket, tmp_path: Path
) -> None:
    repo = Repository.init(open_s3(s3_lock_bucket), chunk_size=CHUNK)
    backup(repo, tmp_path, "wl-1", "snap-a", mib=1)
    backup(repo, tmp_path, "wl-1", "snap-b", mib=1)
    until = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).replace(microsecond=0)
    repo.lock_snapshot("snap-b", until)

    with pytest.raises(target_cleanup.SnapshotProtected, match=until.isoformat().replace("+", r"\+")) as exc:
        target_cleanup.delete_snapshot(repo, "snap-b")
    assert exc.value.until == until
    # A workload delete is refused whole: snap-a (unlocked) stays too.
    answer = target_cleanup.run_delete(lambda: repo, "wl-1", ["snap-a", "snap-b"], True)
    assert "refused" in answer and until.isoformat() in answer["refused"]
    assert [s["snapshot_id"] for s in repo.list_snapshots()] == ["snap-a", "snap-b"]
    assert repo.list_workloads() == ["wl-1"]
    # The unlocked one alone goes.
    assert target_cleanup.delete_snapshot(repo, "snap-a")
    assert [s["snapshot_id"] for s in repo.list_snapshots()] == ["snap-b"]
