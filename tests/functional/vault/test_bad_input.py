"""Bad input and hostile conditions: a full target, a disk that shrinks or vanishes, a damaged repository."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from t4o.vault import BackendError, PosixBackend, Repository, SourceError
from tests.fixtures.vault_blobs import forget_blob

from .conftest import MiB, start_child, vault_cli, write_disk


@pytest.fixture
def small_fs(tmp_path):
    """A real 6 MiB tmpfs: a backup target that fills up."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mnt)], capture_output=True)
    assert proc.returncode == 0, f"mounting a tmpfs needs root: {proc.stderr.decode().strip()}"
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_target_filesystem(small_fs, tmp_path):
    repo = Repository.init(PosixBackend(small_fs / "repo"))
    small = write_disk(tmp_path / "small.raw", 2, seed=1, zero_every=0)
    first = repo.backup_disk(small, "vda", snapshot_id="s1")
    big = write_disk(tmp_path / "big.raw", 16, seed=2, zero_every=0)
    with pytest.raises(BackendError, match="backup target is full"):
        repo.backup_disk(big, "vda", snapshot_id="s2", parent=first.ref)
    assert [s["snapshot_id"] for s in repo.list_snapshots()] == ["s1"]
    assert not list(repo.backend.list("locks/"))  # the failed backup released its lease
    repo.restore_disk(first.ref, tmp_path / "out.raw")
    assert (tmp_path / "out.raw").read_bytes() == small.read_bytes()
    repo.gc(grace=0)  # frees what the failed run stored
    assert repo.verify(read_data=True).ok
    cli = vault_cli("--repo", str(small_fs / "repo"), "backup", str(big), "--disk", "vdb")
    assert cli.returncode == 1 and cli.stderr.count("\n") == 1 and "backup target is full" in cli.stderr


def test_disk_shrinks_during_backup(tmp_path):
    repo = Repository.init(PosixBackend(tmp_path / "repo"))
    disk = write_disk(tmp_path / "disk.raw", 24, seed=3, zero_every=0)
    status = tmp_path / "status"
    child = start_child(
        "backup", str(repo.backend.root), str(disk), "vda", "s1", "--slow", "0.1", "--status", str(status)
    )
    deadline = time.monotonic() + 60
    while not (status.exists() and "progress" in status.read_text()):
        assert child.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    os.truncate(disk, 4 * MiB)
    _out, err = child.communicate(timeout=120)
    assert child.returncode == 1 and "shrank or vanished during the backup" in err
    assert repo.list_snapshots() == [] and not list(repo.backend.list("locks/"))


def test_disk_vanishes_before_backup(tmp_path):
    repo = Repository.init(PosixBackend(tmp_path / "repo"))
    with pytest.raises(SourceError, match="does not exist"):
        repo.backup_disk(tmp_path / "gone.raw", "vda")
    cli = vault_cli("--repo", str(tmp_path / "repo"), "backup", str(tmp_path / "gone.raw"), "--disk", "vda")
    assert cli.returncode == 1 and "does not exist" in cli.stderr and "Traceback" not in cli.stderr


def test_missing_wrong_password_and_corrupted_repository(tmp_path):
    repo_dir = tmp_path / "repo"
    out = vault_cli("--repo", str(repo_dir), "info")
    assert out.returncode == 1 and "no repository" in out.stderr and "Traceback" not in out.stderr
    pw = tmp_path / "pw"
    pw.write_text("right\n")
    vault_cli("--repo", str(repo_dir), "--password-file", str(pw), "init", check=True)
    bad = tmp_path / "bad"
    bad.write_text("wrong\n")
    out = vault_cli("--repo", str(repo_dir), "--password-file", str(bad), "info")
    assert out.returncode == 1 and "wrong repository password" in out.stderr
    (repo_dir / "config").write_bytes(b"\x00garbage")
    out = vault_cli("--repo", str(repo_dir), "--password-file", str(pw), "info")
    assert out.returncode == 1 and "damaged" in out.stderr and "Traceback" not in out.stderr


def test_failed_restore_keeps_the_existing_file_and_leaves_no_partial_one(tmp_path):
    repo_dir = tmp_path / "repo"
    repo = Repository.init(PosixBackend(repo_dir))
    disk = write_disk(tmp_path / "disk.raw", 4, seed=6, zero_every=0)
    m = repo.backup_disk(disk, "vda", snapshot_id="s1")
    forget_blob(repo, m.chunks[2])
    target = tmp_path / "target.raw"
    target.write_bytes(b"precious old contents")
    out = vault_cli("--repo", str(repo_dir), "restore", "s1/vda", str(target))
    assert out.returncode == 1 and f"chunk {m.chunks[2]} (block 2) is unreadable" in out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert target.read_bytes() == b"precious old contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["disk.raw", "repo", "target.raw"]
