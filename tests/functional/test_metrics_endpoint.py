"""GET /metrics of a real `t4o all-in-one`, parsed by prometheus_client's own parser, against the workloads
and jobs this test made: some through the API, some written straight into the service's database where a
state (an old snapshot, a failed job, a silent agent) cannot be reached quickly through the API."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from t4o.db.models import Restore, Service, Snapshot, Workload
from t4o.db.session import session_scope
from tests.fixtures.control_plane import ControlPlane, admin, member

WINDOW_HOURS = 6


@pytest.fixture(scope="module")
def cp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    plane = ControlPlane(tmp_path_factory.mktemp("metrics"), {"metrics": {"job_window_hours": WINDOW_HOURS}})
    try:
        plane.start_all_in_one()
        yield plane
    finally:
        plane.stop()


def db_url(plane: ControlPlane) -> str:
    return f"sqlite:///{plane.workdir}/t4o.sqlite"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def create_workload(plane: ControlPlane, proj: str, **extra: Any) -> dict[str, Any]:
    vms = plane.add_servers(proj, 1)
    body = {"workload": {"name": "wl", "instances": [{"instance-id": v} for v in vms], **extra}}
    resp = plane.request("POST", "/workloads", proj, member(proj), json=body)
    assert resp.status_code == 202, resp.text
    return resp.json()["workload"]


def scrape(plane: ControlPlane) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """sample name -> (sorted labels) -> value, as Prometheus' client library parses the page."""
    resp = requests.get(plane.url + "/metrics", timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("text/plain")
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(resp.text):
        assert family.documentation, f"{family.name} has no help text"
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def value(metrics: dict[str, Any], name: str, **labels: str) -> float:
    return metrics[name][tuple(sorted(labels.items()))]


def insert_job(model: Any, url: str, **values: Any) -> str:
    job_id = str(uuid.uuid4())
    with session_scope(url) as s:
        s.add(model(id=job_id, **values))
    return job_id


def test_metrics_are_what_the_test_made(cp: ControlPlane) -> None:
    proj, url = "p" + uuid.uuid4().hex[:12], db_url(cp)
    fresh = create_workload(cp, proj, jobschedule={"enabled": False, "rpo_hours": 26})
    stale = create_workload(cp, proj, jobschedule={"enabled": False, "rpo_hours": "26"})
    empty_old = create_workload(cp, proj, jobschedule={"enabled": False, "rpo_hours": 1.5})
    plain = create_workload(cp, proj)

    # Through the API: a full snapshot of `fresh` and a restore of it.
    resp = cp.request("POST", f"/workloads/{fresh['id']}?full=1", proj, member(proj), json={"snapshot": {}})
    assert resp.status_code == 202, resp.text
    snap = cp.wait_job("snapshot", resp.json()["snapshot"]["id"], proj, member(proj))
    assert snap["status"] == "available"
    path = f"/workloads/{fresh['id']}/snapshots/{snap['id']}/restores"
    resp = cp.request("POST", path, proj, member(proj), json={"restore": {"name": "r"}})
    assert resp.status_code == 202, resp.text
    restore = cp.wait_job("restore", resp.json()["restore"]["id"], proj, member(proj))
    assert restore["status"] == "available"

    # Straight into the database: jobs the API would take long to bring into these states.
    t = now()
    common = {"project_id": proj, "user_id": "alice", "name": "x"}
    stale_at = t - dt.timedelta(hours=30)  # finished outside the window
    insert_job(
        Snapshot,
        url,
        workload_id=stale["id"],
        status="available",
        created_at=stale_at,
        updated_at=stale_at,
        finished_at=stale_at + dt.timedelta(minutes=5),
        time_taken=300.0,
        size=10 * 2**30,
        uploaded_size=3 * 2**30,
        **common,
    )
    recent = t - dt.timedelta(hours=1)
    insert_job(
        Snapshot,
        url,
        workload_id=stale["id"],
        status="error",
        created_at=recent,
        updated_at=recent,
        finished_at=recent,
        time_taken=45.0,
        size=2**20,
        uploaded_size=0,
        **common,
    )
    insert_job(
        Snapshot,
        url,
        workload_id=plain["id"],
        status="cancelled",
        created_at=recent,
        updated_at=recent,
        finished_at=recent,
        time_taken=700.0,
        size=5 * 2**30,
        uploaded_size=2**30,
        **common,
    )
    queued_at = t - dt.timedelta(seconds=40)
    insert_job(
        Restore,
        url,
        workload_id=fresh["id"],
        snapshot_id=snap["id"],
        restore_type="oneclick",
        status="queued",
        created_at=queued_at,
        updated_at=queued_at,
        **common,
    )
    old_created = t - dt.timedelta(hours=2)
    with session_scope(url) as s:
        s.get(Workload, empty_old["id"]).created_at = old_created  # type: ignore[union-attr]
        silent = t - dt.timedelta(seconds=500)
        s.add(
            Service(
                host="compute-9",
                binary="datamover",
                topic="t4o-datamover",
                created_at=silent,
                updated_at=silent,
            )
        )

    before = time.time()
    m = scrape(cp)
    elapsed = time.time() - before

    # jobs by kind and status (this control plane holds only what this test made)
    assert value(m, "t4o_jobs", kind="snapshot", status="available") == 2
    assert value(m, "t4o_jobs", kind="snapshot", status="error") == 1
    assert value(m, "t4o_jobs", kind="snapshot", status="cancelled") == 1
    assert value(m, "t4o_jobs", kind="snapshot", status="queued") == 0
    assert value(m, "t4o_jobs", kind="restore", status="available") == 1
    assert value(m, "t4o_jobs", kind="restore", status="queued") == 1
    assert value(m, "t4o_jobs_queued", kind="restore") == 1
    assert value(m, "t4o_jobs_queued", kind="snapshot") == 0
    oldest = value(m, "t4o_job_queue_oldest_age_seconds", kind="restore")
    assert 40 <= oldest <= 40 + (time.time() - t.replace(tzinfo=dt.UTC).timestamp()) + 1
    assert value(m, "t4o_workloads", status="available") == 4

    # durations and bytes of the jobs that finished in the window (the 30 h old snapshot is outside)
    dur = "t4o_job_duration_seconds"
    assert value(m, dur + "_count", kind="snapshot", status="available") == 1
    assert value(m, dur + "_sum", kind="snapshot", status="available") == pytest.approx(snap["time_taken"])
    assert value(m, dur + "_count", kind="snapshot", status="error") == 1
    assert value(m, dur + "_bucket", kind="snapshot", status="error", le="30.0") == 0
    assert value(m, dur + "_bucket", kind="snapshot", status="error", le="60.0") == 1
    assert value(m, dur + "_bucket", kind="snapshot", status="cancelled", le="600.0") == 0
    assert value(m, dur + "_bucket", kind="snapshot", status="cancelled", le="1200.0") == 1
    assert value(m, dur + "_sum", kind="snapshot", status="cancelled") == 700.0
    assert value(m, dur + "_count", kind="restore", status="available") == 1
    read_sum = snap["size"] + 2**20 + 5 * 2**30
    assert value(m, "t4o_job_read_bytes_count", kind="snapshot") == 3
    assert value(m, "t4o_job_read_bytes_sum", kind="snapshot") == read_sum
    assert value(m, "t4o_job_stored_bytes_sum", kind="snapshot") == snap["uploaded_size"] + 2**30
    assert value(m, "t4o_job_stored_bytes_bucket", kind="snapshot", le="+Inf") == 3

    # heartbeats: the silent agent the test recorded, and the all-in-one's own services
    age = value(m, "t4o_service_heartbeat_age_seconds", binary="datamover", host="compute-9")
    assert 500 <= age <= 500 + elapsed + (time.time() - t.replace(tzinfo=dt.UTC).timestamp())
    assert value(m, "t4o_service_up", binary="datamover", host="compute-9") == 0
    assert value(m, "t4o_service_disabled", binary="datamover", host="compute-9") == 0
    own = {dict(k)["binary"]: v for k, v in m["t4o_service_up"].items() if dict(k)["host"] != "compute-9"}
    assert own and set(own.values()) == {1.0}, own

    # backup target usage as the database records it: every live snapshot of the project
    assert value(m, "t4o_project_snapshots", project_id=proj) == 4
    assert (
        value(m, "t4o_project_snapshot_bytes", project_id=proj)
        == snap["size"] + 10 * 2**30 + 2**20 + 5 * 2**30
    )
    stored = snap["uploaded_size"] + 3 * 2**30 + 2**30
    assert value(m, "t4o_project_stored_bytes", project_id=proj) == stored

    # last available snapshot and RPO
    age_name = "t4o_workload_last_snapshot_age_seconds"
    fresh_age = value(m, age_name, workload_id=fresh["id"], project_id=proj)
    assert 0 <= fresh_age < 120
    stale_age = value(m, age_name, workload_id=stale["id"], project_id=proj)
    assert 30 * 3600 <= stale_age < 30 * 3600 + 120
    assert (("project_id", proj), ("workload_id", plain["id"])) not in m[age_name]
    assert (("project_id", proj), ("workload_id", empty_old["id"])) not in m[age_name]
    rpo = "t4o_workload_rpo_seconds"
    assert value(m, rpo, workload_id=fresh["id"], project_id=proj) == 26 * 3600
    assert value(m, rpo, workload_id=empty_old["id"], project_id=proj) == 1.5 * 3600
    breached = "t4o_workload_rpo_breached"
    assert value(m, breached, workload_id=fresh["id"], project_id=proj) == 0
    assert value(m, breached, workload_id=stale["id"], project_id=proj) == 1
    assert value(m, breached, workload_id=empty_old["id"], project_id=proj) == 1
    assert (("project_id", proj), ("workload_id", plain["id"])) not in m[breached]

    # the workload's view says the same
    shown = cp.request("GET", f"/workloads/{stale['id']}", proj, member(proj)).json()["workload"]
    assert shown["rpo_hours"] == 26 and shown["rpo_breached"] is True
    assert shown["last_snapshot_at"].startswith(stale_at.isoformat()[:19])
    assert 30 * 3600 <= shown["last_snapshot_age_seconds"] < 30 * 3600 + 120
    shown = cp.request("GET", f"/workloads/{fresh['id']}", proj, member(proj)).json()["workload"]
    assert (shown["rpo_hours"], shown["rpo_breached"]) == (26, False)
    shown = cp.request("GET", f"/workloads/{plain['id']}", proj, member(proj)).json()["workload"]
    assert (shown["rpo_hours"], shown["rpo_breached"], shown["last_snapshot_at"]) == (None, False, None)
    assert shown["rpo_missed_since"] is None

    # since when the RPO is missed: the newest available snapshot's creation + rpo_hours
    shown = cp.request("GET", f"/workloads/{stale['id']}", proj, member(proj)).json()["workload"]
    since = dt.datetime.fromisoformat(shown["rpo_missed_since"].rstrip("Z"))
    assert abs((since - (stale_at + dt.timedelta(hours=26))).total_seconds()) < 1, shown

    # the detailed listing (what the dashboard's tables read) carries the same RPO fields, the summary not
    rpo_keys = ("rpo_hours", "rpo_breached", "last_snapshot_at", "rpo_missed_since")
    listed = cp.request("GET", "/workloads/detail", proj, member(proj)).json()["workloads"]
    by_id = {w["id"]: w for w in listed}
    assert set(by_id) == {fresh["id"], stale["id"], empty_old["id"], plain["id"]}
    for wl in (fresh, stale, empty_old, plain):
        one = cp.request("GET", f"/workloads/{wl['id']}", proj, member(proj)).json()["workload"]
        assert {k: by_id[wl["id"]][k] for k in rpo_keys} == {k: one[k] for k in rpo_keys}
        ages = (by_id[wl["id"]]["last_snapshot_age_seconds"], one["last_snapshot_age_seconds"])
        assert ages == (None, None) or abs(ages[0] - ages[1]) < 60, ages
    assert by_id[stale["id"]]["rpo_breached"] is True and by_id[fresh["id"]]["rpo_missed_since"] is None
    assert by_id[empty_old["id"]]["rpo_missed_since"] is not None  # no snapshot: the workload's age
    summary = cp.request("GET", "/workloads", proj, member(proj)).json()["workloads"]
    assert all("rpo_hours" not in w for w in summary)


@pytest.mark.parametrize("bad", [0, -2, "soon", "nan", 10**6])
def test_a_bad_rpo_is_refused(cp: ControlPlane, bad: Any) -> None:
    proj = "p" + uuid.uuid4().hex[:12]
    vms = cp.add_servers(proj, 1)
    body = {"workload": {"instances": [{"instance-id": vms[0]}], "jobschedule": {"rpo_hours": bad}}}
    resp = cp.request("POST", "/workloads", proj, member(proj), json=body)
    assert resp.status_code == 400 and "jobschedule.rpo_hours must be" in resp.text, resp.text
    policy = {
        "workload_policy": {"display_name": "gold", "field_values": {"interval": "4", "rpo_hours": bad}}
    }
    resp = cp.request("POST", "/workload_policy/", proj, admin(proj), json=policy)
    assert resp.status_code == 400 and "jobschedule.rpo_hours must be" in resp.text, resp.text


def test_rpo_of_a_policy_reaches_its_workloads_and_can_be_removed(cp: ControlPlane) -> None:
    proj = "p" + uuid.uuid4().hex[:12]
    policy = {"workload_policy": {"display_name": "gold", "field_values": {"interval": "4", "rpo_hours": 8}}}
    resp = cp.request("POST", "/workload_policy/", proj, admin(proj), json=policy)
    assert resp.status_code == 200, resp.text
    pol = resp.json()["policy"]
    assign = {"policy": {"add_projects": [proj]}}
    assert cp.request("POST", f"/workload_policy/{pol['id']}/assign", proj, admin(proj), json=assign).ok
    wl = create_workload(cp, proj, metadata={"policy_id": pol["id"]})
    shown = cp.request("GET", f"/workloads/{wl['id']}", proj, member(proj)).json()["workload"]
    assert shown["jobschedule"]["rpo_hours"] == 8 and shown["rpo_hours"] == 8

    own = create_workload(cp, proj, jobschedule={"rpo_hours": 12})
    resp = cp.request(
        "PUT",
        f"/workloads/{own['id']}",
        proj,
        member(proj),
        json={"workload": {"jobschedule": {"rpo_hours": None}}},
    )
    assert resp.status_code == 202, resp.text
    shown = cp.request("GET", f"/workloads/{own['id']}", proj, member(proj)).json()["workload"]
    assert shown["rpo_hours"] is None and shown["rpo_breached"] is False
