#!/usr/bin/env python3
"""The datamover agent's bandwidth cap (``[datamover] max_bytes_per_second``), measured on real transfers.

    .venv/bin/python bench/bandwidth_bench.py                    # 20 and 50 MiB/s, 8 s of data each
    .venv/bin/python bench/bandwidth_bench.py --rates 10,100 --seconds 10 --json out.json

For each cap: a raw disk image of random (incompressible) data, sized for ``--seconds`` at that rate, is
backed up into a fresh local vault through the agent's own pieces (FileDiskSource wrapped by the agent's
Bandwidth, then ``vault.backup_source``), then restored into a raw file through qemu-nbd
(``open_file_writer`` wrapped the same way, then ``vault.restore_to_writer``, which checks every block).
Then two backups at once share one cap, as two transfers of one agent do. Each line gives the achieved
rate and its ratio to the cap (the goal: within 10%), and the unthrottled rate shows the machine is not
the limit. Random data: the vault stores every byte it reads, so the rate read is the rate to the target.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from t4o import vault  # noqa: E402
from t4o.datamover.agent.bandwidth import Bandwidth  # noqa: E402
from t4o.datamover.disks import FileDiskSource, open_file_writer  # noqa: E402

MIB = 1 << 20


def make_image(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 4 * MIB)
            f.write(os.urandom(n))
            left -= n


def backup(repo: vault.Repository, image: Path, disk_id: str, bandwidth: Bandwidth) -> tuple[Any, float]:
    with FileDiskSource(str(image), "raw") as source:
        began = time.monotonic()
        manifest = vault.backup_source(repo, bandwidth.source(source), disk_id, workload_id="bench")
        return manifest, time.monotonic() - began


def restore(repo: vault.Repository, ref: str, size: int, target: Path, bandwidth: Bandwidth) -> float:
    with open(target, "wb") as f:
        f.truncate(size)
    with open_file_writer(str(target), size, "raw") as writer:
        began = time.monotonic()
        vault.restore_to_writer(repo, ref, bandwidth.writer(writer))
        return time.monotonic() - began


def line(what: str, cap: float, moved: int, seconds: float) -> dict[str, Any]:
    achieved = moved / seconds
    row = {
        "what": what,
        "cap_mib_s": cap / MIB if cap else None,
        "bytes": moved,
        "seconds": round(seconds, 3),
        "achieved_mib_s": round(achieved / MIB, 2),
        "ratio": round(achieved / cap, 3) if cap else None,
    }
    ratio = f"{row['ratio']:.3f}" if cap else "-"
    cap_text = f"{cap / MIB:g} MiB/s" if cap else "none"
    print(
        f"{what:<37} cap {cap_text:>10}  {moved / MIB:8.0f} MiB in {seconds:6.2f} s = "
        f"{achieved / MIB:7.2f} MiB/s  achieved/cap {ratio}",
        flush=True,
    )
    return row


def two_at_once(
    repo: vault.Repository, disks: list[tuple[Path, str]], cap: float, bandwidth: Bandwidth
) -> dict[str, Any]:
    moved: list[int] = []

    def one(image: Path, disk_id: str) -> None:
        moved.append(backup(repo, image, disk_id, bandwidth)[0].stats["read_bytes"])

    began = time.monotonic()
    threads = [threading.Thread(target=one, args=disk) for disk in disks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return line(f"{len(disks)} backups at once, one cap", cap, sum(moved), time.monotonic() - began)


def run(rates: list[float], seconds: float, workdir: Path) -> list[dict[str, Any]]:
    rows = []
    for rate_mib in rates:
        cap = rate_mib * MIB
        size = int(cap * seconds) // MIB * MIB
        image = workdir / f"disk-{rate_mib:g}.raw"
        make_image(image, size)
        repo = vault.open_target(str(workdir / f"vault-{rate_mib:g}"), create_if_missing=True)
        bandwidth = Bandwidth(int(cap))
        manifest, took = backup(repo, image, "vda", bandwidth)
        rows.append(line("backup (disk -> vault)", cap, manifest.stats["read_bytes"], took))
        took = restore(repo, manifest.ref, size, workdir / f"restored-{rate_mib:g}.raw", bandwidth)
        rows.append(line("restore (vault -> disk via qemu-nbd)", cap, size, took))
        # Two transfers of one agent at once: one bucket for both.
        second = workdir / f"disk-{rate_mib:g}-b.raw"
        make_image(second, size)
        fresh = vault.open_target(str(workdir / f"vault-{rate_mib:g}-two"), create_if_missing=True)
        rows.append(two_at_once(fresh, [(image, "vda"), (second, "vdb")], cap, bandwidth))
        # The same backup with no cap: the machine's own rate.
        free = vault.open_target(str(workdir / f"vault-{rate_mib:g}-free"), create_if_missing=True)
        manifest, took = backup(free, image, "vda", Bandwidth(0))
        rows.append(line("backup, no cap (machine's rate)", 0, manifest.stats["read_bytes"], took))
        for path in (image, second, workdir / f"restored-{rate_mib:g}.raw"):
            path.unlink()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rates", default="20,50", help="caps in MiB/s, comma-separated (default 20,50)")
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds of data per transfer at the cap")
    parser.add_argument("--dir", help="work directory (default: a temporary one)")
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",") if r]
    print(f"{platform.node()}: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="t4o-bw-", dir=args.dir) as tmp:
        rows = run(rates, args.seconds, Path(tmp))
    capped = [r for r in rows if r["ratio"] is not None]
    worst = max(abs(r["ratio"] - 1) for r in capped)
    print(f"largest deviation from the cap: {worst:.1%} ({'within' if worst <= 0.10 else 'NOT within'} 10%)")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "worst_deviation": worst}, indent=2) + "\n")
    return 0 if worst <= 0.10 else 1


if __name__ == "__main__":
    raise SystemExit(main())
