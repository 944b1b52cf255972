"""Through the API of a real ``t4o all-in-one``: workload policy names are unique, failed snapshots do
not count against the Snapshots quota, and a snapshot is refused up front when no worker can run it."""

from __future__ import annotations

import sqlite3
import uuid

from t4o.policies.quotas import QUOTA_TYPES
from tests.fixtures.control_plane import ControlPlane, admin, member

SNAPSHOTS = QUOTA_TYPES[1]["id"]
FIELDS = {
    "interval": "6 hr",
    "retention_policy_type": "Number of Snapshots to Keep",
    "retention_policy_value": "3",
}


def new_project() -> str:
    return "p" + uuid.uuid4().hex[:8]


def create_policy(cp: ControlPlane, proj: str, name: str) -> tuple[int, dict]:
    body = {"workload_policy": {"display_name": name, "field_values": FIELDS}}
    resp = cp.request("POST", "/workload_policy/", proj, admin(proj), json=body)
    return resp.status_code, resp.json()


def test_two_workload_policies_cannot_share_a_name(all_in_one: ControlPlane) -> None:
    cp, proj = all_in_one, new_project()
    name = "gold-" + uuid.uuid4().hex[:6]
    status, body = create_policy(cp, proj, name)
    assert status == 200, body
    first = body["policy"]["id"]

    status, body = create_policy(cp, proj, f"  {name.upper()} ")
    assert status == 409 and f"A workload policy named '{name}' exists already" in str(body)

    status, body = create_policy(cp, proj, name + "-2")
    assert status == 200, body
    second = body["policy"]["id"]
    rename = {"workload_policy": {"display_name": name}}
    resp = cp.request("PUT", f"/workload_policy/{second}", proj, admin(proj), json=rename)
    assert resp.status_code == 409, resp.text
    # Keeping its own name is no clash.
    resp = cp.request("PUT", f"/workload_policy/{first}", proj, admin(proj), json=rename)
    assert resp.status_code == 200 and resp.json()["policy"]["display_name"] == name
    for pol in (first, second):
        assert cp.request("DELETE", f"/workload_policy/{pol}", proj, admin(proj)).status_code == 202


def test_failed_snapshots_do_not_count_against_the_snapshots_quota(all_in_one: ControlPlane) -> None:
    cp, proj = all_in_one, new_project()
    (vm,) = cp.add_servers(proj, 1)
    wl = {"workload": {"name": "q", "instances": [{"instance-id": vm}]}}
    wid = cp.request("POST", "/workloads", proj, member(proj), json=wl).json()["workload"]["id"]
    body = {"allowed_quotas": [{"quota_type_id": SNAPSHOTS, "allowed_value": 2}]}
    assert (
        cp.request("POST", f"/project_allowed_quotas/{proj}", proj, admin(proj), json=body).status_code == 200
    )

    ids = []
    for _ in range(2):
        resp = cp.request("POST", f"/workloads/{wid}", proj, member(proj), json={"snapshot": {}})
        assert resp.status_code == 202, resp.text
        ids.append(resp.json()["snapshot"]["id"])
        assert cp.wait_job("snapshot", ids[-1], proj, member(proj))["status"] == "available"
    # The second one failed without running, as when no worker took it.
    with sqlite3.connect(cp.workdir / "t4o.sqlite") as db:
        db.execute("UPDATE snapshots SET status = 'error' WHERE id = ?", (ids[1],))

    quotas = cp.request("GET", f"/project_allowed_quotas/{proj}", proj, member(proj)).json()
    assert [q["usage"] for q in quotas["allowed_quotas"]] == [1]
    resp = cp.request("POST", f"/workloads/{wid}", proj, member(proj), json={"snapshot": {}})
    assert resp.status_code == 202, resp.text
    cp.wait_job("snapshot", resp.json()["snapshot"]["id"], proj, member(proj))
    resp = cp.request("POST", f"/workloads/{wid}", proj, member(proj), json={"snapshot": {}})
    assert resp.status_code == 403 and "may have 2 Snapshots; it has 2 and this request adds 1" in resp.text
