"""Disabling a workloads node through the admin API of a real ``t4o all-in-one``: it takes no new job,
finishes the job it runs (the reaper looks at heartbeats only), and takes jobs again once enabled."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from tests.fixtures.control_plane import ControlPlane, admin, member


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    # 1 s per stub workflow step: a job of 3 VMs runs for several of the reaper's 2-second rounds.
    cp = ControlPlane(tmp_path_factory.mktemp("nodes"), {"stub_workflows": {"step_seconds": 1.0}})
    try:
        cp.start_all_in_one()
        yield cp
    finally:
        cp.stop()


def workload(cp: ControlPlane, proj: str) -> str:
    vms = cp.add_servers(proj, 3)
    body = {"workload": {"name": "n", "instances": [{"instance-id": v} for v in vms]}}
    resp = cp.request("POST", "/workloads", proj, member(proj), json=body)
    assert resp.status_code in (200, 202), resp.text
    return str(resp.json()["workload"]["id"])


def snapshot(cp: ControlPlane, proj: str, wid: str) -> str:
    resp = cp.request("POST", f"/workloads/{wid}", proj, member(proj), json={"snapshot": {"name": "s"}})
    assert resp.status_code == 202, resp.text
    return str(resp.json()["snapshot"]["id"])


def worker_host(cp: ControlPlane, proj: str) -> str:
    nodes = cp.request("GET", "/t4o_metrics", proj, admin(proj)).json()["metrics"]["nodes"]
    (node,) = [n for n in nodes if n["binary"] == "workloadmgr-workloads"]
    return str(node["host"])


def set_disabled(cp: ControlPlane, proj: str, host: str, disabled: bool) -> dict:
    body = {"node": {"disabled": disabled}}
    resp = cp.request("PUT", f"/t4o_nodes/{host}", proj, admin(proj), json=body)
    assert resp.status_code == 200, resp.text
    return dict(resp.json()["node"])


def test_node_disable_and_enable(slow: ControlPlane) -> None:
    cp, proj = slow, "n" + uuid.uuid4().hex[:8]
    host = worker_host(cp, proj)
    assert (
        cp.request(
            "PUT", f"/t4o_nodes/{host}", proj, member(proj), json={"node": {"disabled": True}}
        ).status_code
        == 403
    )
    resp = cp.request("PUT", "/t4o_nodes/no-such-host", proj, admin(proj), json={"node": {"disabled": True}})
    assert resp.status_code == 404 and "no-such-host" in resp.text
    resp = cp.request("PUT", f"/t4o_nodes/{host}", proj, admin(proj), json={"node": {"disabled": "yes"}})
    assert resp.status_code == 400

    running = snapshot(cp, proj, workload(cp, proj))
    deadline = time.monotonic() + 30
    while (
        cp.request("GET", f"/snapshots/{running}", proj, member(proj)).json()["snapshot"]["status"]
        != "executing"
    ):
        assert time.monotonic() < deadline, "the snapshot never started"
        time.sleep(0.1)
    node = set_disabled(cp, proj, host, True)
    assert (node["host"], node["disabled"], node["state"]) == (host, True, "up")

    # With no live, enabled worker a new snapshot is refused up front, and none is queued.
    wid = workload(cp, proj)
    refused = cp.request("POST", f"/workloads/{wid}", proj, member(proj), json={"snapshot": {"name": "s"}})
    assert refused.status_code == 409 and "No live, enabled workloads worker" in refused.text
    assert cp.request("GET", f"/snapshots?workload_id={wid}", proj, member(proj)).json()["snapshots"] == []
    # The job that ran when the node was disabled finishes: a disabled node is not a dead one.
    assert cp.wait_job("snapshot", running, proj, member(proj))["status"] == "available"
    assert "of dead workers as error" not in cp.log("all-in-one")

    assert set_disabled(cp, proj, host, False)["disabled"] is False
    assert (
        cp.wait_job("snapshot", snapshot(cp, proj, workload(cp, proj)), proj, member(proj))["status"]
        == "available"
    )
