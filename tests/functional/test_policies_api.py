"""Workload policies, project quotas and scheduled runs through the API of a real ``t4o all-in-one``."""

from __future__ import annotations

import uuid

from t4o.policies import jobschedule
from t4o.policies.quotas import QUOTA_TYPES
from tests.fixtures.control_plane import ControlPlane, admin, member

FIELDS = {
    "interval": "4 hr",
    "retention_policy_type": jobschedule.RETAIN_COUNT,
    "retention_policy_value": "7",
    "fullbackup_interval": "6",
}


def new_project() -> str:
    return "p" + uuid.uuid4().hex[:8]


def test_workload_policy_lifecycle(all_in_one: ControlPlane) -> None:
    cp, proj, other = all_in_one, new_project(), new_project()
    body = {
        "workload_policy": {"display_name": "gold", "display_description": "4-hourly", "field_values": FIELDS}
    }

    resp = cp.request("POST", "/workload_policy/", proj, member(proj), json=body)
    assert resp.status_code == 403 and "Only an admin may create workload policies" in resp.text

    bad = {"workload_policy": {"display_name": "x", "field_values": {**FIELDS, "interval": "often"}}}
    resp = cp.request("POST", "/workload_policy/", proj, admin(proj), json=bad)
    assert resp.status_code == 400 and "jobschedule.interval must be a number of hours" in resp.text
    bad = {"workload_policy": {"display_name": "x", "field_values": {"colour": "red"}}}
    resp = cp.request("POST", "/workload_policy/", proj, admin(proj), json=bad)
    assert resp.status_code == 400 and "unknown field(s) colour" in resp.text

    resp = cp.request("POST", "/workload_policy/", proj, admin(proj), json=body)
    assert resp.status_code == 200, resp.text
    pol = resp.json()["policy"]
    assert (pol["display_name"], pol["field_values"]) == ("gold", FIELDS)

    # Not assigned yet: a member of the project does not see it.
    assert cp.request("GET", "/workload_policy/", proj, member(proj)).json()["policy_list"] == []
    assert cp.request("GET", f"/workload_policy/{pol['id']}", proj, member(proj)).status_code == 404

    assign = {"policy": {"add_projects": [proj, other]}}
    resp = cp.request("POST", f"/workload_policy/{pol['id']}/assign", proj, admin(proj), json=assign)
    assert resp.status_code == 200, resp.text
    assert sorted(resp.json()["policy"]["project_list"]) == sorted([proj, other])
    listed = cp.request("GET", "/workload_policy/", proj, member(proj)).json()["policy_list"]
    assert [p["id"] for p in listed] == [pol["id"]]
    assigned = cp.request("GET", f"/workload_policy/assigned/{proj}", proj, member(proj))
    assert [p["id"] for p in assigned.json()["policies"]] == [pol["id"]]
    assert cp.request("GET", f"/workload_policy/assigned/{other}", proj, member(proj)).status_code == 403

    take_back = {"policy": {"remove_projects": [other]}}
    resp = cp.request("POST", f"/workload_policy/{pol['id']}/assign", proj, admin(proj), json=take_back)
    assert resp.json()["policy"]["project_list"] == [proj]

    upd = {"workload_policy": {"field_values": {**FIELDS, "retention_policy_value": "9"}}}
    resp = cp.request("PUT", f"/workload_policy/{pol['id']}", proj, admin(proj), json=upd)
    assert resp.json()["policy"]["field_values"]["retention_policy_value"] == "9"

    assert cp.request("DELETE", f"/workload_policy/{pol['id']}", proj, admin(proj)).status_code == 202
    assert cp.request("GET", f"/workload_policy/{pol['id']}", proj, admin(proj)).status_code == 404


def test_project_quotas(all_in_one: ControlPlane) -> None:
    cp, proj = all_in_one, new_project()
    types = cp.request("GET", "/project_quota_types", proj, member(proj)).json()["quota_types"]
    assert [t["display_name"] for t in types] == ["Workloads", "Snapshots", "VMs", "Volumes", "Storage"]
    wl_type = QUOTA_TYPES[0]["id"]

    body = {"allowed_quotas": [{"quota_type_id": wl_type, "allowed_value": 2, "high_watermark": 1}]}
    resp = cp.request("POST", f"/project_allowed_quotas/{proj}", proj, member(proj), json=body)
    assert resp.status_code == 403
    bad = {"allowed_quotas": [{"quota_type_id": "nope", "allowed_value": 2}]}
    resp = cp.request("POST", f"/project_allowed_quotas/{proj}", proj, admin(proj), json=bad)
    assert resp.status_code == 400 and "Unknown quota_type_id nope" in resp.text
    bad = {"allowed_quotas": [{"quota_type_id": wl_type, "allowed_value": 1, "high_watermark": 5}]}
    resp = cp.request("POST", f"/project_allowed_quotas/{proj}", proj, admin(proj), json=bad)
    assert resp.status_code == 400 and "must not exceed allowed_value" in resp.text

    resp = cp.request("POST", f"/project_allowed_quotas/{proj}", proj, admin(proj), json=body)
    assert resp.status_code == 200, resp.text
    (quota,) = resp.json()["allowed_quotas"]

    (vm,) = cp.add_servers(proj, 1)
    wl = {"workload": {"name": "w", "instances": [{"instance-id": vm}]}}
    assert cp.request("POST", "/workloads", proj, member(proj), json=wl).status_code == 202
    (listed,) = cp.request("GET", f"/project_allowed_quotas/{proj}", proj, member(proj)).json()[
        "allowed_quotas"
    ]
    assert (listed["allowed_value"], listed["high_watermark"], listed["usage"]) == (2, 1, 1)

    upd = {"allowed_quotas": {"allowed_value": 5, "high_watermark": 4}}
    resp = cp.request("PUT", f"/update_allowed_quota/{quota['id']}", proj, admin(proj), json=upd)
    assert resp.json()["allowed_quotas"]["allowed_value"] == 5
    assert (
        cp.request("DELETE", f"/project_allowed_quotas/{quota['id']}", proj, admin(proj)).status_code == 202
    )
    assert (
        cp.request("GET", f"/project_allowed_quotas/{proj}", proj, admin(proj)).json()["allowed_quotas"] == []
    )


def test_scheduled_runs_of_a_workload(all_in_one: ControlPlane) -> None:
    cp, proj = all_in_one, new_project()
    (vm,) = cp.add_servers(proj, 1)
    wl = {"workload": {"name": "w", "instances": [{"instance-id": vm}]}}
    wid = cp.request("POST", "/workloads", proj, member(proj), json=wl).json()["workload"]["id"]
    resp = cp.request("GET", f"/workloads/{wid}/scheduled_runs", proj, member(proj))
    assert resp.status_code == 200 and resp.json() == {"scheduled_runs": []}
    other = new_project()
    assert cp.request("GET", f"/workloads/{wid}/scheduled_runs", other, member(other)).status_code == 404


def test_admin_metrics(all_in_one: ControlPlane) -> None:
    cp, proj = all_in_one, new_project()
    ids = cp.add_servers(proj, 2)
    wl = {"workload": {"name": "m", "instances": [{"instance-id": i} for i in ids]}}
    wid = cp.request("POST", "/workloads", proj, member(proj), json=wl).json()["workload"]["id"]
    snap = cp.request("POST", f"/workloads/{wid}", proj, member(proj), json={"snapshot": {"name": "s"}})
    assert snap.status_code == 202, snap.text
    cp.wait_job("snapshot", snap.json()["snapshot"]["id"], proj, member(proj))

    assert cp.request("GET", "/t4o_metrics", proj, member(proj)).status_code == 403
    resp = cp.request("GET", "/t4o_metrics?limit=5", proj, admin(proj))
    assert resp.status_code == 200, resp.text
    m = resp.json()["metrics"]
    assert m["protected_vms"] >= 2
    assert any(u["project_id"] == proj and u["snapshots"] == 1 for u in m["storage_usage"])
    assert len(m["recent_activity"]) <= 5
    assert m["recent_activity"][0]["id"] == snap.json()["snapshot"]["id"]
    binaries = {(n["binary"], n["state"]) for n in m["nodes"]}
    assert {("workloadmgr-workloads", "up"), ("workloadmgr-cron", "up")} <= binaries
