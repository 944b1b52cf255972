"""Two real workloadmgr-cron processes against one PostgreSQL database over RabbitMQ, with the API,
scheduler and a workloads worker: every due run fires exactly once, through the same path as a user."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from tests.fixtures.control_plane import ControlPlane, broker_control_plane, member

WORKLOADS = 6


@pytest.fixture(scope="module")
def two_crons(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ControlPlane, str]]:
    # Both crons look often, so that they race for the same runs.
    options = {"global_job_scheduler": {"tick_interval": 0.2}}
    with broker_control_plane(tmp_path_factory.mktemp("cron-ha"), "postgresql", options) as (cp, url):
        cp.start("api", ["workloadmgr-api"])
        cp.start("scheduler", ["workloadmgr-scheduler"])
        cp.start("worker", ["workloadmgr-workloads"])
        cp.wait_api()
        yield cp, url


def scheduled_workload(cp: ControlPlane, proj: str) -> str:
    (vm,) = cp.add_servers(proj, 1)
    # The run of the current minute is due at once (it is within the misfire grace time).
    now = dt.datetime.now(dt.UTC)
    schedule = {
        "enabled": True,
        "start_date": f"{now:%m/%d/%Y}",
        "start_time": f"{now:%H:%M}",
        "interval": "1 hr",
        "timezone": "UTC",
        "fullbackup_interval": "-1",
    }
    body = {"workload": {"name": "cron", "instances": [{"instance-id": vm}], "jobschedule": schedule}}
    resp = cp.request("POST", "/workloads", proj, member(proj), json=body)
    assert resp.status_code == 202, resp.text
    return resp.json()["workload"]["id"]


def test_two_cron_processes_never_double_a_run(two_crons: tuple[ControlPlane, str]) -> None:
    cp, url = two_crons
    proj = "p" + uuid.uuid4().hex[:8]
    # Crons first: the workloads appear while both are ticking.
    for host in ("cron-a", "cron-b"):
        (cp.workdir / f"{host}.conf").write_text(f"[DEFAULT]\nhost = {host}\n")
        cp.start(host, ["workloadmgr-cron"], extra_conf=cp.workdir / f"{host}.conf")
    wids = [scheduled_workload(cp, proj) for _ in range(WORKLOADS)]

    deadline = time.monotonic() + 90
    snaps: list[dict] = []
    while time.monotonic() < deadline:
        resp = cp.request("GET", "/snapshots/detail", proj, member(proj))
        assert resp.status_code == 200, resp.text
        snaps = resp.json()["snapshots"]
        if len(snaps) >= WORKLOADS and all(s["status"] == "available" for s in snaps):
            break
        time.sleep(0.5)
    time.sleep(3)  # many more ticks of both crons: nothing new may fire
    snaps = cp.request("GET", "/snapshots/detail", proj, member(proj)).json()["snapshots"]
    assert sorted(s["workload_id"] for s in snaps) == sorted(wids), (cp.log("cron-a"), cp.log("cron-b"))
    assert all(s["status"] == "available" and s["snapshot_type"] == "full" for s in snaps), snaps

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT workload_id, status, host, snapshot_id FROM scheduled_runs")
            ).all()
    finally:
        engine.dispose()
    assert sorted(r.workload_id for r in rows) == sorted(wids)
    assert {r.status for r in rows} == {"completed"}  # fired, then settled when the snapshot ended
    assert {r.snapshot_id for r in rows} == {s["id"] for s in snaps}
    assert {r.host for r in rows} <= {"cron-a", "cron-b"}
    for host in ("cron-a", "cron-b"):
        assert cp.procs[host].poll() is None, cp.log(host)
