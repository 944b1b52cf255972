"""The metric queries and the RPO alert's compare-and-set on real MariaDB and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from t4o.api import prometheus
from t4o.db import api as db
from t4o.db import metrics_api, session, states
from t4o.db.models import Snapshot, Workload, WorkloadVM
from t4o.policies import rpo
from tests.fixtures.control_plane import database_url

SERIAL = "f82ce76f-17fe-438b-aa37-7a023058e50d"


@pytest.fixture(params=["mariadb", "postgresql"])
def backend(request: pytest.FixtureRequest, t4o_conf: Any) -> Iterator[Any]:
    with database_url(request.param) as url:
        session.sync(url)
        t4o_conf.set_override("connection", url, group="database")
        try:
            yield t4o_conf
        finally:
            session.dispose_all()


def test_queries_and_one_winner_of_the_alert(backend: Any) -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    wid, other = str(uuid.uuid4()), str(uuid.uuid4())
    with session.session_scope() as s:
        for i, w in enumerate((wid, other)):
            s.add(
                Workload(
                    id=w,
                    project_id="p1",
                    workload_type_id=SERIAL,
                    status=states.AVAILABLE,
                    jobschedule={"rpo_hours": 2 + 10 * i},
                    metadata_={"k": "v"},
                    created_at=now - dt.timedelta(days=1),
                )
            )
        s.flush()
        s.add_all(WorkloadVM(workload_id=wid, vm_id=str(uuid.uuid4()), vm_name=f"vm-{n}") for n in range(2))
        for hours, status in ((3, states.AVAILABLE), (1, states.ERROR), (5, states.AVAILABLE)):
            at = now - dt.timedelta(hours=hours)
            s.add(Snapshot(workload_id=wid, project_id="p1", status=status, created_at=at, finished_at=at))

    points = {r["id"]: r for r in metrics_api.recovery_points(with_metadata=True)}
    newest = now - dt.timedelta(hours=3)  # MariaDB's DATETIME keeps whole seconds
    assert abs((points[wid]["last_snapshot_at"] - newest).total_seconds()) < 1
    assert points[other]["last_snapshot_at"] is None and points[wid]["metadata"] == {"k": "v"}

    # A listing page reads each row's newest snapshot in its own query; the RPO fields agree with the
    # separate query's, a workload with two VMs included.
    rows = db.workload_list_rows("p1", raw_json=True, last_snapshot=True)
    assert [len(r["instances"]) for r in rows if r["id"] == wid] == [2]
    listed = rpo.listing_views(rows, now)
    queried = rpo.listing_views([{k: v for k, v in r.items() if k != "last_snapshot_at"} for r in rows], now)
    assert listed == queried
    assert listed[wid]["last_snapshot_at"] is not None and listed[other]["last_snapshot_at"] is None
    assert listed[wid]["rpo_breached"] and listed[other]["rpo_breached"]

    families = {
        f.name: f
        for f in text_string_to_metric_families(generate_latest(prometheus.registry(backend)).decode())
    }
    breached = {s.labels["workload_id"]: s.value for s in families["t4o_workload_rpo_breached"].samples}
    assert breached == {wid: 1.0, other: 1.0}  # 3 h > 2 h; no snapshot for a day > 12 h
    jobs = {(s.labels["kind"], s.labels["status"]): s.value for s in families["t4o_jobs"].samples}
    assert jobs[("snapshot", "available")] == 2 and jobs[("snapshot", "error")] == 1

    # Eight cron processes race to record the same alert: one wins.
    barrier, wins = threading.Barrier(8), []

    def race(n: int) -> None:
        barrier.wait()
        if metrics_api.swap_metadata_key(wid, "rpo_alert", None, f"alert {n}"):
            wins.append(n)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1, wins
    stored = metrics_api.recovery_points(with_metadata=True)
    assert next(r for r in stored if r["id"] == wid)["metadata"] == {
        "k": "v",
        "rpo_alert": f"alert {wins[0]}",
    }
    assert metrics_api.swap_metadata_key(wid, "rpo_alert", f"alert {wins[0]}", None)
    assert next(r for r in metrics_api.recovery_points(True) if r["id"] == wid)["metadata"] == {"k": "v"}
