"""workloadmgr API benchmark: GET /workloads/detail under 20 concurrent clients, vs Nova's /servers/detail.

One command::

    .venv/bin/python bench/api_bench.py [--requests 3000] [--concurrency 20] [--workloads 1000]

It seeds ``--workloads`` workloads (one instance each) in a MariaDB database of its own, starts
``workloadmgr-api`` (gunicorn) and loads it with ``--concurrency`` keep-alive connections: requests/s and
p50/p95/p99 latency of the default page, of ``?limit=1000`` and, in the same run and with the same client,
of devcloud's Nova ``GET /servers/detail``. The client is ``wrk`` (C, one epoll loop per thread, so the
two cores go to the servers) for ``--duration`` seconds per call, or with ``--client python`` (or when wrk
is missing) Python threads with one http.client connection each for ``--requests`` requests per call.
Beside latency it reports the CPU the API's processes spent per request, which the machine's load
does not change much, and what tells a tail apart: MariaDB's CPU per request, each worker's share of the
requests with their time inside the app (from the API's request log), and each worker's connections and
garbage-collector pauses (from the line it logs when it exits). It measures once every worker has logged
that it is ready. When devcloud is up
(``devcloud/devcloud status``) the API authenticates with keystonemiddleware against devcloud's Keystone
and every call carries a token of the demo user; otherwise the API runs noauth and the Nova comparison is
reported as not possible. devcloud itself is never started or stopped here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import python_speed_us

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
SERIAL = "f82ce76f-17fe-438b-aa37-7a023058e50d"
# Its own database per run: two runs at once (or a test suite) never share one.
DB_NAME = f"t4o_api_bench_{uuid.uuid4().hex[:8]}"


# ------------------------------------------------------------------ environment
def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_mariadb() -> None:
    """MariaDB on 127.0.0.1:3306, started when missing (a fresh machine)."""
    if port_open(3306):
        return
    print("MariaDB is not running; starting it", flush=True)
    subprocess.run(
        ["start-stop-daemon", "--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd"],
        check=False,
        capture_output=True,
        timeout=120,
    )
    for _ in range(120):
        if port_open(3306):
            return
        time.sleep(0.5)
    sys.exit("api_bench: MariaDB did not come up on 127.0.0.1:3306")


@dataclass
class Cloud:
    """What the run needs from devcloud: a demo token, its project and Nova's endpoint."""

    token: str
    project_id: str
    nova_url: str
    keystone_url: str
    service: dict[str, str]


def devcloud_cloud() -> Cloud | None:
    clouds_yaml = Path(os.environ.get("DEVCLOUD_STATE", ROOT / "devcloud" / "state")) / "clouds.yaml"
    status = subprocess.run(
        [str(ROOT / "devcloud" / "devcloud"), "status"], capture_output=True, text=True, timeout=120
    )
    if status.returncode != 0 or not clouds_yaml.exists():
        return None
    import openstack.config

    config = openstack.config.OpenStackConfig(config_files=[str(clouds_yaml)])
    from openstack.connection import Connection

    demo = Connection(config=config.get_one("devcloud-demo"))
    service = config.get_one("devcloud-t4o").config["auth"]
    return Cloud(
        token=demo.auth_token,
        project_id=demo.current_project_id,
        nova_url=demo.compute.get_endpoint().rstrip("/"),
        keystone_url=service["auth_url"],
        service={k: str(v) for k, v in service.items()},
    )


# ------------------------------------------------------------------ database
def create_database(workloads: int, project_id: str, driver: str = "mysqldb") -> str:
    import MySQLdb

    ensure_mariadb()
    conn = MySQLdb.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")
        cur.execute(f"CREATE DATABASE {DB_NAME} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    conn.close()
    url = f"mysql+{driver}://root@127.0.0.1:3306/{DB_NAME}?charset=utf8mb4"
    from sqlalchemy import insert

    from t4o.db import session
    from t4o.db.models import Workload, WorkloadVM

    session.sync(url)
    start = dt.datetime(2026, 1, 1)
    wl_rows, vm_rows = [], []
    for i in range(workloads):
        wid = str(uuid.uuid4())
        when = start + dt.timedelta(seconds=i)
        wl_rows.append(
            {
                "id": wid,
                "project_id": project_id,
                "user_id": "bench",
                "name": f"workload-{i:04d}",
                "description": "benchmark workload",
                "workload_type_id": SERIAL,
                "source_platform": "openstack",
                "status": "available",
                "jobschedule": {"enabled": False, "interval": "24 hr", "retention_policy_value": "7"},
                "metadata_": {"owner": "bench"},
                "encryption": False,
                "deleted": False,
                "created_at": when,
                "updated_at": when,
            }
        )
        vm_rows.append({"id": str(uuid.uuid4()), "workload_id": wid, "vm_id": str(uuid.uuid4()),
                        "vm_name": f"vm-{i:04d}", "created_at": when})  # fmt: skip
    with session.session_scope(url) as s:
        s.execute(insert(Workload), wl_rows)
        s.execute(insert(WorkloadVM), vm_rows)
    session.dispose_all()
    print(f"seeded {workloads} workloads in MariaDB database {DB_NAME}", flush=True)
    return url


def drop_database() -> None:
    import MySQLdb

    conn = MySQLdb.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")
    conn.close()


# ------------------------------------------------------------------ the API under test
def write_config(path: Path, url: str, port: int, args: argparse.Namespace, cloud: Cloud | None) -> None:
    lines = [
        "[DEFAULT]",
        f"auth_strategy = {'keystone' if cloud else 'noauth'}",
        "transport_url = fake:/",
        f"log_file = {path.parent / 'api.log'}",
        "[api]",
        "bind_host = 127.0.0.1",
        f"bind_port = {port}",
        f"workers = {args.workers}",
        f"threads = {args.threads}",
        "[database]",
        f"connection = {url}",
    ]
    if cloud:
        s = cloud.service
        lines += [
            "[keystone_authtoken]",
            f"www_authenticate_uri = {cloud.keystone_url}",
            f"auth_url = {s['auth_url']}",
            "auth_type = password",
            f"username = {s['username']}",
            f"password = {s['password']}",
            f"project_name = {s['project_name']}",
            f"user_domain_name = {s.get('user_domain_name', 'Default')}",
            f"project_domain_name = {s.get('project_domain_name', 'Default')}",
            # No memcached: keystonemiddleware keeps validated tokens in each worker's memory.
            "token_cache_time = 300",
        ]
    path.write_text("\n".join(lines) + "\n")


def start_api(conf: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    out = (conf.parent / "api.stdout").open("wb")
    proc = subprocess.Popen(
        [str(VENV_BIN / "workloadmgr-api"), "--config-file", str(conf)],
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log = conf.parent / "api.log"
    for _ in range(240):
        if proc.poll() is not None:
            sys.exit(
                f"api_bench: workloadmgr-api exited with {proc.returncode}; see {conf.parent}/api.stdout"
            )
        # gunicorn listens before its workers have loaded the app: connections made before a worker is
        # ready all go to the others, and keep-alive keeps them there for the whole run.
        ready = READY_LINE.findall(log.read_text(errors="replace")) if log.exists() else []
        if port_open(port) and len(ready) >= workers:
            return proc
        time.sleep(0.25)
    proc.terminate()
    sys.exit("api_bench: workloadmgr-api's workers were not all ready within 60 s")


# ------------------------------------------------------------------ load
@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    latencies: list[float]
    errors: int
    body_bytes: int
    first_error: str = ""
    # Percentiles measured by the client itself (wrk's histogram), in ms; else computed from latencies.
    percentiles: dict[float, float] | None = None
    api_cpu_ms: float | None = None  # CPU seconds of the API's processes per request, in ms
    # pid -> the time each request of the call spent in the app (its log line's ``time:``), in seconds
    workers: dict[int, list[float]] | None = None
    # CPU of the MariaDB server per request, in ms (all its clients: other work on the machine adds to it)
    db_cpu_ms: float | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        if self.percentiles is not None:
            return self.percentiles[p]
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, round(p / 100 * len(ordered)) - 1)] * 1000

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "rps": round(self.rps, 1),
            "p50_ms": round(self.pct(50), 1),
            "p95_ms": round(self.pct(95), 1),
            "p99_ms": round(self.pct(99), 1),
            "body_bytes": self.body_bytes,
            "api_cpu_ms_per_request": round(self.api_cpu_ms, 2) if self.api_cpu_ms is not None else None,
            "mariadb_cpu_ms_per_request": round(self.db_cpu_ms, 2) if self.db_cpu_ms is not None else None,
            "workers": {str(pid): worker_summary(times) for pid, times in (self.workers or {}).items()},
        }


def _pct_ms(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return (
        ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))] * 1000 if ordered else 0.0
    )


def worker_summary(times: list[float]) -> dict[str, float]:
    return {
        "requests": len(times),
        "app_p50_ms": round(_pct_ms(times, 50), 1),
        "app_p99_ms": round(_pct_ms(times, 99), 1),
        "app_max_ms": round(max(times, default=0.0) * 1000, 1),
    }


def load(name: str, url: str, headers: dict[str, str], total: int, concurrency: int) -> Result:
    """``total`` GETs of ``url`` spread over ``concurrency`` keep-alive clients."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    latencies: list[float] = []
    errors = [0]
    size = [0]
    first_error: list[str] = []
    lock = threading.Lock()
    per_client = [total // concurrency + (1 if i < total % concurrency else 0) for i in range(concurrency)]
    ready = threading.Barrier(concurrency + 1)

    def client(count: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        mine: list[float] = []
        bad = 0
        ready.wait()
        for _ in range(count):
            t0 = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                if resp.status != 200:
                    bad += 1
                    first_error.append(f"HTTP {resp.status}: {body[:200]!r}")
                size[0] = len(body)
            except (OSError, http.client.HTTPException) as exc:
                bad += 1
                first_error.append(f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
            mine.append(time.perf_counter() - t0)
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=client, args=(n,)) for n in per_client]
    for t in threads:
        t.start()
    ready.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    return Result(name, total, seconds, latencies, errors[0], size[0], first_error[0] if first_error else "")


WRK_SCRIPT = """
-- Set by the benchmark: the X-Auth-Token header of every request.
wrk.headers["X-Auth-Token"] = os.getenv("BENCH_TOKEN")

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "errors": %d, "status": %d, ' ..
    '"p50": %d, "p95": %d, "p99": %d, "max": %d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect + e.read + e.write + e.timeout,
    e.status, latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


def load_wrk(name: str, url: str, token: str, seconds: int, concurrency: int, body_bytes: int) -> Result:
    """``seconds`` of GETs of ``url`` by wrk over ``concurrency`` keep-alive connections."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    try:
        out = subprocess.run(
            ["wrk", "-t", "2", "-c", str(concurrency), "-d", f"{seconds}s", "--timeout", "30s",
             "-s", script.name, url],
            capture_output=True, text=True, timeout=seconds + 120, env={**os.environ, "BENCH_TOKEN": token},
        )  # fmt: skip
    finally:
        os.unlink(script.name)
    found = re.search(r"^RESULT (\{.*\})$", out.stdout, re.M)
    if out.returncode != 0 or not found:
        sys.exit(f"api_bench: wrk failed ({out.returncode}): {out.stdout[-500:]} {out.stderr[-500:]}")
    r = json.loads(found.group(1))
    pcts = {p: r[f"p{p}"] / 1000 for p in (50, 95, 99)}
    errors = r["errors"] + r["status"]
    first = f"{r['status']} non-2xx answers, {r['errors']} socket errors" if errors else ""
    return Result(name, r["requests"], r["duration_us"] / 1e6, [], errors, body_bytes, first, pcts)


def probe(url: str, headers: dict[str, str]) -> int:
    """One GET: the body's size (wrk does not report it per response)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            sys.exit(f"api_bench: GET {url} answered {resp.status}: {body[:300]!r}")
        return len(body)
    finally:
        conn.close()


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) of ``pid`` and its children, from /proc."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    while pids:
        p = pids.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                pids += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


# The API's request log line (oslo.log's default format: time, pid, level, logger, context, message).
REQUEST_LINE = re.compile(r'^\S+ \S+ (\d+) INFO \S+ .*"GET (\S+)" status: \d+ len: \S+ time: ([\d.]+)$', re.M)
# A worker's line once its app is loaded (t4o.cmd.api).
READY_LINE = re.compile(r"workloadmgr-api worker \d+ of \d+ ready\b", re.M)
# The workers' exit lines (t4o.cmd.api): requests served and the garbage collector's pauses.
GC_LINE = re.compile(r"^\S+ \S+ (\d+) INFO \S+ .*(worker exiting: .*)$", re.M)


def log_size(log: Path) -> int:
    return log.stat().st_size if log.exists() else 0


def requests_by_worker(log: Path, offset: int, path: str) -> dict[int, list[float]]:
    """pid -> in-app times of the requests of ``path`` the API logged after ``offset``: how the keep-alive
    connections fell on the workers, and whether a worker's slow requests were slow inside the app."""
    with log.open("rb") as f:
        f.seek(offset)
        text = f.read().decode(errors="replace")
    out: dict[int, list[float]] = {}
    for pid, logged, seconds in REQUEST_LINE.findall(text):
        if logged == path:
            out.setdefault(int(pid), []).append(float(seconds))
    return out


def mariadb_pid() -> int | None:
    for stat in Path("/proc").glob("[0-9]*/comm"):
        try:
            if stat.read_text().strip() == "mariadbd":
                return int(stat.parent.name)
        except OSError:
            continue
    return None


def warm(url: str, headers: dict[str, str], count: int, concurrency: int) -> None:
    """Requests first: token validation cached, connections pooled, code paths imported."""
    load("warm-up", url, headers, count, min(count, concurrency))


def table(results: list[Result], baseline: Result | None) -> str:
    head = (
        f"{'call':44} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'KB':>7} {'err':>4} "
        f"{'API CPU ms/req':>14}"
    )
    if baseline:
        head += f" {'req/s vs Nova':>14} {'p99 vs Nova':>12}"
    out = [head, "-" * len(head)]
    for r in results:
        line = (
            f"{r.name:44} {r.rps:8.1f} {r.pct(50):8.1f} {r.pct(95):8.1f} {r.pct(99):8.1f} "
            f"{r.body_bytes / 1024:7.1f} {r.errors:4d} "
            + (f"{r.api_cpu_ms:14.2f}" if r.api_cpu_ms is not None else f"{'':>14}")
        )
        if baseline:
            line += f" {r.rps / baseline.rps:13.2f}x {r.pct(99) / baseline.pct(99):11.2f}x"
        out.append(line)
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--client",
        choices=["wrk", "python"],
        default="wrk" if shutil.which("wrk") else "python",
        help="load generator: wrk (the default when installed) or Python threads",
    )
    ap.add_argument("--duration", type=int, default=15, help="seconds per measured call (wrk)")
    ap.add_argument("--requests", type=int, default=3000, help="requests per measured call (python client)")
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--workloads", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2, help="gunicorn worker processes of the API")
    ap.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker")
    ap.add_argument(
        "--driver",
        choices=["mysqldb", "pymysql"],
        default="mysqldb",
        help="MySQL driver of the API: mysqlclient (C, the recommended one) or PyMySQL (pure Python)",
    )
    ap.add_argument("--no-nova", action="store_true", help="skip Nova even when devcloud is up")
    ap.add_argument("--no-large-page", action="store_true", help="skip the ?limit=1000 call")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    for flag in ("requests", "duration", "concurrency", "workloads", "workers", "threads"):
        if getattr(args, flag) < 1:
            sys.exit(f"api_bench: --{flag} must be at least 1")

    load_before = os.getloadavg()
    speed = python_speed_us()  # before the load: the machine's own pace
    cloud = devcloud_cloud()
    if cloud is None:
        print("devcloud is not up: the API runs noauth and cannot be compared with Nova", flush=True)
    project = cloud.project_id if cloud else "bench"
    url = create_database(args.workloads, project, args.driver)
    work = Path(tempfile.mkdtemp(prefix="t4o-api-bench-"))
    port = free_port()
    conf = work / "t4o.conf"
    write_config(conf, url, port, args, cloud)
    api_log = work / "api.log"
    db_pid = mariadb_pid()
    proc = start_api(conf, port, args.workers)
    headers = {"X-Auth-Token": cloud.token if cloud else f"bench:{project}:member,reader"}
    base = f"http://127.0.0.1:{port}/v1/{project}"
    results: list[Result] = []
    nova: Result | None = None
    try:
        calls = [("GET /workloads/detail (default page)", f"{base}/workloads/detail")]
        if not args.no_large_page:
            calls.append(("GET /workloads/detail?limit=1000", f"{base}/workloads/detail?limit=1000"))
        if cloud and not args.no_nova:
            calls.append(("Nova GET /servers/detail", f"{cloud.nova_url}/servers/detail"))
        for name, call_url in calls:
            hdrs = {"X-Auth-Token": cloud.token} if name.startswith("Nova") and cloud else headers
            # Every connection (so every worker) warm: a worker's first request of a token goes to Keystone.
            warm(call_url, hdrs, 40 if name.startswith("Nova") else args.concurrency * 10, args.concurrency)
            cpu0 = process_cpu(proc.pid)
            if args.client == "wrk":
                print(f"measuring {name}: wrk, {args.duration} s, {args.concurrency} connections", flush=True)
                size = probe(call_url, hdrs)
                cpu0, offset = process_cpu(proc.pid), log_size(api_log)
                db0 = process_cpu(db_pid) if db_pid else 0.0
                res = load_wrk(name, call_url, hdrs["X-Auth-Token"], args.duration, args.concurrency, size)
            else:
                print(f"measuring {name}: {args.requests} requests, {args.concurrency} clients", flush=True)
                offset = log_size(api_log)
                db0 = process_cpu(db_pid) if db_pid else 0.0
                res = load(name, call_url, hdrs, args.requests, args.concurrency)
            if name.startswith("Nova"):
                nova = res
            else:
                res.api_cpu_ms = (process_cpu(proc.pid) - cpu0) / max(res.requests, 1) * 1000
                if db_pid:
                    res.db_cpu_ms = (process_cpu(db_pid) - db0) / max(res.requests, 1) * 1000
                parts = urlsplit(call_url)
                res.workers = requests_by_worker(
                    api_log, offset, parts.path + (f"?{parts.query}" if parts.query else "")
                )
                results.append(res)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        drop_database()
    load1, load5, load15 = os.getloadavg()
    header = (
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; {platform.node()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()} (sum(range(1000)): {speed:.1f} us); "
        f"load average {load1:.2f} {load5:.2f} {load15:.2f} "
        f"(at the start {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}); "
        f"gunicorn {args.workers} workers x {args.threads} threads; "
        f"auth {'keystonemiddleware (devcloud Keystone)' if cloud else 'noauth'}; "
        f"{args.workloads} workloads in MariaDB ({args.driver}); "
        + (
            f"wrk, {args.duration} s per call"
            if args.client == "wrk"
            else f"{args.requests} requests per call"
        )
        + f", {args.concurrency} clients"
    )
    print()
    print(header)
    # A Nova that failed requests (e.g. devcloud restarting) is no baseline.
    print(table(results + ([nova] if nova else []), nova if nova and not nova.errors else None))
    for r in results + ([nova] if nova else []):
        if r.errors:
            print(f"{r.name}: {r.errors} failed requests; the first: {r.first_error}")
    if nova is None:
        print("No Nova comparison: devcloud is not up (or --no-nova).")
    for r in results:
        if r.db_cpu_ms is not None:
            print(f"{r.name}: MariaDB CPU {r.db_cpu_ms:.2f} ms per request (and its other clients)")
        print(f"{r.name}, by worker (requests, time in the app p50/p99/max ms): " + "; ".join(
            f"pid {pid}: {len(t)} ({100 * len(t) / max(1, sum(map(len, r.workers.values()))):.0f}%), "
            f"{_pct_ms(t, 50):.1f}/{_pct_ms(t, 99):.1f}/{max(t) * 1000:.1f}"
            for pid, t in sorted((r.workers or {}).items())
        ))  # fmt: skip
    gc_lines = GC_LINE.findall(api_log.read_text(errors="replace")) if api_log.exists() else []
    for pid, line in gc_lines:
        print(f"API worker {pid}: {line}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "header": header,
                    "results": {r.name: r.as_dict() for r in results + ([nova] if nova else [])},
                },
                indent=2,
            )
        )
    shutil.rmtree(work, ignore_errors=True)
    if any(r.errors for r in results):
        sys.exit("api_bench: some requests failed (see the err column)")


if __name__ == "__main__":
    main()
