"""One vault operation in its own process, so the benchmark measures its time and memory like a peer's.

    vault_worker.py init REPO
    vault_worker.py backup REPO IMAGE DISK_ID [--parent REF] [--extents FILE.json] [--result FILE.json]
    vault_worker.py restore REPO REF TARGET

REPO is a directory or s3://bucket/prefix?endpoint=URL (credentials in AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY). The repository password, when there is one, is in VAULT_BENCH_PASSWORD.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from t4o.vault import Repository, open_backend


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="op", required=True)
    p = sub.add_parser("init")
    p.add_argument("repo")
    p = sub.add_parser("backup")
    p.add_argument("repo")
    p.add_argument("image")
    p.add_argument("disk_id")
    p.add_argument("--parent")
    p.add_argument("--extents", type=Path)
    p.add_argument("--result", type=Path)
    p = sub.add_parser("restore")
    p.add_argument("repo")
    p.add_argument("ref")
    p.add_argument("target")
    p.add_argument("--result", type=Path)
    args = parser.parse_args()
    password = os.environ.get("VAULT_BENCH_PASSWORD") or None

    backend = open_backend(args.repo, create=args.op == "init")
    if args.op == "init":
        Repository.init(backend, password=password)
        return 0
    requests: dict[str, int] = {}
    s3 = getattr(backend, "_s3", None)
    if s3 is not None:  # S3: count the requests by operation (botocore's events)

        def count(event_name: str, **_: object) -> None:
            op = event_name.split(".")[-1]
            requests[op] = requests.get(op, 0) + 1

        s3.meta.events.register("before-send.s3", count)
    repo = Repository.open(backend, password=password)
    started = time.monotonic()  # the work itself, without the interpreter's start and imports
    if args.op == "backup":
        extents = json.loads(args.extents.read_text()) if args.extents else None
        manifest = repo.backup_disk(args.image, args.disk_id, parent=args.parent, changed_extents=extents)
    else:
        manifest = repo.restore_disk(args.ref, args.target, fmt="raw")
    if args.result:
        args.result.write_text(
            json.dumps(
                {"ref": manifest.ref, "engine_seconds": time.monotonic() - started, "requests": requests}
            )
        )
    backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
