"""Project quotas hold under concurrent requests: on MariaDB, PostgreSQL and SQLite (all-in-one), many
simultaneous workload creates, snapshots or modifies adding instances in one project never go beyond its
allowed value."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from t4o.policies.quotas import QUOTA_TYPES
from tests.fixtures.control_plane import ControlPlane, admin, database_url, member

WORKLOADS, SNAPSHOTS, VMS = (t["id"] for t in QUOTA_TYPES[:3])
ALLOWED = 3
REQUESTS = 16


@pytest.fixture(scope="module", params=["mariadb", "postgresql", "sqlite"])
def control_plane(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    workdir = tmp_path_factory.mktemp(request.param)
    if request.param == "sqlite":
        cp = ControlPlane(workdir, {"api": {"threads": REQUESTS}})
        try:
            cp.start_all_in_one()
            yield cp
        finally:
            cp.stop()
        return
    with database_url(request.param) as url:
        cp = ControlPlane(workdir, {"database": {"connection": url}, "api": {"threads": REQUESTS}})
        assert cp.manage("db", "sync").returncode == 0
        try:
            cp.start_all_in_one()
            yield cp
        finally:
            cp.stop()


def set_quota(cp: ControlPlane, proj: str, quota_type_id: str, allowed: int) -> None:
    body = {"allowed_quotas": [{"quota_type_id": quota_type_id, "allowed_value": allowed}]}
    resp = cp.request("POST", f"/project_allowed_quotas/{proj}", proj, admin(proj), json=body)
    assert resp.status_code == 200, resp.text


def race(cp: ControlPlane, proj: str, calls: list[tuple[str, str, dict]]) -> list[requests.Response]:
    """Fire the (method, path, json) calls of a member of ``proj`` at once, each on its own connection."""

    def one(call: tuple[str, str, dict]) -> requests.Response:
        method, path, body = call
        with requests.Session() as http:
            return http.request(
                method,
                f"{cp.url}/v1/{proj}{path}",
                headers={"X-Auth-Token": member(proj)},
                json=body,
                timeout=60,
            )

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(one, calls))


def assert_exactly_allowed(responses: list[requests.Response], proj: str, name: str) -> None:
    codes = sorted(r.status_code for r in responses)
    assert codes == [202] * ALLOWED + [403] * (REQUESTS - ALLOWED), f"answers (code: count): {Counter(codes)}"
    refused = next(r for r in responses if r.status_code == 403)
    assert f"Quota exceeded: project {proj} may have {ALLOWED} {name}" in refused.text, refused.text


def test_concurrent_workload_creates_stop_at_the_quota(control_plane: ControlPlane) -> None:
    cp, proj = control_plane, "p" + uuid.uuid4().hex[:8]
    set_quota(cp, proj, WORKLOADS, ALLOWED)
    vms = cp.add_servers(proj, REQUESTS)
    calls = [
        ("POST", "/workloads", {"workload": {"name": f"w{i}", "instances": [{"instance-id": vm}]}})
        for i, vm in enumerate(vms)
    ]
    assert_exactly_allowed(race(cp, proj, calls), proj, "Workloads")
    listed = cp.request("GET", "/workloads", proj, member(proj)).json()["workloads"]
    assert len(listed) == ALLOWED


def workloads_of_one_vm(cp: ControlPlane, proj: str) -> list[str]:
    workload_ids = []
    for vm in cp.add_servers(proj, REQUESTS):
        body = {"workload": {"instances": [{"instance-id": vm}]}}
        resp = cp.request("POST", "/workloads", proj, member(proj), json=body)
        assert resp.status_code == 202, resp.text
        workload_ids.append(resp.json()["workload"]["id"])
    return workload_ids


def test_concurrent_modifies_adding_instances_stop_at_the_vms_quota(control_plane: ControlPlane) -> None:
    """Each of 16 one-VM workloads is modified at once to protect a second VM; the project may add 3."""
    cp, proj = control_plane, "p" + uuid.uuid4().hex[:8]
    workload_ids = workloads_of_one_vm(cp, proj)
    set_quota(cp, proj, VMS, REQUESTS + ALLOWED)
    calls = []
    for wid, vm in zip(workload_ids, cp.add_servers(proj, REQUESTS), strict=True):
        own = cp.request("GET", f"/workloads/{wid}", proj, member(proj)).json()["workload"]["instances"]
        instances = [{"instance-id": i["id"]} for i in own] + [{"instance-id": vm}]
        calls.append(("PUT", f"/workloads/{wid}", {"workload": {"instances": instances}}))
    responses = race(cp, proj, calls)
    codes = sorted(r.status_code for r in responses)
    assert codes == [202] * ALLOWED + [403] * (REQUESTS - ALLOWED), f"answers (code: count): {Counter(codes)}"
    refused = next(r for r in responses if r.status_code == 403)
    assert f"may have {REQUESTS + ALLOWED} VMs; it has {REQUESTS + ALLOWED} and this request adds 1" in (
        refused.text
    )


def test_concurrent_snapshots_stop_at_the_quota(control_plane: ControlPlane) -> None:
    """Snapshots of different workloads (one workload's own jobs are already one at a time)."""
    cp, proj = control_plane, "p" + uuid.uuid4().hex[:8]
    workload_ids = workloads_of_one_vm(cp, proj)
    set_quota(cp, proj, SNAPSHOTS, ALLOWED)
    calls = [("POST", f"/workloads/{wid}?full=1", {}) for wid in workload_ids]
    responses = race(cp, proj, calls)
    assert_exactly_allowed(responses, proj, "Snapshots")
    snaps = cp.request("GET", "/snapshots", proj, member(proj)).json()["snapshots"]
    assert len(snaps) == ALLOWED
    for snap in snaps:
        assert cp.wait_job("snapshot", snap["id"], proj, member(proj))["status"] == "available"
