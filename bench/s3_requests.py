#!/usr/bin/env python3
"""S3 requests of a full backup: one listing of chunks/ against a HEAD per new chunk.

    .venv/bin/python bench/s3_requests.py --size 1G

Starts SeaweedFS on 127.0.0.1, backs the benchmark's image up twice into new repositories (first as
the vault does now, listing chunks/ once; then looking up every new chunk, as it did before), then once
more into the first repository (everything deduplicated). Counts requests by operation and times each.
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

from images import build_image  # noqa: E402
from vault_bench import parse_size  # noqa: E402

from t4o.vault import Repository, Store, backup, open_backend  # noqa: E402  (backup: patched below)
from tests.fixtures.s3 import run_seaweedfs  # noqa: E402


def counted(url: str, *, create: bool = False) -> tuple[Any, collections.Counter[str]]:
    backend = open_backend(url, create=create)
    calls: collections.Counter[str] = collections.Counter()

    def count(event_name: str, **_: Any) -> None:
        calls[event_name.split(".")[-1]] += 1

    backend._s3.meta.events.register("before-send.s3", count)  # type: ignore[attr-defined]
    return backend, calls


def one_backup(url: str, image: Path, snapshot: str, *, init: bool) -> dict[str, object]:
    backend, calls = counted(url, create=init)
    repo = Repository.init(backend) if init else Repository.open(backend)
    calls.clear()
    start = time.perf_counter()
    m = repo.backup_disk(image, "vda", snapshot_id=snapshot)
    return {
        "seconds": round(time.perf_counter() - start, 2),
        "requests": dict(calls),
        "new chunks": m.stats["new_chunks"],
        "deduplicated": m.stats["dedup_chunks"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, default=parse_size("1G"))
    parser.add_argument("--source", type=Path, default=Path("/usr"))
    args = parser.parse_args()
    result: dict[str, object] = {"load average": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="s3-requests-") as tmp:
        image = Path(tmp) / "disk.raw"
        build_image(image, args.size, args.source)
        with run_seaweedfs(Path(tmp) / "seaweedfs") as (server, _proc):
            os.environ["AWS_ACCESS_KEY_ID"] = server.access_key
            os.environ["AWS_SECRET_ACCESS_KEY"] = server.secret_key
            listed = f"s3://bench-{uuid.uuid4().hex[:8]}/repo?endpoint={server.endpoint}"
            result["full, listing chunks/"] = one_backup(listed, image, "s1", init=True)
            result["again, listing chunks/"] = one_backup(listed, image, "s2", init=False)
            # As before: no listing, every chunk not known from the parent is looked up with a HEAD.
            original = backup.BlockWriter.__init__

            def lookups(self: backup.BlockWriter, *a: Any, **kw: Any) -> None:
                original(self, *a, **kw)
                self.complete = False

            backup.BlockWriter.__init__ = lookups  # type: ignore[method-assign]
            Store.chunk_ids = lambda _store: set()  # type: ignore[method-assign]
            looked = f"s3://bench-{uuid.uuid4().hex[:8]}/repo?endpoint={server.endpoint}"
            result["full, HEAD per chunk"] = one_backup(looked, image, "s1", init=True)
            result["again, HEAD per chunk"] = one_backup(looked, image, "s2", init=False)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
