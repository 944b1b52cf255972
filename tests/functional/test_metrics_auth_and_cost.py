"""/metrics of the workloadmgr-api WSGI application in this process: who may scrape it under each
``[metrics] require_auth``, and what one scrape costs with 1000 workloads."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, event
from werkzeug.test import Client

from t4o.api import app as api_app
from t4o.api import prometheus
from t4o.db import states
from t4o.db.models import Restore, Snapshot, Workload
from t4o.db.session import session_scope

SERIAL = "f82ce76f-17fe-438b-aa37-7a023058e50d"


def client(conf: Any) -> Client:
    return Client(api_app.create_app(conf))


def test_metrics_are_public_by_default_under_noauth_and_keystone(t4o_conf: Any) -> None:
    t4o_conf.set_override("auth_strategy", "noauth")
    member = {"X-Auth-Token": "bob:p1:member,reader"}
    resp = client(t4o_conf).get("/metrics", headers=member)
    assert resp.status_code == 200 and "t4o_jobs" in resp.get_data(as_text=True)

    # Under Keystone the path skips auth_token altogether (which, with no Keystone here, could not answer).
    t4o_conf.set_override("auth_strategy", "keystone")
    assert client(t4o_conf).get("/metrics").status_code == 200


def test_require_auth_asks_for_the_metrics_rule(t4o_conf: Any) -> None:
    t4o_conf.set_override("auth_strategy", "noauth")
    t4o_conf.set_override("require_auth", True, group="metrics")
    app = client(t4o_conf)
    resp = app.get("/metrics", headers={"X-Auth-Token": "bob:p1:member,reader"})
    assert resp.status_code == 403 and "metrics:get" in resp.get_data(as_text=True)
    resp = app.get("/metrics", headers={"X-Auth-Token": "root:p1:admin,member"})
    assert resp.status_code == 200


def test_openmetrics_when_asked(t4o_conf: Any) -> None:
    t4o_conf.set_override("auth_strategy", "noauth")
    resp = client(t4o_conf).get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/openmetrics-text")
    assert resp.get_data(as_text=True).rstrip().endswith("# EOF")


def populate(workloads: int, snapshots_each: int) -> dt.datetime:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows: list[Any] = []
    for i in range(workloads):
        wid = str(uuid.uuid4())
        schedule = {"enabled": False, "rpo_hours": 24} if i % 2 else {"enabled": False}
        rows.append(
            Workload(
                id=wid,
                project_id=f"p{i % 20}",
                workload_type_id=SERIAL,
                status=states.AVAILABLE,
                jobschedule=schedule,
                created_at=now - dt.timedelta(days=30),
            )
        )
        for j in range(snapshots_each):
            at = now - dt.timedelta(hours=6 * j + 1)
            rows.append(
                Snapshot(
                    workload_id=wid,
                    project_id=f"p{i % 20}",
                    status=states.AVAILABLE if j else states.ERROR,
                    created_at=at,
                    updated_at=at,
                    finished_at=at,
                    time_taken=60.0 * (j + 1),
                    size=2**30,
                    uploaded_size=2**28,
                )
            )
    with session_scope() as s:
        s.add_all([r for r in rows if isinstance(r, Workload)])
        s.flush()
        s.add_all([r for r in rows if isinstance(r, Snapshot)])
        s.flush()
        snap = next(r for r in rows if isinstance(r, Snapshot))
        s.add(
            Restore(
                snapshot_id=snap.id,
                workload_id=snap.workload_id,
                project_id=snap.project_id,
                restore_type="oneclick",
                status=states.QUEUED,
            )
        )
    return now


def statements_of_one_scrape(reg: Any) -> tuple[int, bytes]:
    """The SQL statements one scrape sends (every engine of the process), and its page."""
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    event.listen(Engine, "before_cursor_execute", count)
    try:
        page = generate_latest(reg)
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    return len(seen), page


def test_one_scrape_costs_the_same_statements_at_10_and_1000_workloads(t4o_conf: Any) -> None:
    """A scrape's cost follows the metrics, not the number of workloads: the same statements for 10
    workloads and for 1000 (wall time is the benchmark's to measure, not a test's on a shared machine)."""
    populate(10, 5)
    reg = prometheus.registry(t4o_conf)
    generate_latest(reg)  # the first one warms the connection pool and the statement caches
    few, _ = statements_of_one_scrape(reg)
    populate(990, 5)
    started = time.perf_counter()
    many, page = statements_of_one_scrape(reg)
    took = (time.perf_counter() - started) * 1000
    print(f"scrape of 1000 workloads and 5000 snapshots: {many} statements, {took:.1f} ms")
    assert 0 < few == many, (few, many)
    families = {f.name: f for f in text_string_to_metric_families(page.decode())}
    ages = families["t4o_workload_last_snapshot_age_seconds"].samples
    # Each workload's newest snapshot (1 h old) failed: its newest available one is 7 h old.
    assert len(ages) == 1000
    assert all(7 * 3600 <= s.value < 7 * 3600 + 60 for s in ages)
    breached = families["t4o_workload_rpo_breached"].samples
    assert len(breached) == 500 and {s.value for s in breached} == {0.0}
    counts = {
        s.labels["status"]: s.value for s in families["t4o_jobs"].samples if s.labels["kind"] == "snapshot"
    }
    assert counts["available"] == 4000 and counts["error"] == 1000


@pytest.fixture(autouse=True)
def _plain_auth(t4o_conf: Any) -> Any:
    yield
    t4o_conf.clear_override("auth_strategy")
    t4o_conf.clear_override("require_auth", group="metrics")
