#!/usr/bin/env python3
"""S3 requests and objects of the vault's operations: full backup, unchanged full, incremental, restore, gc.

    .venv/bin/python bench/s3_requests.py --size 1G

Starts SeaweedFS on 127.0.0.1, backs the benchmark's image up into a new repository, backs it up again
unchanged, rewrites 2% of the pages of a file holding a third of it (bench/images.py's database day) and
backs that up with the extent list, restores the full and the database day, then deletes the first
snapshot and runs gc. Counts the requests of each step by operation (botocore's events, in this
process) and the objects in the bucket, per GiB of disk and per GiB stored.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from images import build_image, database_day  # noqa: E402
from vault_bench import parse_size  # noqa: E402

from t4o.vault import Repository, open_backend  # noqa: E402
from tests.fixtures.s3 import run_seaweedfs  # noqa: E402

GiB = 1 << 30


class Counter:
    def __init__(self, url: str) -> None:
        self.backend = open_backend(url, create=True)
        self.calls: collections.Counter[str] = collections.Counter()
        self.backend._s3.meta.events.register("before-send.s3", self._count)  # type: ignore[attr-defined]

    def _count(self, event_name: str, **_: Any) -> None:
        self.calls[event_name.split(".")[-1]] += 1

    def step(self, name: str, result: dict[str, Any], fn: Any) -> Any:
        self.calls.clear()
        start = time.perf_counter()
        out = fn()
        result[name] = {"seconds": round(time.perf_counter() - start, 2), "requests": dict(self.calls)}
        result[name]["total requests"] = sum(self.calls.values())
        return out

    def objects(self) -> tuple[int, int]:
        count = size = 0
        for info in self.backend.list(""):
            count += 1
            size += info.size
        return count, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, default=parse_size("1G"))
    parser.add_argument("--source", type=Path, default=Path("/usr"))
    args = parser.parse_args()
    result: dict[str, Any] = {"load average": os.getloadavg(), "disk bytes": args.size}
    with tempfile.TemporaryDirectory(prefix="s3-requests-") as tmp:
        image = Path(tmp) / "disk.raw"
        build_image(image, args.size, args.source)
        with run_seaweedfs(Path(tmp) / "seaweedfs") as (server, _proc):
            os.environ["AWS_ACCESS_KEY_ID"] = server.access_key
            os.environ["AWS_SECRET_ACCESS_KEY"] = server.secret_key
            c = Counter(f"s3://bench-{uuid.uuid4().hex[:8]}/repo?endpoint={server.endpoint}")
            repo = Repository.init(c.backend)
            full = c.step("full backup", result, lambda: repo.backup_disk(image, "vda", snapshot_id="s1"))
            count, stored = c.objects()
            result["after the full"] = {
                "objects": count,
                "stored bytes": stored,
                "objects per GiB stored": round(count / (stored / GiB), 1),
            }
            c.step("unchanged full", result, lambda: repo.backup_disk(image, "vda", snapshot_id="s2"))
            extents = database_day(image, 0.02, seed=12)
            inc = c.step(
                "database day incremental",
                result,
                lambda: repo.backup_disk(
                    image, "vda", snapshot_id="s3", parent=full.ref, changed_extents=extents
                ),
            )
            result["database day incremental"]["stored bytes"] = inc.stats["new_bytes"]
            fresh = Repository.open(c.backend)  # a restore on another host: its own index read
            c.backend = fresh.backend
            out = Path(tmp) / "restored.raw"
            c.step("restore of the full", result, lambda: fresh.restore_disk(full.ref, out))
            out.unlink()
            # Patched blocks: their pieces are read in runs too (a file that was a hole in the full
            # holds many blocks without a base).
            c.step("restore of the database day", result, lambda: fresh.restore_disk(inc.ref, out))
            out.unlink()
            repo.delete_snapshot("s1")
            repo.delete_snapshot("s2")
            report = c.step("gc after deleting two snapshots", result, lambda: repo.gc(grace=0))
            result["gc after deleting two snapshots"]["freed bytes"] = report.deleted_bytes
            count, stored = c.objects()
            result["after gc"] = {"objects": count, "stored bytes": stored}
    for name in ("full backup", "unchanged full", "restore of the full", "restore of the database day"):
        per_gib = result[name]["total requests"] / (args.size / GiB)
        result[name]["requests per GiB of disk"] = round(per_gib, 1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
