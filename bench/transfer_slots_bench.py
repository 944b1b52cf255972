#!/usr/bin/env python3
"""Deployment-wide transfer slots with several workloads due at once: the most transfers ever running on
one host, and how long each project's transfers waited.

    .venv/bin/python bench/transfer_slots_bench.py                        # SQLite file, defaults below
    .venv/bin/python bench/transfer_slots_bench.py --db-url mysql+mysqldb://root@127.0.0.1/t4o_bench

Simulated in one process, real database: every workload is a snapshot job that runs its VMs
``--parallel`` at a time (a Parallel workload with ``[workflows] max_parallel_vms``); each VM's
transfer takes a slot with the product's TransferSlots (the same code, poll and lease as a worker) and then
"moves data" for ``--duration`` seconds (a sleep, +-20%). The workloads (``--workloads``, project:count x
VMs) all start at the same instant. Two meters: one in the transfers themselves, one sampling the
``transfer_slots`` table every 50 ms (running rows per host), so a limit broken in either is seen.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from t4o.common import config  # noqa: E402
from t4o.db import session  # noqa: E402
from t4o.db import transfer_slots_api as slots_api  # noqa: E402
from t4o.db.transfer_slots_api import Limits  # noqa: E402
from t4o.workloads.flows.transfer_slots import TransferSlots  # noqa: E402


@dataclass
class Record:
    project: str
    workload: str
    host: str
    asked: float
    granted: float = 0.0
    ended: float = 0.0


class Meter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now: Counter[str] = Counter()
        self.most: Counter[str] = Counter()

    def step(self, host: str, by: int) -> None:
        with self.lock:
            for key in (host, "*"):
                self.now[key] += by
                self.most[key] = max(self.most[key], self.now[key])


def parse_workloads(text: str) -> list[tuple[str, int, int]]:
    """'A:3x8,B:1x2' -> [("A", 3, 8), ("B", 1, 2)]: project, workloads, VMs per workload."""
    out = []
    for item in text.split(","):
        project, shape = item.split(":")
        count, vms = shape.split("x")
        out.append((project, int(count), int(vms)))
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    limits = Limits(args.per_host, args.per_target, args.total)
    hosts = [f"cmp{i}" for i in range(args.hosts)]
    meter, records, lock = Meter(), [], threading.Lock()
    rng = random.Random(7)
    jobs = []
    for project, count, vms in parse_workloads(args.workloads):
        for w in range(count):
            wl = f"{project}-wl{w}"
            # A workload's VMs sit on several hosts; different workloads start on different hosts.
            start = rng.randrange(len(hosts))
            jobs.append((project, wl, [hosts[(start + i) % len(hosts)] for i in range(vms)]))

    def transfer(project: str, workload: str, job_id: str, host: str) -> None:
        rec = Record(project, workload, host, time.monotonic())
        slots = TransferSlots(
            limits, job_kind="snapshot", job_id=job_id, project_id=project, worker=f"worker-{job_id[:4]}",
            target="/var/lib/t4o/vault", lease=60.0,
        )  # fmt: skip
        with slots.hold(host, lambda message: None):
            rec.granted = time.monotonic()
            meter.step(host, 1)
            time.sleep(args.duration * rng.uniform(0.8, 1.2))
            meter.step(host, -1)
        rec.ended = time.monotonic()
        with lock:
            records.append(rec)

    def workload(project: str, wl: str, vm_hosts: list[str]) -> None:
        job_id = str(uuid.uuid4())
        with ThreadPoolExecutor(args.parallel) as pool:
            list(pool.map(lambda h: transfer(project, wl, job_id, h), vm_hosts))

    sampled: Counter[str] = Counter()
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            running = Counter(r.host for r in slots_api.listing() if r.state == slots_api.RUNNING)
            for host, n in running.items():
                sampled[host] = max(sampled[host], n)
            sampled["*"] = max(sampled["*"], sum(running.values()))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    began = time.monotonic()
    threads = [threading.Thread(target=workload, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    makespan = time.monotonic() - began
    done.set()
    sampler.join()

    per_project: dict[str, dict[str, Any]] = {}
    by_project: dict[str, list[Record]] = defaultdict(list)
    for rec in records:
        by_project[rec.project].append(rec)
    for project, recs in sorted(by_project.items()):
        waits = [r.granted - r.asked for r in recs]
        per_project[project] = {
            "transfers": len(recs),
            "wait_mean_s": round(statistics.mean(waits), 2),
            "wait_median_s": round(statistics.median(waits), 2),
            "wait_max_s": round(max(waits), 2),
            "first_grant_s": round(min(r.granted for r in recs) - began, 2),
            "all_done_s": round(max(r.ended for r in recs) - began, 2),
        }
    busy = sum(r.ended - r.granted for r in records)
    capacity = min(args.per_host * len(hosts) if args.per_host else len(records), args.total or len(records))
    return {
        "limits": {"per_host": args.per_host, "per_target": args.per_target, "total": args.total},
        "hosts": len(hosts),
        "workloads": args.workloads,
        "parallel_vms": args.parallel,
        "transfers": len(records),
        "duration_s": args.duration,
        "makespan_s": round(makespan, 2),
        "lower_bound_s": round(busy / capacity, 2),
        "max_running_per_host_in_transfers": {h: meter.most[h] for h in hosts},
        "max_running_per_host_in_table": {h: sampled[h] for h in hosts},
        "max_running_total": max(meter.most["*"], sampled["*"]),
        "projects": per_project,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db-url", help="database (default: a fresh SQLite file)")
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--per-host", type=int, default=2)
    parser.add_argument("--per-target", type=int, default=8)
    parser.add_argument("--total", type=int, default=0)
    parser.add_argument("--parallel", type=int, default=2, help="VMs of one workload at once")
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per simulated transfer")
    parser.add_argument("--workloads", default="big:4x6,mid:2x3,small:1x1", help="project:count x VMs,...")
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args()
    config.ensure_registered()
    config.CONF([], project="t4o", default_config_files=[])
    with tempfile.TemporaryDirectory(prefix="t4o-slots-") as tmp:
        url = args.db_url or f"sqlite:///{tmp}/bench.sqlite"
        config.CONF.set_override("connection", url, group="database")
        session.sync(url)
        print(f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; database {url.split(':')[0]}")
        result = run(args)
        session.dispose_all()
    print(json.dumps(result, indent=2))
    most = max(result["max_running_per_host_in_transfers"].values())
    ok = not args.per_host or most <= args.per_host
    print(
        f"most transfers on one host: {most} (limit {args.per_host or 'none'}): {'held' if ok else 'BROKEN'}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
