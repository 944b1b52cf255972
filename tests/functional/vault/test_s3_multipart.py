"""Packs streamed as multipart uploads, and index files read from the local cache, on a real SeaweedFS."""

from __future__ import annotations

import collections
import datetime as dt
import random
import threading
from pathlib import Path
from typing import Any

import pytest

from t4o.vault import Repository
from t4o.vault.backend import BackendError
from t4o.vault.s3 import MIN_PART, S3Backend
from tests.fixtures.s3 import S3Bucket

MiB = 1024 * 1024
PACK = 12 * MiB  # more than two parts of MIN_PART


class Requests:
    """The requests a backend sends (botocore's events): operation -> list of URL paths."""

    def __init__(self, backend: S3Backend) -> None:
        self.sent: collections.defaultdict[str, list[str]] = collections.defaultdict(list)
        self._lock = threading.Lock()
        backend._s3.meta.events.register("before-send.s3", self._record)

    def _record(self, event_name: str, request: Any, **_: Any) -> None:
        with self._lock:
            self.sent[event_name.rsplit(".", 1)[-1]].append(request.url.split("?", 1)[0])

    def count(self, operation: str, part: str = "") -> int:
        return sum(1 for url in self.sent[operation] if part in url)


def open_s3(bucket: S3Bucket, cache: Path | None, cls: type[S3Backend] = S3Backend) -> S3Backend:
    return bucket.backend(cls, part_size=MIN_PART, index_cache_dir=str(cache) if cache else "")


def write_disk(path: Path, mib: int, seed: int) -> bytes:
    """Incompressible data (packs fill with what is written) with zero blocks between."""
    rng = random.Random(seed)
    data = b"".join(rng.randbytes(MiB) if n % 5 else bytes(MiB) for n in range(mib))
    path.write_bytes(data)
    return data


def open_uploads(bucket: S3Bucket) -> list[str]:
    client = bucket.server.client()
    try:
        return [u["Key"] for u in client.list_multipart_uploads(Bucket=bucket.name).get("Uploads", [])]
    finally:
        client.close()


def test_backup_and_restore_with_multipart_packs(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    disk = tmp_path / "disk.raw"
    data = write_disk(disk, 35, seed=1)
    backend = open_s3(s3_bucket, None)
    repo = Repository.init(backend, chunk_size=MiB, pack_size=PACK)
    sent = Requests(backend)
    m = repo.backup_disk(disk, "vda")
    # 28 MiB stored: two full packs of 12 MiB, each in two parts (5 MiB, then the rest: a tail of
    # 2 MiB joins the last part rather than go up alone), and a last pack of 4 MiB in one PUT.
    packs = sorted(info.size for info in backend.list("data/"))
    assert len(packs) == 3 and packs[1] > 2 * MIN_PART and packs[0] < MIN_PART, packs
    assert sent.count("CreateMultipartUpload") == 2
    assert sent.count("UploadPart") == 4
    assert sent.count("CompleteMultipartUpload") == 2
    assert sent.count("PutObject", "/vault/data/") == 1
    assert not open_uploads(s3_bucket)

    again = Repository.open(open_s3(s3_bucket, None))  # another process
    target = tmp_path / "restored.raw"
    again.restore_disk(m.ref, target)
    assert target.read_bytes() == data
    assert again.verify(read_data=True).ok


class FailingS3(S3Backend):
    """The third part uploaded fails (the network went down in the middle of a pack)."""

    fail_at = 3

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.parts = 0
        self._count_lock = threading.Lock()

    def _upload_part(self, full: str, upload_id: str, number: int, body: bytes) -> dict[str, Any]:
        with self._count_lock:
            self.parts += 1
            if self.parts == self.fail_at:
                raise BackendError(f"{self.url}: upload part {number} of {full}: connection reset")
        return super()._upload_part(full, upload_id, number, body)


def test_a_failed_backup_leaves_no_upload_open(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    disk = tmp_path / "disk.raw"
    write_disk(disk, 35, seed=2)
    Repository.init(open_s3(s3_bucket, None), chunk_size=MiB, pack_size=PACK)
    backend = open_s3(s3_bucket, None, FailingS3)
    repo = Repository.open(backend)
    sent = Requests(backend)
    with pytest.raises(BackendError, match="connection reset"):
        repo.backup_disk(disk, "vda")
    assert sent.count("CreateMultipartUpload") >= 1
    assert sent.count("AbortMultipartUpload") >= 1
    assert not open_uploads(s3_bucket)
    assert repo.list_snapshots() == []


def test_sweep_temp_aborts_an_upload_a_dead_writer_left(s3_bucket: S3Bucket) -> None:
    backend = open_s3(s3_bucket, None)
    Repository.init(backend)
    writer = backend.new_object("data/")
    writer.expect("data/ab/abandoned", PACK)
    for _ in range(2):
        writer.write(random.randbytes(MIN_PART))
        writer.drain()
    assert open_uploads(s3_bucket) == ["vault/data/ab/abandoned"]  # the writer "died" here
    assert backend.sweep_temp() == 0  # too recent: it may be a backup still running
    assert backend.sweep_temp(older_than=dt.timedelta(0)) == 1
    assert not open_uploads(s3_bucket)
    assert not backend.exists("data/ab/abandoned")


def test_index_files_are_read_from_the_cache(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    disk = tmp_path / "disk.raw"
    data = write_disk(disk, 8, seed=3)
    cache = tmp_path / "cache"
    repo = Repository.init(open_s3(s3_bucket, cache), chunk_size=MiB)
    m = repo.backup_disk(disk, "vda")
    (index_key,) = repo.backend.list_keys("index/")
    index_id = index_key.removeprefix("index/")
    assert (cache / index_id).read_bytes() == repo.backend.get(index_key)  # kept when written

    def restore(cache_dir: Path) -> int:
        """Restores in a newly opened repository; returns its GETs of index files."""
        backend = open_s3(s3_bucket, cache_dir)
        sent = Requests(backend)
        target = tmp_path / "restored.raw"
        Repository.open(backend).restore_disk(m.ref, target)
        assert target.read_bytes() == data
        return sent.count("GetObject", "/vault/index/")

    assert restore(cache) == 0  # the backup's host
    other = tmp_path / "other-host"
    assert restore(other) == 1  # an empty cache: one GET, and the file is kept
    assert restore(other) == 0
    # A damaged copy is not used: read from the target again, and replaced.
    (other / index_id).write_bytes(b"\0" * 64)
    assert restore(other) == 1
    assert restore(other) == 0
    # Without a cache every open reads it.
    backend = open_s3(s3_bucket, None)
    sent = Requests(backend)
    for _ in range(2):
        Repository.open(backend).index  # noqa: B018 - loads it
    assert sent.count("GetObject", "/vault/index/") == 2


def test_multipart_packs_in_a_bucket_with_object_lock(s3_lock_bucket: S3Bucket, tmp_path: Path) -> None:
    """A bucket with object lock requires a checksum on every part (CRC32, as a PUT has)."""
    disk = tmp_path / "disk.raw"
    data = write_disk(disk, 20, seed=4)
    backend = open_s3(s3_lock_bucket, None)
    assert backend.object_lock
    repo = Repository.init(backend, chunk_size=MiB, pack_size=PACK)
    sent = Requests(backend)
    m = repo.backup_disk(disk, "vda")
    assert sent.count("UploadPart") >= 2 and not open_uploads(s3_lock_bucket)
    target = tmp_path / "restored.raw"
    Repository.open(open_s3(s3_lock_bucket, None)).restore_disk(m.ref, target)
    assert target.read_bytes() == data
