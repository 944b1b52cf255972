"""Deployment-wide transfer slots on real databases (SQLite as all-in-one runs it, MariaDB, PostgreSQL):
the per-host, per-target and total limits hold with many acquirers at once (threads, and processes that
share nothing but the database); a freed slot goes to the project with the fewest running transfers; a
slot whose holder died (its lease not renewed, or its process killed with -9) is granted again."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from t4o.common import config
from t4o.db import session
from t4o.db import transfer_slots_api as api
from t4o.db.transfer_slots_api import Limits
from t4o.workloads.flows.transfer_slots import TransferSlots
from tests.fixtures.control_plane import database_url

T0 = dt.datetime(2026, 1, 5, 22, 0, 0)


@pytest.fixture(params=["sqlite", "mariadb", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    config.ensure_registered()
    conf = config.CONF
    conf([], project="t4o", default_config_files=[])

    def use(url: str) -> Iterator[str]:
        conf.set_override("connection", url, group="database")
        session.sync(url)
        try:
            yield url
        finally:
            session.dispose_all()
            conf.clear_override("connection", group="database")
            conf.reset()

    if request.param == "sqlite":
        yield from use(f"sqlite:///{tmp_path}/slots.sqlite")
    else:
        with database_url(request.param) as url:
            yield from use(url)


class FakeClock:
    """A clock that moves only when the code under test sleeps (or the test moves it)."""

    def __init__(self, start: dt.datetime = T0) -> None:
        self.now = start
        self.lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += dt.timedelta(seconds=seconds)


def slots(project: str, limits: Limits, **kwargs: Any) -> TransferSlots:
    options: dict[str, Any] = {"lease": 30.0, "poll": 0.02, "pass_every": 0.5, "report_every": 0.5}
    options.update(kwargs)
    return TransferSlots(
        limits, job_kind="snapshot", job_id=str(uuid.uuid4()), project_id=project, worker="w1",
        target=options.pop("target", "/vault"), **options,
    )  # fmt: skip


class Meter:
    """Transfers inside their slot now, per host and in total, and the most ever seen."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now: Counter[str] = Counter()
        self.most: Counter[str] = Counter()

    def enter(self, host: str) -> None:
        with self.lock:
            self.now[host] += 1
            self.now["*"] += 1
            for key in (host, "*"):
                self.most[key] = max(self.most[key], self.now[key])

    def leave(self, host: str) -> None:
        with self.lock:
            self.now[host] -= 1
            self.now["*"] -= 1


def test_limits_hold_with_many_threads_acquiring_at_once(db_url: str) -> None:
    limits = Limits(per_host=2, per_target=0, total=5)
    meter, failures = Meter(), []
    start = threading.Barrier(18)

    def transfer(i: int) -> None:
        host = f"cmp{i % 3}"
        start.wait()
        try:
            with slots(f"p{i % 2}", limits).hold(host, lambda message: None):
                meter.enter(host)
                time.sleep(0.15)
                meter.leave(host)
        except BaseException as exc:  # shown by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=transfer, args=(i,)) for i in range(18)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures, [str(f)[:300] for f in failures[:3]]
    # Never above a limit, and the limits were reached (the slots were used, not just withheld).
    assert max(meter.most[f"cmp{h}"] for h in range(3)) == 2, meter.most
    assert meter.most["*"] == 5, meter.most
    assert api.listing() == []  # every slot given back


def test_the_per_target_limit_holds_too(db_url: str) -> None:
    limits = Limits(per_host=0, per_target=2, total=0)
    meter = Meter()

    def transfer(i: int) -> None:
        target = f"s3://bucket-{i % 2}"
        with slots("p", limits, target=target).hold(f"cmp{i}", lambda message: None):
            meter.enter(target)
            time.sleep(0.1)
            meter.leave(target)

    threads = [threading.Thread(target=transfer, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert meter.most["s3://bucket-0"] == meter.most["s3://bucket-1"] == 2, meter.most


WORKER = r"""
import json, sys, threading, time, uuid
from t4o.common import config
from t4o.db.transfer_slots_api import Limits
from t4o.workloads.flows.transfer_slots import TransferSlots

url, out, name = sys.argv[1:4]
count, hold_for, lease = int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
config.ensure_registered()
config.CONF([], project="t4o", default_config_files=[])
config.CONF.set_override("connection", url, group="database")
limits = Limits(per_host=2, per_target=0, total=3)
spans, lock = [], threading.Lock()

def one(i):
    host = f"cmp{i % 2}"
    gate = TransferSlots(limits, job_kind="snapshot", job_id=str(uuid.uuid4()), project_id=name, worker=name,
                         target="/vault", lease=lease, poll=0.02, pass_every=0.3)
    with gate.hold(host, lambda message: print(message, flush=True)):
        began = time.time()
        print("HOLDING", flush=True)
        time.sleep(hold_for)
        with lock:
            spans.append((host, began, time.time()))

threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
for t in threads: t.start()
for t in threads: t.join()
json.dump(spans, open(out, "w"))
"""


def worker(url: str, out: Path, name: str, count: int, hold_for: float, lease: float = 30.0) -> Any:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, url, str(out), name, str(count), str(hold_for), str(lease)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(Path.cwd())},
    )  # fmt: skip


def most_at_once(spans: list[tuple[str, float, float]], key: str | None) -> int:
    events = sorted(
        [(b, 1) for h, b, _e in spans if key in (None, h)]
        + [(e, -1) for h, _b, e in spans if key in (None, h)]
    )  # an end sorts before a start at the same instant
    now = most = 0
    for _at, step in events:
        now += step
        most = max(most, now)
    return most


def test_limits_hold_across_processes(db_url: str, tmp_path: Path) -> None:
    procs = [worker(db_url, tmp_path / f"w{i}.json", f"proj{i}", 4, 0.2) for i in range(3)]
    for p in procs:
        assert p.wait(180) == 0
    spans = [(h, b, e) for i in range(3) for h, b, e in json.loads((tmp_path / f"w{i}.json").read_text())]
    assert len(spans) == 12
    assert most_at_once(spans, "cmp0") <= 2 and most_at_once(spans, "cmp1") <= 2, spans
    assert most_at_once(spans, None) == 3, spans


def test_a_freed_slot_goes_to_the_project_with_fewest_running(db_url: str) -> None:
    limits = Limits(per_host=1)
    order: list[str] = []
    holder = slots("big", limits)
    release = threading.Event()
    started = threading.Event()

    def hold_first() -> None:
        with holder.hold("cmp1", lambda message: None):
            started.set()
            release.wait(60)

    def queued(project: str, n: int) -> None:
        with slots(project, limits).hold("cmp1", lambda message: None):
            order.append(f"{project}{n}")
            time.sleep(0.02)

    first = threading.Thread(target=hold_first)
    first.start()
    assert started.wait(30)
    threads = []
    for n in range(10):  # the big project queues ten transfers first...
        threads.append(threading.Thread(target=queued, args=("big", n)))
        threads[-1].start()
        _wait_rows(2 + n)  # in this order: each request is in before the next is made
    threads.append(threading.Thread(target=queued, args=("small", 0)))  # ...then the small one, one
    threads[-1].start()
    _wait_rows(12)
    release.set()
    for t in [first, *threads]:
        t.join(120)
    assert order[0] == "small0", order  # served before the nine-plus queued earlier by the big project
    assert order[1:] == [f"big{n}" for n in range(10)], order  # then the big one's, oldest first


def _wait_rows(count: int) -> None:
    deadline = time.monotonic() + 30
    while len(api.listing()) < count:
        assert time.monotonic() < deadline, api.listing()
        time.sleep(0.02)


def test_fairness_rule_on_the_database_two_projects_take_turns(db_url: str) -> None:
    """With one slot per host and the whole queue there before any grant, the grants alternate between the
    projects (each pass: the project with fewer running, then the oldest request)."""
    limits = Limits(per_host=2)
    for n in range(6):
        api.request(
            f"00000000-0000-0000-0000-00000000a{n:03d}", job_kind="snapshot", job_id="j-a", project_id="a",
            host="cmp1", target="/v", worker="w", now=T0 + dt.timedelta(seconds=n), lease=600,
        )  # fmt: skip
    api.request(
        "00000000-0000-0000-0000-00000000b000", job_kind="snapshot", job_id="j-b", project_id="b",
        host="cmp1", target="/v", worker="w", now=T0 + dt.timedelta(seconds=10), lease=600,
    )  # fmt: skip
    granted = api.grant_pass(limits, T0 + dt.timedelta(seconds=11))
    assert [g[-4:] for g in granted] == ["a000", "b000"]  # not the two oldest, both of a


def test_a_slot_whose_holder_stopped_renewing_is_freed_at_its_lease_end(db_url: str) -> None:
    limits = Limits(per_host=1)
    clock = FakeClock()
    # A holder that died right after it got its slot: granted, and never renewed.
    api.request(
        "dead0000-0000-0000-0000-000000000000", job_kind="snapshot", job_id="j0", project_id="p",
        host="cmp1", target="/vault", worker="gone", now=clock(), lease=30,
    )  # fmt: skip
    assert api.grant_pass(limits, clock()) == ["dead0000-0000-0000-0000-000000000000"]
    said: list[str] = []
    waiter = slots("q", limits, clock=clock, sleep=clock.sleep, poll=1.0, pass_every=5.0, report_every=10.0)
    with waiter.hold("cmp1", said.append):
        waited = (clock() - T0).total_seconds()
    assert 30 <= waited <= 36, waited  # the lease, then at most one grant pass later
    assert said[0] == "waiting for a transfer slot (host cmp1: 1 of 1 busy)", said
    assert api.listing() == []


def test_a_slot_of_a_process_killed_with_sigkill_is_granted_again(db_url: str, tmp_path: Path) -> None:
    lease = 3.0
    proc = worker(db_url, tmp_path / "killed.json", "victim", 1, 600.0, lease)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "HOLDING"
        (row,) = api.listing()
        assert row.state == api.RUNNING
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    began = time.monotonic()
    said: list[str] = []
    with slots("next", Limits(per_host=1), poll=0.05, pass_every=0.2).hold("cmp0", said.append):
        waited = time.monotonic() - began
    assert waited <= lease + 5, waited  # freed by its lease's end (and a loaded machine's delays)
    assert said and said[0].startswith("waiting for a transfer slot (host cmp0: 1 of 1 busy"), said


def test_a_restarted_worker_releases_its_rows(db_url: str) -> None:
    for n, worker_host in enumerate(["w1", "w1", "w2"]):
        api.request(
            str(uuid.uuid4()), job_kind="restore", job_id=f"j{n}", project_id="p", host="cmp1",
            target="/v", worker=worker_host, now=T0, lease=600,
        )  # fmt: skip
    assert api.release_worker("w1") == 2
    assert [r.worker for r in api.listing()] == ["w2"]
