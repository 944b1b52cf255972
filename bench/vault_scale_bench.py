#!/usr/bin/env python3
"""The vault at a million blobs: does a backup's cost follow its data, not the repository's size?

    .venv/bin/python bench/vault_scale_bench.py --blobs 1000000 --size 1G          # posix and SeaweedFS S3

Builds a synthetic repository of ``--blobs`` small blobs (the point is the metadata: packs of 1000 tiny
blobs, their index, and manifests that reference every one of them), then backs the benchmark's image
up once into an empty repository and once into the big one, on a posix directory and on SeaweedFS
(127.0.0.1), counting S3 requests by operation; then runs gc on the big repository (nothing to delete:
every blob is referenced, so it reads everything and writes nothing but its lease, epoch and index).
Target (issue "scale out"): the backup into the big repository costs at most 1.2x the one into the
empty repository in time and requests; gc finishes in minutes.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import shutil
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

from t4o.vault import Backend, Repository, open_backend  # noqa: E402
from t4o.vault.index import write_index  # noqa: E402
from t4o.vault.manifest import Manifest, tree_checksum  # noqa: E402
from t4o.vault.packs import PackedBlob, PackWriter  # noqa: E402
from tests.fixtures.s3 import run_seaweedfs  # noqa: E402

PER_PACK = 1000
PER_MANIFEST = 10_000


def fill(repo: Repository, blobs: int) -> float:
    """``blobs`` real (tiny) blobs in packs of PER_PACK, one index, manifests naming all of them."""
    start = time.perf_counter()
    codec = repo.codec("synthetic", encrypted=False)
    written: list[PackedBlob] = []
    writer = PackWriter(
        lambda: repo.backend.new_object("data/"), lambda _p, b: written.extend(b), pack_size=1 << 40
    )
    ids: list[str] = []
    for n in range(blobs):
        data = n.to_bytes(8, "little") * 8
        cid = codec.chunk_id(data)
        writer.add(cid, codec.encode(cid, data), len(data))
        ids.append(cid)
        if len(ids) % PER_PACK == 0:
            writer.flush()
    writer.flush()
    write_index(repo.backend, written)
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    for k in range(0, blobs, PER_MANIFEST):
        part: list[str | None] = list(ids[k : k + PER_MANIFEST])
        m = Manifest(
            snapshot_id=f"synthetic-{k // PER_MANIFEST}",
            disk_id="vda",
            workload_id="synthetic",
            size=len(part) * repo.chunk_size,
            chunk_size=repo.chunk_size,
            chunks=part,
            checksum=tree_checksum(part, len(part) * repo.chunk_size, repo.chunk_size, codec.id_key),
            encrypted=False,
            created=created,
        )
        repo.archive.put_manifest(m)
    return time.perf_counter() - start


def counted(backend: Backend) -> collections.Counter[str]:
    calls: collections.Counter[str] = collections.Counter()
    s3 = getattr(backend, "_s3", None)
    if s3 is not None:

        def count(event_name: str, **_: Any) -> None:
            calls[event_name.split(".")[-1]] += 1

        s3.meta.events.register("before-send.s3", count)
    return calls


def backup(url: str, image: Path, snapshot: str) -> dict[str, Any]:
    backend = open_backend(url)
    calls = counted(backend)
    repo = Repository.open(backend)  # a new process's view: the index is read by the backup
    start = time.perf_counter()
    m = repo.backup_disk(image, "vda", snapshot_id=snapshot, workload_id="bench")
    return {
        "seconds": round(time.perf_counter() - start, 2),
        "requests": sum(calls.values()),
        "by operation": dict(calls),
        "new blobs": m.stats["new_chunks"],
    }


def gc(url: str) -> dict[str, Any]:
    backend = open_backend(url)
    calls = counted(backend)
    repo = Repository.open(backend)
    start = time.perf_counter()
    r = repo.gc(grace=0)
    return {
        "seconds": round(time.perf_counter() - start, 2),
        "requests": sum(calls.values()),
        "by operation": dict(calls),
        "blobs": r.chunks_total,
        "referenced": r.referenced,
        "deleted": r.deleted,
        "index files read": r.index_files,
    }


def run(kind: str, make_url: Any, image: Path, blobs: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    empty, big = make_url("empty"), make_url("big")
    Repository.init(open_backend(empty, create=True))
    repo = Repository.init(open_backend(big, create=True))
    out["fill seconds"] = round(fill(repo, blobs), 1)
    out["backup into an empty repository"] = backup(empty, image, "s1")
    out["backup into the big repository"] = backup(big, image, "s1")
    e, b = out["backup into an empty repository"], out["backup into the big repository"]
    out["time ratio"] = round(b["seconds"] / e["seconds"], 2)
    if e["requests"]:
        out["request ratio"] = round(b["requests"] / e["requests"], 2)
    out["gc of the big repository"] = gc(big)
    print(f"{kind}: {json.dumps(out, indent=1)}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blobs", type=int, default=1_000_000)
    parser.add_argument("--size", type=parse_size, default=parse_size("1G"))
    parser.add_argument("--source", type=Path, default=Path("/usr"))
    parser.add_argument("--no-s3", action="store_true")
    parser.add_argument("--json", type=Path, default=HERE / "scale_results.json")
    args = parser.parse_args()
    result: dict[str, Any] = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    result["load average at start"] = os.getloadavg()
    result["nproc"] = os.cpu_count()
    with tempfile.TemporaryDirectory(prefix="vault-scale-") as tmp:
        image = Path(tmp) / "disk.raw"
        build_image(image, args.size, args.source)
        root = Path(tmp) / "posix"
        result["posix"] = run("posix", lambda name: str(root / name), image, args.blobs)
        shutil.rmtree(root)
        if not args.no_s3:
            with run_seaweedfs(Path(tmp) / "seaweedfs") as (server, _proc):
                os.environ["AWS_ACCESS_KEY_ID"] = server.access_key
                os.environ["AWS_SECRET_ACCESS_KEY"] = server.secret_key
                bucket = f"scale-{uuid.uuid4().hex[:8]}"
                result["s3"] = run(
                    "s3", lambda name: f"s3://{bucket}/{name}?endpoint={server.endpoint}", image, args.blobs
                )
    result["load average at end"] = os.getloadavg()
    args.json.write_text(json.dumps(result, indent=1))
    print(f"written: {args.json}")


if __name__ == "__main__":
    main()
