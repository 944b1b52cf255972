"""gc and verify on a real posix repository (single process; the races are functional tests)."""

from __future__ import annotations

import os
from pathlib import Path

from t4o.vault.chunks import chunk_key
from t4o.vault.leases import Lease

from .conftest import CS, make_disk


def test_gc_removes_only_unreferenced(repo, tmp_path):
    d1 = make_disk(tmp_path / "d1", [os.urandom(1) for _ in range(4)])
    d2 = make_disk(tmp_path / "d2", [os.urandom(1) for _ in range(4)])
    m1 = repo.backup_disk(d1, "vda")
    m2 = repo.backup_disk(d2, "vda")
    assert repo.gc(grace=0).deleted == 0
    repo.delete_snapshot(m1.snapshot_id)
    report = repo.gc(grace=3600)
    assert report.deleted == 0 and report.kept_recent == 4  # within the grace period
    report = repo.gc(grace=0, dry_run=True)
    assert report.deleted == 0 and not report.swept
    report = repo.gc(grace=0)
    assert report.deleted == 4 and report.swept
    assert repo.verify(read_data=True).ok
    repo.restore_disk(m2.ref, tmp_path / "o")
    assert (tmp_path / "o").read_bytes() == Path(d2).read_bytes()


def test_gc_skips_sweep_while_a_backup_lease_is_live(repo, tmp_path):
    m = repo.backup_disk(make_disk(tmp_path / "d", [b"x"]), "vda")
    repo.delete_snapshot(m.ref)
    with Lease(repo.backend, "backup"):
        report = repo.gc(grace=0)
    assert report.deleted == 0 and "running" in report.skipped_reason
    assert repo.gc(grace=0).deleted == 1


def test_stale_lease_does_not_block_gc(repo, tmp_path):
    m = repo.backup_disk(make_disk(tmp_path / "d", [b"x"]), "vda")
    repo.delete_snapshot(m.ref)
    repo.backend.put("locks/backup-dead.json", b"{}")
    old = os.path.getmtime(repo.backend.root / "locks" / "backup-dead.json") - 7200
    os.utime(repo.backend.root / "locks" / "backup-dead.json", (old, old))
    report = repo.gc(grace=0)
    assert report.deleted == 1 and not repo.backend.exists("locks/backup-dead.json")


def test_verify_reports_missing_and_damaged(repo, tmp_path):
    m = repo.backup_disk(make_disk(tmp_path / "d", [os.urandom(1) for _ in range(3)]), "vda")
    assert repo.verify(m.snapshot_id).ok
    repo.backend.delete(chunk_key(m.chunks[0]))
    path = repo.backend.root / chunk_key(m.chunks[1])
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    quick = repo.verify(m.ref)
    assert list(quick.missing) == [m.chunks[0]] and quick.missing[m.chunks[0]] == [m.ref]
    assert not quick.damaged  # without --read-data only presence is checked
    full = repo.verify(read_data=True)
    assert m.chunks[1] in full.damaged and m.ref in full.affected
    text = "\n".join(full.lines())
    assert "MISSING chunk" in text and "DAMAGED chunk" in text and text.endswith("DAMAGE FOUND")
    assert full.bytes_read > 0 and full.disks == 1 and CS
