"""Control-plane scale: many workloads due in the same minute, dispatched by cron, scheduler and workers.

One command (no devcloud: a simulated cloud, real RabbitMQ and MariaDB on 127.0.0.1)::

    .venv/bin/python bench/control_plane_bench.py [--workloads 500] [--vms 2] [--workers 2] [--crons 2]

It starts workloadmgr-api, one scheduler, ``--workers`` workloadmgr-workloads and ``--crons``
workloadmgr-cron processes against a fresh MariaDB database and a RabbitMQ exchange of their own, with the
stub cloud and the stub workflows of tests/stubs (each snapshot goes through the whole job life cycle:
cron fires it through the API's path, the scheduler picks a worker, the worker claims, runs, reports
progress and finishes it; no data is moved). It creates ``--workloads`` workloads of ``--vms`` VMs each,
spread over ten projects, all scheduled to run in the same minute, then measures from that minute:
when the first and the last snapshot were created (dispatch) and when the last one ended (finish),
jobs per minute, and the CPU each process group spent, MariaDB's statement count and RabbitMQ's CPU
over the run. The service with the most CPU per job is where the next bottleneck is.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fixtures.control_plane import ControlPlane, broker_control_plane, ensure_server, member  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _processes() -> Iterator[tuple[str, list[str]]]:
    """(command name, /proc/PID/stat fields from the state on) of every live process."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            comm, _, rest = Path(f"/proc/{entry}/stat").read_text().partition(" (")[2].rpartition(")")
        except OSError:
            continue
        yield comm, rest.split()


def _cpu(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime, in clock ticks


def group_cpu(pgid: int) -> float:
    """CPU seconds of the live processes of a process group (pgrp: the 3rd field from the state on)."""
    return sum(_cpu(fields) for _, fields in _processes() if int(fields[2]) == pgid)


def process_cpu(name: str) -> float:
    """CPU seconds of the processes whose command is ``name`` (mariadbd, beam.smp)."""
    return sum(_cpu(fields) for comm, fields in _processes() if comm == name)


def mariadb_questions() -> int:
    import MySQLdb

    conn = MySQLdb.connect(host="127.0.0.1", port=3306, user="root")
    try:
        cur = conn.cursor()
        cur.execute("SHOW GLOBAL STATUS LIKE 'Questions'")
        return int(cur.fetchone()[1])
    finally:
        conn.close()


def start_services(cp: ControlPlane, workers: int, crons: int) -> list[str]:
    names = ["api", "scheduler"]
    cp.start("api", ["workloadmgr-api"])
    cp.start("scheduler", ["workloadmgr-scheduler"])
    for kind, count, argv in (
        ("worker", workers, "workloadmgr-workloads"),
        ("cron", crons, "workloadmgr-cron"),
    ):
        for n in range(count):
            name = f"{kind}-{n}"
            conf = cp.workdir / f"{name}.conf"
            conf.write_text(f"[DEFAULT]\nhost = {name}\n")
            cp.start(name, [argv], extra_conf=conf)
            names.append(name)
    cp.wait_api()
    return names


def create_workloads(cp: ControlPlane, count: int, vms: int, due: dt.datetime) -> list[str]:
    schedule = {
        "enabled": True,
        "start_date": f"{due:%m/%d/%Y}",
        "start_time": f"{due:%H:%M}",
        "interval": "24 hr",
        "timezone": "UTC",
        "fullbackup_interval": "-1",
    }
    projects = [f"p{uuid.uuid4().hex[:8]}" for _ in range(10)]
    ids = []
    for i in range(count):
        proj = projects[i % len(projects)]
        servers = cp.add_servers(proj, vms)
        body = {
            "workload": {
                "name": f"scale-{i}",
                "instances": [{"instance-id": s} for s in servers],
                "jobschedule": schedule,
            }
        }
        resp = cp.request("POST", "/workloads", proj, member(proj), json=body)
        if resp.status_code != 202:
            raise RuntimeError(f"workload {i}: HTTP {resp.status_code} {resp.text}")
        ids.append(resp.json()["workload"]["id"])
    return ids


def snapshot_times(url: str) -> list[tuple[str, dt.datetime, dt.datetime | None]]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT status, created_at, finished_at FROM snapshots")).all()
    finally:
        engine.dispose()
    return [(r[0], r[1], r[2]) for r in rows]


def run(args: argparse.Namespace) -> dict[str, Any]:
    ensure_server("mariadb")
    workdir = Path(tempfile.mkdtemp(prefix="t4o-cp-bench-"))
    options = {"DEFAULT": {"report_interval": 5}, "global_job_scheduler": {"tick_interval": args.tick}}
    with broker_control_plane(workdir, "mariadb", options) as (cp, url):
        names = start_services(cp, args.workers, args.crons)
        # Due at the start of a minute far enough ahead for the workloads to be created first.
        now = dt.datetime.now(dt.UTC)
        lead = max(60, args.workloads * args.vms * 0.05)
        due = (now + dt.timedelta(seconds=lead + 60)).replace(second=0, microsecond=0)
        t0 = time.monotonic()
        create_workloads(cp, args.workloads, args.vms, due)
        created_in = time.monotonic() - t0
        print(f"created {args.workloads} workloads in {created_in:.1f} s; due {due:%H:%M:%S} UTC", flush=True)
        while dt.datetime.now(dt.UTC) < due:
            time.sleep(0.2)
        cpu0 = {n: group_cpu(cp.procs[n].pid) for n in names}
        db0, mq0, q0 = process_cpu("mariadbd"), process_cpu("beam.smp"), mariadb_questions()
        start = time.monotonic()
        deadline = start + args.timeout
        rows: list[tuple[str, dt.datetime, dt.datetime | None]] = []
        while time.monotonic() < deadline:
            cp.raise_if_exited()
            rows = snapshot_times(url)
            if len(rows) >= args.workloads and all(r[0] in ("available", "error") for r in rows):
                break
            time.sleep(1)
        elapsed = time.monotonic() - start
        cpu = {n: round(group_cpu(cp.procs[n].pid) - cpu0[n], 2) for n in names}
        db_cpu, mq_cpu = process_cpu("mariadbd") - db0, process_cpu("beam.smp") - mq0
        questions = mariadb_questions() - q0
    due_naive = due.replace(tzinfo=None)
    done = [r for r in rows if r[0] in ("available", "error")]
    if len(done) < args.workloads:
        raise RuntimeError(f"only {len(done)} of {args.workloads} snapshots ended within {args.timeout} s")
    created = sorted((r[1] - due_naive).total_seconds() for r in rows)
    finished = sorted((r[2] - due_naive).total_seconds() for r in rows if r[2] is not None)
    jobs = len(rows)
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average": os.getloadavg(),
        "workloads": args.workloads,
        "vms_per_workload": args.vms,
        "workers": args.workers,
        "crons": args.crons,
        "tick_interval": args.tick,
        "create_seconds": round(created_in, 1),
        "first_created_s": round(created[0], 1),
        "last_created_s": round(created[-1], 1),
        "last_finished_s": round(finished[-1], 1),
        "errors": sum(1 for r in rows if r[0] == "error"),
        "jobs_per_minute": round(jobs / max(finished[-1], 1e-6) * 60, 1),
        "measured_seconds": round(elapsed, 1),
        "cpu_seconds": cpu,
        "cpu_ms_per_job": {n: round(1000 * c / jobs, 1) for n, c in cpu.items()},
        "mariadb_cpu_seconds": round(db_cpu, 2),
        "mariadb_statements": questions,
        "mariadb_statements_per_job": round(questions / jobs, 1),
        "rabbitmq_cpu_seconds": round(mq_cpu, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workloads", type=int, default=500)
    ap.add_argument("--vms", type=int, default=2, help="VMs per workload")
    ap.add_argument("--workers", type=int, default=2, help="workloadmgr-workloads processes")
    ap.add_argument("--crons", type=int, default=2, help="workloadmgr-cron processes")
    ap.add_argument("--tick", type=float, default=30.0, help="cron's tick_interval (its default: 30 s)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for every snapshot to end")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    result = run(args)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
