"""Restoring from S3 (a real SeaweedFS) reads runs of blobs with streamed ranged GETs: a few requests per
pack, the pieces of patched blocks included, and the same bytes as the disk."""

from __future__ import annotations

import collections
import random
from pathlib import Path
from typing import Any

from t4o.vault import Repository
from t4o.vault.s3 import S3Backend
from tests.fixtures.s3 import S3Bucket

MiB = 1 << 20
BLOCKS = 40


def open_s3(bucket: S3Bucket, create: bool = False) -> S3Backend:
    return bucket.backend(create=create, index_cache_dir="")


def text_block(i: int) -> bytes:
    line = b"%08d a line of some log file\n" % i
    return (line * (MiB // len(line) + 1))[:MiB]


def counted(backend: S3Backend) -> collections.Counter[str]:
    calls: collections.Counter[str] = collections.Counter()

    def count(event_name: str, request: Any, **_: Any) -> None:
        op = event_name.split(".")[-1]
        calls[op + " ranged" if "Range" in request.headers else op] += 1

    backend._s3.meta.events.register("before-send.s3", count)
    return calls


def test_a_database_day_restores_with_a_few_gets(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    rng = random.Random(3)
    disk = tmp_path / "disk.raw"
    # Half random, half text: packs hold blobs of different sizes, as a real disk's do.
    data = bytearray(b"".join(rng.randbytes(MiB) if i % 2 else text_block(i) for i in range(BLOCKS)))
    disk.write_bytes(data)
    repo = Repository.init(open_s3(s3_bucket, create=True))
    repo.workers = 1  # blobs go into the packs in disk order: the same packs every run
    full = repo.backup_disk(disk, "vda")
    changed = []
    for i in range(0, BLOCKS, 3):  # a 4 KiB page in each of two pieces of every third block
        for piece in (1, 9):
            at = i * MiB + piece * 65536
            data[at : at + 4096] = rng.randbytes(4096)
            changed.append((at, 4096))
    disk.write_bytes(data)
    inc = repo.backup_disk(disk, "vda", parent=full.ref, changed_extents=changed)
    patched = inc.stats["patched_blocks"]
    assert patched == len(range(0, BLOCKS, 3))

    backend = open_s3(s3_bucket)
    fresh = Repository.open(backend)  # another host: its own reads of the index
    calls = counted(backend)
    out = tmp_path / "restored.raw"
    fresh.restore_disk(inc.ref, out)
    assert out.read_bytes() == bytes(data)
    # Each pack in a run or two, and the pieces of a run's patched blocks (all in the incremental's
    # pack) with one more GET per run: reading each patched block's pieces with a GET of its own took
    # at least one ranged GET per patched block, on top of the runs.
    packs = sum(1 for _ in backend.list("data/"))
    assert calls["GetObject ranged"] <= 2 * packs, (calls, packs, patched)
    assert calls["GetObject ranged"] < patched
