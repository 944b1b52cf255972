#!/usr/bin/env python3
"""What a detached raw volume's incremental costs without a dirty bitmap, and with a kept Cinder snapshot.

    .venv/bin/python bench/detached_volume_bench.py     # 1 GiB volume, 100 MiB data, 10 MiB changed
    .venv/bin/python bench/detached_volume_bench.py --size 4G --data 1G --changed 10M

A volume file like Cinder's NFS driver keeps (sparse raw), backed up into a posix vault the way the agent
backs up a detached volume (``FileDiskSource`` + ``vault.backup_source``), three cases:

- ``hash-compare``: today's way: read where allocated, hash every block, store those the parent lacks;
- ``unchanged``: the same when nothing changed (the usual case for a detached volume);
- ``kept-snapshot``: the previous Cinder snapshot kept until the next one: the NFS driver's overlay named
  for it (qcow2 over the volume) holds exactly the writes since, so its own allocation (``qemu-img map``,
  depth 0) is the change set: read only that.

Prints one line per case: bytes read, bytes stored, wall seconds (page cache warm: the file was just
written).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from t4o import vault  # noqa: E402
from t4o.datamover.disks import FileDiskSource  # noqa: E402

MiB = 1 << 20


def size_arg(text: str) -> int:
    units = {"K": 1 << 10, "M": MiB, "G": 1 << 30}
    return int(float(text[:-1]) * units[text[-1].upper()]) if text[-1].upper() in units else int(text)


def write_random(path: Path, extents: list[tuple[int, int]], seed: int) -> None:
    rng = random.Random(seed)
    with path.open("r+b") as f:
        for off, length in extents:
            f.seek(off)
            for at in range(0, length, MiB):
                f.write(rng.randbytes(min(MiB, length - at)))


def spread(size: int, total: int, pieces: int, seed: int) -> list[tuple[int, int]]:
    """``pieces`` writes of ``total`` bytes in all, at random 4 KiB-aligned offsets."""
    rng = random.Random(seed)
    each = total // pieces
    return sorted((rng.randrange(0, (size - each) // 4096) * 4096, each) for _ in range(pieces))


def top_layer_extents(overlay: Path) -> list[tuple[int, int]]:
    """Ranges the overlay itself holds (not its backing file): the writes since its snapshot."""
    out = subprocess.run(
        ["qemu-img", "map", "--output=json", "-f", "qcow2", str(overlay)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [(e["start"], e["length"]) for e in json.loads(out) if e["depth"] == 0 and e["data"]]


def backup(repo: vault.Repository, path: Path, fmt: str, name: str, parent: str | None,
           changed: list[tuple[int, int]] | None = None) -> tuple[int, int, float, str]:  # fmt: skip
    started = time.monotonic()
    with FileDiskSource(str(path), fmt) as source:
        m = vault.backup_source(repo, source, "vol", parent=parent, changed_extents=changed, snapshot_id=name)
    return m.stats["read_bytes"], m.stats["new_bytes"], time.monotonic() - started, m.ref


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=size_arg, default=1 << 30)
    ap.add_argument("--data", type=size_arg, default=100 * MiB, help="bytes of data in the volume")
    ap.add_argument("--changed", type=size_arg, default=10 * MiB, help="bytes changed between snapshots")
    ap.add_argument("--dir", default=None, help="where the volume and the vault go (default: a temp dir)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="t4o-detached-bench-", dir=args.dir) as tmp:
        work = Path(tmp)
        volume = work / "volume-1"
        with volume.open("wb") as f:
            f.truncate(args.size)
        # the data in 8 runs spread over the volume, as files on a filesystem would be
        write_random(volume, [(i * (args.size // 8), args.data // 8) for i in range(8)], 1)
        # two vaults with the same full backup: each changed case stores into its own
        repos = [vault.open_repository(str(work / f"vault-{i}")) for i in (1, 2)]
        read, stored, secs, full_ref = backup(repos[0], volume, "raw", "full", None)
        backup(repos[1], volume, "raw", "full", None)
        rows = [("full", read, stored, secs)]

        read, stored, secs, _ = backup(repos[0], volume, "raw", "unchanged", full_ref)
        rows.append(("unchanged (hash-compare)", read, stored, secs))

        # Cinder's snapshot of a detached volume: the volume file stays the snapshot's data, an overlay
        # named for the snapshot takes the writes that come after it.
        overlay = work / "volume-1.snap-a"
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", "-b", volume.name, "-F", "raw", str(overlay)],
            check=True,
        )
        rng = random.Random(3)
        for off, length in spread(args.size, args.changed, 5, 2):
            data = work / "data.bin"
            data.write_bytes(rng.randbytes(length))  # incompressible: stored bytes mean something
            subprocess.run(
                ["qemu-io", "-f", "qcow2", "-c", f"write -s {data} {off} {length}", str(overlay)],
                check=True, capture_output=True,
            )  # fmt: skip
        # today: the new Cinder snapshot's file (the overlay chain) read where allocated, hashed, compared
        read, stored, secs, _ = backup(repos[0], overlay, "qcow2", "hash-compare", full_ref)
        rows.append(("changed (hash-compare)", read, stored, secs))

        started = time.monotonic()
        extents = top_layer_extents(overlay)
        map_secs = time.monotonic() - started
        read, stored, secs, _ = backup(repos[1], overlay, "qcow2", "kept-snapshot", full_ref, extents)
        rows.append(("changed (kept Cinder snapshot)", read, stored, secs + map_secs))

    sizes = (args.size / MiB, args.data / MiB, args.changed / MiB)
    print("volume {:.0f} MiB, data {:.0f} MiB, changed {:.0f} MiB".format(*sizes))
    print(f"{'case':34} {'read MiB':>9} {'stored MiB':>11} {'seconds':>8}")
    for case, read, stored, secs in rows:
        print(f"{case:34} {read / MiB:9.1f} {stored / MiB:11.1f} {secs:8.2f}")
    os.sync()


if __name__ == "__main__":
    main()
