"""gc and verify on a real posix repository (single process; the races are functional tests)."""

from __future__ import annotations

import os
from pathlib import Path

from t4o.vault import Repository
from t4o.vault.leases import Lease
from t4o.vault.packs import pack_key
from tests.fixtures.vault_blobs import damage_blob, forget_blob

from .conftest import CS, make_disk


def test_gc_removes_only_unreferenced(repo, tmp_path):
    d1 = make_disk(tmp_path / "d1", [os.urandom(16) for _ in range(4)])
    d2 = make_disk(tmp_path / "d2", [os.urandom(16) for _ in range(4)])
    m1 = repo.backup_disk(d1, "vda")
    m2 = repo.backup_disk(d2, "vda")
    assert repo.gc(grace=0).deleted == 0
    repo.delete_snapshot(m1.snapshot_id)
    age_all(repo, "data/", 60)  # file mtimes have clock-tick granularity: make "older" unambiguous
    report = repo.gc(grace=3600)
    assert report.deleted == 0 and report.kept_recent == 4  # within the grace period
    before = store_state(repo)
    report = repo.gc(grace=0, dry_run=True)
    assert report.deleted == 4 and report.deleted_bytes > 0 and not report.swept  # what a sweep would do
    assert store_state(repo) == before
    report = repo.gc(grace=0)
    assert report.deleted == 4 and report.swept
    assert repo.verify(read_data=True).ok
    repo.restore_disk(m2.ref, tmp_path / "o")
    assert (tmp_path / "o").read_bytes() == Path(d2).read_bytes()


def age_all(repo, prefix: str, seconds: float) -> None:
    for info in repo.backend.list(prefix):
        path = repo.backend.root / info.key
        t = os.path.getmtime(path) - seconds
        os.utime(path, (t, t))


def test_gc_spares_chunks_newer_than_the_oldest_running_backup(repo, tmp_path):
    m = repo.backup_disk(make_disk(tmp_path / "d", [b"x"]), "vda")
    repo.delete_snapshot(m.ref)
    age_all(repo, "data/", 7200)
    with Lease(repo.backend, "backup"):
        repo.backend.put(pack_key("ab" * 32), b"a pack of the running backup, not indexed yet")
        report = repo.gc(grace=0)
    assert report.swept and report.running_backups == 1
    assert report.deleted == 1 and report.packs_deleted == 1
    assert repo.backend.exists(pack_key("ab" * 32))
    with Lease(repo.backend, "backup"):
        pass
    age_all(repo, "data/", 7200)  # the backup died: its pack is removed once older than the cutoff
    assert repo.gc(grace=0).packs_deleted == 1 and not repo.backend.exists(pack_key("ab" * 32))


def test_gc_skips_sweep_while_a_backup_commits(repo, tmp_path):
    m = repo.backup_disk(make_disk(tmp_path / "d", [b"x"]), "vda")
    repo.delete_snapshot(m.ref)
    age_all(repo, "data/", 60)
    with Lease(repo.backend, "commit"):
        report = repo.gc(grace=0)
    assert report.deleted == 0 and "committing" in report.skipped_reason
    assert repo.gc(grace=0).deleted == 1


def test_backup_stores_again_what_a_concurrent_sweep_removed(repo, tmp_path):
    disk = make_disk(tmp_path / "d", [os.urandom(16) for _ in range(16)])
    old = repo.backup_disk(disk, "vda", snapshot_id="old")
    repo.delete_snapshot("old")
    age_all(repo, "data/", 7200)
    sweeps = []

    def gc_in_the_middle(p):
        if not sweeps and p.done >= 4 * CS:  # some blocks are already deduplicated against old chunks
            sweeps.append(repo.gc(grace=0))

    m = repo.backup_disk(disk, "vda", snapshot_id="new", progress=gc_in_the_middle)
    assert sweeps and sweeps[0].deleted > 0
    assert m.stats["repaired_after_gc"] > 0 and m.checksum == old.checksum
    assert repo.verify(read_data=True).ok
    repo.restore_disk(m.ref, tmp_path / "o")
    assert (tmp_path / "o").read_bytes() == Path(disk).read_bytes()


def test_stale_lease_does_not_block_gc(repo, tmp_path):
    m = repo.backup_disk(make_disk(tmp_path / "d", [b"x"]), "vda")
    repo.delete_snapshot(m.ref)
    repo.backend.put("locks/backup-dead.json", b"{}")
    old = os.path.getmtime(repo.backend.root / "locks" / "backup-dead.json") - 7200
    os.utime(repo.backend.root / "locks" / "backup-dead.json", (old, old))
    age_all(repo, "data/", 60)
    report = repo.gc(grace=0)
    assert report.deleted == 1 and not repo.backend.exists("locks/backup-dead.json")


def test_verify_reports_missing_and_damaged(repo, tmp_path):
    m = repo.backup_disk(make_disk(tmp_path / "d", [os.urandom(16) for _ in range(3)]), "vda")
    assert repo.verify(m.snapshot_id).ok
    forget_blob(repo, m.chunks[0])
    damage_blob(repo, m.chunks[1])
    quick = repo.verify(m.ref)
    assert list(quick.missing) == [m.chunks[0]] and quick.missing[m.chunks[0]] == [m.ref]
    assert not quick.damaged  # without --read-data only presence is checked
    full = repo.verify(read_data=True)
    assert m.chunks[1] in full.damaged and m.ref in full.affected
    text = "\n".join(full.lines())
    assert "MISSING chunk" in text and "DAMAGED chunk" in text and text.endswith("DAMAGE FOUND")
    assert full.bytes_read > 0 and full.disks == 1 and CS


def test_verify_notices_a_block_list_that_no_longer_matches_the_checksum(repo, tmp_path):
    m = repo.backup_disk(make_disk(tmp_path / "d", [os.urandom(16) for _ in range(3)]), "vda")
    key = f"snapshots/{m.snapshot_id}/disks/vda.json"
    swapped = (
        m.to_bytes()
        .replace(m.chunks[0].encode(), b"X" * 64)
        .replace(m.chunks[1].encode(), m.chunks[0].encode())
    )
    repo.backend.put(key, swapped.replace(b"X" * 64, m.chunks[1].encode()))  # blocks 0 and 1 swapped
    report = repo.verify()
    assert not report.ok and "does not match the disk checksum" in report.damaged_manifests[key]


def store_state(repo) -> dict[str, tuple[int, float, bytes]]:
    """Every object of the store with its size, mtime and bytes."""
    return {i.key: (i.size, i.mtime.timestamp(), repo.backend.get(i.key)) for i in repo.backend.list("")}


def test_gc_dry_run_writes_nothing(repo, tmp_path):
    m = repo.backup_disk(make_disk(tmp_path / "d", [b"x", b"y"]), "vda")
    repo.delete_snapshot(m.ref)
    age_all(repo, "data/", 7200)
    stale = Lease(repo.backend, "backup").acquire()
    stale.release = lambda: None  # a crashed backup: its lease stays, never refreshed
    stale._stop.set()
    age_all(repo, "locks/", 7200)
    before = store_state(repo)
    report = repo.gc(grace=0, dry_run=True)
    assert store_state(repo) == before  # no lease, no epoch, no stale lease removed, no clock object
    assert report.deleted == 2 and not report.swept and report.running_backups == 0
    report = repo.gc(grace=0)
    assert report.deleted == 2 and report.swept
    assert not repo.backend.exists(stale.key)  # the real gc removes the stale lease


def test_a_backup_does_not_trust_an_index_read_before_a_gc(repo, tmp_path):
    disk = make_disk(tmp_path / "d", [os.urandom(16) for _ in range(4)])
    repo.backup_disk(disk, "vda", snapshot_id="old")
    assert len(repo.index) == 4  # this process's view, as a long-lived agent keeps it
    other = Repository.open(repo.backend)  # another process deletes the snapshot and collects it
    other.delete_snapshot("old")
    age_all(repo, "data/", 7200)
    assert other.gc(grace=0).deleted == 4
    m = repo.backup_disk(disk, "vda", snapshot_id="new")
    assert m.stats["new_chunks"] == 4 and m.stats["dedup_chunks"] == 0  # stored again, not assumed
    assert repo.verify(read_data=True).ok
