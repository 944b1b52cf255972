"""t4o.workloads.target_cleanup decisions on a posix vault whose object-lock dates the test sets."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from t4o.vault import PosixBackend, Repository
from t4o.workloads import target_cleanup

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture
def locks() -> dict[str, dt.datetime]:
    """Object-lock dates by key, as the backend reports them."""
    return {}


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, locks: dict[str, dt.datetime]) -> Repository:
    repo = Repository.init(PosixBackend(tmp_path / "vault", fsync=False), chunk_size=64 * 1024)
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\x05" * 8192)
    for sid in ("s1", "s2"):
        repo.backup_disk(disk, "vda", snapshot_id=sid, workload_id="w1")
        repo.put_snapshot_metadata(sid, {}, workload_id="w1")
    repo.put_workload("w1", {})
    monkeypatch.setattr(repo.backend, "locked_until", lambda key: locks.get(key))
    return repo


def test_the_latest_future_lock_of_a_snapshot_decides(
    repo: Repository, locks: dict[str, dt.datetime]
) -> None:
    locks.update(
        {
            "snapshots/s2/disks/vda.json": NOW + dt.timedelta(days=1),
            "snapshots/s2/snapshot.json": NOW + dt.timedelta(days=2),
            "snapshots/s1/disks/vda.json": NOW - dt.timedelta(days=1),  # expired: no protection
        }
    )
    assert repo.archive.snapshot_locked_until("s1") is None
    assert repo.archive.snapshot_locked_until("s2") == NOW + dt.timedelta(days=2)
    with pytest.raises(target_cleanup.SnapshotProtected, match=r"s2 is protected .* until") as exc:
        target_cleanup.delete_workload(repo, "w1", ["s1"])
    assert exc.value.until == NOW + dt.timedelta(days=2)
    # refused whole: s1 (not locked) and the workload document stay
    assert [s["snapshot_id"] for s in repo.list_snapshots()] == ["s1", "s2"]
    assert repo.list_workloads() == ["w1"]
    assert target_cleanup.delete_snapshot(repo, "s1")
    assert [s["snapshot_id"] for s in repo.list_snapshots()] == ["s2"]


def test_run_delete_turns_a_lock_into_a_refusal(repo: Repository, locks: dict[str, dt.datetime]) -> None:
    locks["snapshots/s1/disks/vda.json"] = NOW + dt.timedelta(hours=1)
    answer = target_cleanup.run_delete(lambda: repo, "w1", ["s1"], whole_workload=False)
    assert set(answer) == {"refused"} and (NOW + dt.timedelta(hours=1)).isoformat() in answer["refused"]
    assert repo.list_disks("s1") == ["vda"]


def test_a_workload_delete_takes_the_snapshots_only_the_target_knows(repo: Repository) -> None:
    assert target_cleanup.delete_workload(repo, "w1", []) == ["s1", "s2"]
    assert repo.list_snapshots() == [] and repo.list_workloads() == []
    assert target_cleanup.delete_workload(repo, "w1", ["s1"]) == []  # again: nothing left, no error
