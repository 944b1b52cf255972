"""gc and backups in separate real processes: no chunk a backup needs is ever removed."""

from __future__ import annotations

import time
from pathlib import Path

from t4o.vault import PosixBackend, Repository

from .conftest import run_child, start_child, write_disk


def wait_for(cond, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def prepare(tmp_path: Path):
    repo = Repository.init(PosixBackend(tmp_path / "repo"))
    disk = write_disk(tmp_path / "disk.raw", 12, seed=4, zero_every=0)
    old = repo.backup_disk(disk, "vda", snapshot_id="old")
    repo.delete_snapshot("old")  # its chunks are garbage now, but a new backup of the same disk wants them
    return repo, disk, old


def test_gc_sweeping_during_a_backup_never_costs_the_backup_a_chunk(tmp_path):
    repo, disk, _old = prepare(tmp_path)
    status, release = tmp_path / "status", tmp_path / "release"
    with open(disk, "r+b") as f:
        for i in range(0, 12, 3):
            f.seek(i << 20)
            f.write(b"new data")
    # The backup stores its 4 new chunks, reuses the 8 old ones it finds, and then waits to commit.
    backup = start_child(
        "backup",
        str(repo.backend.root),
        str(disk),
        "vda",
        "new",
        "--status",
        str(status),
        "--hold",
        str(release),
    )
    wait_for(lambda: status.exists() and "holding" in status.read_text(), "the backup to store its chunks")
    gc = run_child("gc", str(repo.backend.root))
    release.touch()
    # The sweep ran beside the backup and removed the old snapshot's chunks, including ones the backup
    # had already found stored and reused ...
    assert "deleted=12 swept=True" in gc.stdout, gc.stdout
    _out, err = backup.communicate(timeout=120)
    assert backup.returncode == 0, err
    m = repo.get_manifest("new/vda")
    # The 8 reused chunks were known from the listing of chunks/ taken when the backup began ...
    assert m.stats["dedup_chunks"] == 8, m.stats
    # ... which the backup noticed before committing, and stored again from the disk.
    assert m.stats["repaired_after_gc"] > 0, m.stats
    out_path = tmp_path / "out.raw"
    repo.restore_disk("new/vda", out_path)
    assert out_path.read_bytes() == disk.read_bytes()
    assert repo.verify(read_data=True).ok
    assert "deleted=0 swept=True" in run_child("gc", str(repo.backend.root)).stdout


def test_backup_started_during_a_gc_sweep_waits_and_is_complete(tmp_path):
    repo, disk, old = prepare(tmp_path)
    gc = start_child("gc", str(repo.backend.root), "--slow", "0.2")
    root = repo.backend.root
    wait_for(
        lambda: list((root / "locks").glob("gc-*.json")) if (root / "locks").exists() else False, "gc lease"
    )
    status = tmp_path / "status"
    backup = start_child("backup", str(root), str(disk), "vda", "new", "--status", str(status))
    _out, err = backup.communicate(timeout=120)
    assert backup.returncode == 0, err
    gc_out, gc_err = gc.communicate(timeout=120)
    assert gc.returncode == 0, gc_err
    assert "deleted=12 swept=True" in gc_out  # the gc removed every old chunk ...
    m = repo.get_manifest("new/vda")
    assert m.stats["new_chunks"] == 12  # ... and the backup, having waited, stored them again
    assert repo.verify(read_data=True).ok
    out_path = tmp_path / "out.raw"
    repo.restore_disk("new/vda", out_path)
    assert out_path.read_bytes() == disk.read_bytes()
    assert old.checksum == m.checksum
