"""kill -9 of real backup processes at several points: nothing visible, nothing lost, next backup works."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from t4o.vault import PosixBackend, Repository

from .conftest import MiB, run_child, start_child, write_disk


@pytest.fixture
def setup(tmp_path):
    repo = Repository.init(PosixBackend(tmp_path / "repo"), pack_size=MiB)  # a pack per new block
    disk = write_disk(tmp_path / "disk.raw", 16, seed=1)
    first = repo.backup_disk(disk, "vda", snapshot_id="s1")
    # change half of the disk so the next backup has new blocks to write
    write_disk(tmp_path / "disk.raw", 8, seed=2, zero_every=0)
    with open(disk, "r+b") as f:
        f.truncate(16 * MiB)
    return repo, disk, first, tmp_path


def assert_consistent_after_crash(repo: Repository, disk: Path, first, tmp_path: Path) -> None:
    # the half-written snapshot is invisible
    assert [s["snapshot_id"] for s in repo.list_snapshots()] == ["s1"]
    # the previous snapshot restores exactly and verifies
    out = tmp_path / "restored.raw"
    repo.restore_disk(first.ref, out)
    assert repo.verify(read_data=True).ok
    assert Repository.open(repo.backend).get_manifest("s1/vda").checksum == first.checksum
    # the next backup works, restores the current disk, and reuses what the crashed run stored
    m = repo.backup_disk(disk, "vda", snapshot_id="s3", parent=first.ref)
    repo.restore_disk(m.ref, out)
    assert out.read_bytes() == disk.read_bytes()
    assert repo.verify(read_data=True).ok


@pytest.mark.parametrize("point", ["pack:1", "pack:5", "index-temp", "before-manifest", "manifest-temp"])
def test_kill_at_a_point(setup, point):
    repo, disk, first, tmp_path = setup
    proc = run_child(
        "backup", str(repo.backend.root), str(disk), "vda", "s2", "--kill-at", point, check=False
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert_consistent_after_crash(repo, disk, first, tmp_path)


def test_kill_from_outside_mid_backup(setup):
    repo, disk, first, tmp_path = setup
    status = tmp_path / "status"
    child = start_child(
        "backup", str(repo.backend.root), str(disk), "vda", "s2", "--slow", "0.05", "--status", str(status)
    )
    deadline = time.monotonic() + 60
    while not (status.exists() and "progress" in status.read_text()):
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        assert time.monotonic() < deadline, "the backup made no progress"
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    assert child.wait(30) == -signal.SIGKILL
    assert list(repo.backend.list("locks/backup-"))  # the dead backup's lease stays behind ...
    assert_consistent_after_crash(repo, disk, first, tmp_path)
    repo.stale_after = 0.5  # ... and once stale, it does not block gc
    time.sleep(1.0)
    report = repo.gc(grace=0)
    assert report.swept and not list(repo.backend.list("locks/backup-"))
    assert repo.verify(read_data=True).ok
