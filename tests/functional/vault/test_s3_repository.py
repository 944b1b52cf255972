"""End to end through S3: disks backed up to and restored from a vault repository on a real SeaweedFS."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from t4o.vault import ObjectLocked, Repository
from t4o.vault.s3 import S3Backend
from tests.fixtures.s3 import S3Bucket
from tests.fixtures.vault_blobs import damage_blob, stored_sizes

CHUNK = 64 * 1024
PASSWORD = "s3-test-password"


def open_s3(bucket: S3Bucket, create: bool = False) -> S3Backend:
    return bucket.backend(create=create)


def make_disk(path: Path, size: int, seed: int) -> bytes:
    """Random data, a zero region, repeated blocks (dedup) and text, with a tail shorter than a chunk."""
    rng = random.Random(seed)
    quarter = size // 4
    data = (
        rng.randbytes(quarter)
        + bytes(quarter)
        + rng.randbytes(CHUNK) * (quarter // CHUNK)
        + (b"a line of some log file\n" * (quarter // 24 + 1))[: size - 3 * quarter]
    )
    path.write_bytes(data)
    return data


def chunk_count(repo: Repository) -> int:
    return len(stored_sizes(repo))


def pack_count(repo: Repository) -> int:
    return sum(1 for _ in repo.backend.list("data/"))


def test_backup_and_restore_through_s3(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    disk = tmp_path / "disk.raw"
    data = make_disk(disk, 4 * 1024 * 1024 + 12345, seed=1)
    repo = Repository.init(open_s3(s3_bucket, create=True), password=PASSWORD, chunk_size=CHUNK)
    m = repo.backup_disk(disk, "vda", workload_id="wl-1")
    # Zero blocks are not stored and repeated blocks once: far fewer chunks than blocks.
    assert chunk_count(repo) < len(m.chunks) // 2

    again = Repository.open(open_s3(s3_bucket), password=PASSWORD)  # a new process, a new installation
    assert [s["snapshot_id"] for s in again.list_snapshots()] == [m.ref.split("/")[0]]
    target = tmp_path / "restored.raw"
    again.restore_disk(m.ref, target)
    assert target.read_bytes() == data
    assert again.read_range(m.ref, 1_000_000, 5000) == data[1_000_000:1_005_000]
    assert again.verify(read_data=True).ok


def test_incremental_with_changed_extents_through_s3(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    disk = tmp_path / "disk.raw"
    first = make_disk(disk, 2 * 1024 * 1024, seed=2)
    repo = Repository.init(open_s3(s3_bucket, create=True), chunk_size=CHUNK)
    full = repo.backup_disk(disk, "vda")
    before = chunk_count(repo)

    changed = bytearray(first)
    changed[70_000:70_100] = os.urandom(100)
    changed[1_500_000:1_600_000] = os.urandom(100_000)
    disk.write_bytes(bytes(changed))
    inc = repo.backup_disk(
        disk, "vda", parent=full.ref, changed_extents=[(70_000, 100), (1_500_000, 100_000)]
    )
    assert chunk_count(repo) - before <= 4  # 1 + 3 chunks touched

    for manifest, expected in ((full, first), (inc, bytes(changed))):
        target = tmp_path / f"{manifest.snapshot_id}.raw"
        repo.restore_disk(manifest.ref, target)
        assert target.read_bytes() == expected


def test_locked_snapshot_survives_delete_until_its_date(s3_lock_bucket: S3Bucket, tmp_path: Path) -> None:
    disk = tmp_path / "disk.raw"
    data = make_disk(disk, 1024 * 1024, seed=3)
    repo = Repository.init(open_s3(s3_lock_bucket), chunk_size=CHUNK)
    m = repo.backup_disk(disk, "vda")
    until = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
    repo.lock_snapshot(m.snapshot_id, until)

    with pytest.raises(ObjectLocked):
        repo.delete_snapshot(m.snapshot_id)
    assert [s["snapshot_id"] for s in repo.list_snapshots()] == [m.snapshot_id]
    report = repo.gc(grace=0)
    assert report.deleted == 0
    target = tmp_path / "restored.raw"
    repo.restore_disk(m.ref, target)
    assert target.read_bytes() == data

    time.sleep(max(0.0, (until - dt.datetime.now(dt.UTC)).total_seconds()) + 1.0)
    repo.delete_snapshot(m.snapshot_id)
    assert repo.list_snapshots() == []
    repo.gc(grace=0)
    assert chunk_count(repo) == 0


def test_verify_reports_a_damaged_chunk_on_s3(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    disk = tmp_path / "disk.raw"
    make_disk(disk, 1024 * 1024, seed=4)
    repo = Repository.init(open_s3(s3_bucket, create=True), chunk_size=CHUNK)
    m = repo.backup_disk(disk, "vda")
    damage_blob(repo, next(c for c in m.chunks if isinstance(c, str)))
    report = repo.verify(m.snapshot_id, read_data=True)
    assert not report.ok
    assert m.ref in report.affected


BACKUP_SCRIPT = """
import sys
from t4o.vault import Repository
from t4o.vault.s3 import S3Backend
backend = S3Backend.from_url(sys.argv[1], access_key=sys.argv[2], secret_key=sys.argv[3])
repo = Repository.open(backend)
repo.backup_disk(sys.argv[4], "vda", snapshot_id="killed")
"""


def test_kill_9_during_an_s3_backup_leaves_the_repository_consistent(
    s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    disk = tmp_path / "disk.raw"
    old = make_disk(disk, 1024 * 1024, seed=5)
    repo = Repository.init(open_s3(s3_bucket, create=True), chunk_size=CHUNK)
    kept = repo.backup_disk(disk, "vda")
    before = pack_count(repo)
    disk.write_bytes(os.urandom(64 * 1024 * 1024))  # 4 packs of 16 MiB: time to be killed midway

    server = s3_bucket.server
    url = f"s3://{s3_bucket.name}/vault?endpoint={server.endpoint}"
    proc = subprocess.Popen(
        [sys.executable, "-c", BACKUP_SCRIPT, url, server.access_key, server.secret_key, str(disk)],
        cwd=Path(__file__).resolve().parents[3],
    )
    try:
        deadline = time.monotonic() + 60
        while pack_count(repo) < before + 1:
            assert proc.poll() is None, "the backup ended before it could be killed"
            assert time.monotonic() < deadline, "the backup stored no pack within 60 s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()

    reopened = Repository.open(open_s3(s3_bucket))
    assert [s["snapshot_id"] for s in reopened.list_snapshots()] == [
        kept.snapshot_id
    ]  # the half one is invisible
    target = tmp_path / "kept.raw"
    reopened.restore_disk(kept.ref, target)
    assert target.read_bytes() == old
    new = reopened.backup_disk(disk, "vda")
    target = tmp_path / "new.raw"
    reopened.restore_disk(new.ref, target)
    assert target.read_bytes() == disk.read_bytes()
