"""Separate service processes over RabbitMQ with MariaDB: api (gunicorn), scheduler, two workloads
workers and cron. Covers placement by heartbeat, cancel, and workers killed mid-job (SIGKILL)."""

from __future__ import annotations

import configparser
import time
import uuid
from collections.abc import Iterator

import kombu
import pytest

from tests.fixtures.control_plane import ControlPlane, broker_control_plane, member

STEP_SECONDS = 0.7  # each stub workflow step pauses this long, so jobs run long enough to kill


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    options = {
        "DEFAULT": {
            # Short, so that the test of a silent worker's detection does not wait long.
            "service_down_time": 6,
            # Short, so that the test of a lost job request does not wait long.
            "queued_job_timeout": 10,
        },
        "api": {"workers": 2, "threads": 4},
        "stub_workflows": {"step_seconds": STEP_SECONDS},
    }
    with broker_control_plane(tmp_path_factory.mktemp("split"), options=options) as (cp, _):
        for host in ("worker-a", "worker-b"):
            (cp.workdir / f"{host}.conf").write_text(f"[DEFAULT]\nhost = {host}\n")
        cp.start("api", ["workloadmgr-api"])
        cp.start("scheduler", ["workloadmgr-scheduler"])
        cp.start("cron", ["workloadmgr-cron"])
        start_worker(cp, "worker-a")
        start_worker(cp, "worker-b")
        cp.wait_api()
        yield cp


def start_worker(cp: ControlPlane, host: str) -> None:
    cp.start(host, ["workloadmgr-workloads"], extra_conf=cp.workdir / f"{host}.conf")
    deadline = time.monotonic() + 30
    while f"started on host {host}" not in cp.log(host):
        assert time.monotonic() < deadline, cp.log(host)
        assert cp.procs[host].poll() is None, cp.log(host)
        time.sleep(0.2)


def new_workload(cp: ControlPlane, vms: int = 3) -> tuple[str, str]:
    proj = "p" + uuid.uuid4().hex[:8]
    ids = cp.add_servers(proj, vms)
    body = {"workload": {"name": "w", "instances": [{"instance-id": i} for i in ids]}}
    resp = cp.request("POST", "/workloads", proj, member(proj), json=body)
    assert resp.status_code == 202, resp.text
    return proj, resp.json()["workload"]["id"]


def start_snapshot(cp: ControlPlane, proj: str, wid: str) -> str:
    resp = cp.request(
        "POST", f"/workloads/{wid}?full=1", proj, member(proj), json={"snapshot": {"name": "s"}}
    )
    assert resp.status_code == 202, resp.text
    return resp.json()["snapshot"]["id"]


def wait_running(cp: ControlPlane, proj: str, sid: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        snap = cp.request("GET", f"/snapshots/{sid}", proj, member(proj)).json()["snapshot"]
        if snap["status"] == "executing" and snap["progress_percent"] > 0:
            return snap
        assert snap["status"] in ("queued", "executing"), snap
        time.sleep(0.1)
    raise AssertionError(f"snapshot {sid} never ran")


def test_job_runs_on_a_live_worker_and_blocks_a_second_one(split: ControlPlane) -> None:
    cp = split
    proj, wid = new_workload(cp)
    sid = start_snapshot(cp, proj, wid)
    running = wait_running(cp, proj, sid)
    assert running["host"] in ("worker-a", "worker-b")
    assert cp.request("POST", f"/workloads/{wid}", proj, member(proj)).status_code == 409
    done = cp.wait_job("snapshot", sid, proj, member(proj))
    assert done["status"] == "available" and len(done["instances"]) == 3
    assert done["time_taken"] >= 3 * STEP_SECONDS
    rid = cp.request("POST", f"/snapshots/{sid}", proj, member(proj), json={"restore": {}}).json()["restore"][
        "id"
    ]
    assert cp.wait_job("restore", rid, proj, member(proj))["status"] == "available"


def test_cancel_a_running_snapshot(split: ControlPlane) -> None:
    cp = split
    proj, wid = new_workload(cp, vms=6)
    sid = start_snapshot(cp, proj, wid)
    wait_running(cp, proj, sid)
    resp = cp.request("GET", f"/snapshots/{sid}/cancel", proj, member(proj))
    assert resp.status_code == 200 and resp.json()["snapshot"]["status"] in ("cancelling", "cancelled")
    done = cp.wait_job("snapshot", sid, proj, member(proj))
    assert done["status"] == "cancelled" and done["progress_percent"] < 100
    assert start_snapshot(cp, proj, wid)  # the workload is free again


def test_worker_killed_mid_job_is_resolved_by_its_restart(split: ControlPlane) -> None:
    cp = split
    proj, wid = new_workload(cp, vms=8)
    sid = start_snapshot(cp, proj, wid)
    host = wait_running(cp, proj, sid)["host"]
    # The scheduler would fail the job too once the worker's heartbeat is 6 s old (the test after this
    # one): stopped, only the restart resolves it, however long the restart takes on a loaded machine.
    cp.kill("scheduler")
    try:
        cp.kill(host)  # SIGKILL: no chance to clean up
        time.sleep(2 * STEP_SECONDS)
        snap = cp.request("GET", f"/snapshots/{sid}", proj, member(proj)).json()["snapshot"]
        assert snap["status"] == "executing"  # nobody runs it any more
        assert cp.request("POST", f"/workloads/{wid}", proj, member(proj)).status_code == 409
        start_worker(cp, host)
        snap = cp.wait_job("snapshot", sid, proj, member(proj))
        assert snap["status"] == "error" and "restarted" in snap["error_msg"], snap
    finally:  # the module's other tests need it
        starts = cp.log("scheduler").count("started on host")
        cp.start("scheduler", ["workloadmgr-scheduler"])
        deadline = time.monotonic() + 30
        while cp.log("scheduler").count("started on host") <= starts:
            assert time.monotonic() < deadline, cp.log("scheduler")[-2000:]
            time.sleep(0.2)
    sid2 = start_snapshot(cp, proj, wid)
    assert cp.wait_job("snapshot", sid2, proj, member(proj), timeout=90)["status"] == "available"


def test_worker_killed_mid_job_is_resolved_by_reset(split: ControlPlane) -> None:
    cp = split
    proj, wid = new_workload(cp, vms=8)
    sid = start_snapshot(cp, proj, wid)
    host = wait_running(cp, proj, sid)["host"]
    cp.kill(host)
    resp = cp.request("POST", f"/workloads/{wid}/reset", proj, member(proj))
    assert resp.status_code == 200 and resp.json()["workload"]["status"] == "available"
    snap = cp.request("GET", f"/snapshots/{sid}", proj, member(proj)).json()["snapshot"]
    assert snap["status"] == "error" and "Reset" in snap["error_msg"]
    start_worker(cp, host)


def purge_queue(cp: ControlPlane, queue: str) -> int:
    """Drops the messages waiting in a RabbitMQ queue, as a service killed after taking them loses them."""
    with kombu.Connection("amqp://guest:guest@127.0.0.1:5672//") as conn:
        return int(conn.default_channel.queue_purge(queue) or 0)


def test_job_request_lost_by_a_killed_scheduler_fails_in_time(split: ControlPlane) -> None:
    cp = split
    proj, wid = new_workload(cp, vms=1)
    cp.kill("scheduler")
    sid = start_snapshot(cp, proj, wid)
    conf = configparser.ConfigParser()
    conf.read(cp.config_file)
    topic = conf["DEFAULT"]["scheduler_topic"]
    deadline = time.monotonic() + 10
    while purge_queue(cp, topic) == 0:  # the API's cast reaches the queue asynchronously
        assert time.monotonic() < deadline, "the snapshot request never reached the scheduler's queue"
        time.sleep(0.1)
    cp.start("scheduler", ["workloadmgr-scheduler"])
    asked = time.monotonic()
    snap = cp.wait_job("snapshot", sid, proj, member(proj), timeout=40)
    assert snap["status"] == "error" and "workloadmgr-scheduler" in snap["error_msg"], snap
    assert snap["host"] is None
    print(f"lost snapshot request failed {time.monotonic() - asked:.1f} s after the scheduler restarted")
    wl = cp.request("GET", f"/workloads/{wid}", proj, member(proj)).json()["workload"]
    assert wl["status"] == "available"
    sid2 = start_snapshot(cp, proj, wid)
    assert cp.wait_job("snapshot", sid2, proj, member(proj), timeout=60)["status"] == "available"
    assert "Traceback" not in cp.log("scheduler")


def test_dead_worker_is_detected_by_heartbeat(split: ControlPlane) -> None:
    cp = split
    proj, wid = new_workload(cp, vms=10)
    sid = start_snapshot(cp, proj, wid)
    host = wait_running(cp, proj, sid)["host"]
    cp.kill(host)
    # service_down_time is 6 s in these tests: the scheduler then fails the job of the silent worker.
    snap = cp.wait_job("snapshot", sid, proj, member(proj), timeout=30)
    assert snap["status"] == "error" and "heartbeats" in snap["error_msg"]
    # New work goes to the live worker only.
    sid2 = start_snapshot(cp, proj, wid)
    done = cp.wait_job("snapshot", sid2, proj, member(proj), timeout=60)
    assert done["status"] == "available" and done["host"] != host
    start_worker(cp, host)
    for name in ("api", "scheduler", "cron"):
        assert cp.procs[name].poll() is None, cp.log(name)
    assert "Traceback" not in cp.log("api")
