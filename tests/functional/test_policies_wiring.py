"""The workloads API of a real ``t4o all-in-one``: schedules validated, policies followed, quotas kept."""

from __future__ import annotations

import uuid

from t4o.policies.quotas import QUOTA_TYPES
from tests.fixtures.control_plane import ControlPlane, admin, member

_BY_NAME = {t["display_name"]: t["id"] for t in QUOTA_TYPES}


def new_project() -> str:
    return "w" + uuid.uuid4().hex[:8]


def _workload(cp: ControlPlane, proj: str, **extra: object) -> dict:
    (vm,) = cp.add_servers(proj, 1)
    return {"workload": {"name": "w", "instances": [{"instance-id": vm}], **extra}}


def _quota(cp: ControlPlane, proj: str, name: str, allowed: int) -> None:
    body = {"allowed_quotas": [{"quota_type_id": _BY_NAME[name], "allowed_value": allowed}]}
    resp = cp.request("POST", f"/project_allowed_quotas/{proj}", proj, admin(proj), json=body)
    assert resp.status_code == 200, resp.text


def test_schedule_is_validated_on_create_and_update(all_in_one: ControlPlane) -> None:
    cp, proj = all_in_one, new_project()
    bad = _workload(cp, proj, jobschedule={"enabled": True, "interval": "often"})
    resp = cp.request("POST", "/workloads", proj, member(proj), json=bad)
    assert resp.status_code == 400 and "jobschedule.interval" in resp.text, resp.text

    good = _workload(cp, proj, jobschedule={"enabled": True, "interval": "2 hr"})
    resp = cp.request("POST", "/workloads", proj, member(proj), json=good)
    assert resp.status_code in (200, 202), resp.text
    wid = resp.json()["workload"]["id"]
    assert "enabled without a Keystone trust (auth_strategy=noauth)" in cp.log("all-in-one")

    upd = {"workload": {"jobschedule": {"interval": "-3"}}}
    resp = cp.request("PUT", f"/workloads/{wid}", proj, member(proj), json=upd)
    assert resp.status_code == 400 and "jobschedule.interval" in resp.text, resp.text
    shown = cp.request("GET", f"/workloads/{wid}", proj, member(proj)).json()["workload"]
    assert shown["jobschedule"]["interval"] == "2 hr"


def test_workload_follows_its_policy(all_in_one: ControlPlane) -> None:
    cp, proj = all_in_one, new_project()
    fields = {
        "interval": "6 hr",
        "retention_policy_type": "Number of Snapshots to Keep",
        "retention_policy_value": "3",
    }
    # policy names are unique in the cloud, and the tests of this module share one
    pol = {"workload_policy": {"display_name": f"silver-{proj}", "field_values": fields}}
    resp = cp.request("POST", "/workload_policy/", proj, admin(proj), json=pol)
    assert resp.status_code == 200, resp.text
    pid = resp.json()["policy"]["id"]

    body = _workload(cp, proj, jobschedule={"enabled": True}, metadata={"policy_id": pid})
    resp = cp.request("POST", "/workloads", proj, member(proj), json=body)
    assert resp.status_code == 400 and "not assigned to project" in resp.text, resp.text

    assign = {"policy": {"add_projects": [proj]}}
    assert cp.request("POST", f"/workload_policy/{pid}/assign", proj, admin(proj), json=assign).ok
    override = _workload(
        cp, proj, jobschedule={"enabled": True, "interval": "1 hr"}, metadata={"policy_id": pid}
    )
    resp = cp.request("POST", "/workloads", proj, member(proj), json=override)
    assert resp.status_code == 400 and "cannot set interval" in resp.text, resp.text

    resp = cp.request("POST", "/workloads", proj, member(proj), json=body)
    assert resp.status_code in (200, 202), resp.text
    wid = resp.json()["workload"]["id"]
    shown = cp.request("GET", f"/workloads/{wid}", proj, member(proj)).json()["workload"]
    assert shown["jobschedule"]["interval"] == "6 hr"
    upd = {"workload": {"jobschedule": {"interval": "3 hr"}}}
    resp = cp.request("PUT", f"/workloads/{wid}", proj, member(proj), json=upd)
    assert resp.status_code == 400 and "cannot set interval" in resp.text, resp.text


def _policy(cp: ControlPlane, proj: str, name: str, fields: dict, assign: bool = True) -> str:
    body = {"workload_policy": {"display_name": f"{name}-{proj}", "field_values": fields}}
    resp = cp.request("POST", "/workload_policy/", proj, admin(proj), json=body)
    assert resp.status_code == 200, resp.text
    pid = resp.json()["policy"]["id"]
    if assign:
        add = {"policy": {"add_projects": [proj]}}
        assert cp.request("POST", f"/workload_policy/{pid}/assign", proj, admin(proj), json=add).ok
    return pid


def test_workloads_follow_a_changed_policy_and_may_switch_policy(all_in_one: ControlPlane) -> None:
    cp, proj = all_in_one, new_project()
    gold = _policy(cp, proj, "gold", {"interval": "4 hr", "fullbackup_interval": "6"})
    silver = _policy(cp, proj, "silver", {"interval": "12 hr"})
    foreign = _policy(cp, proj, "foreign", {"interval": "1 hr"}, assign=False)
    schedule = {"enabled": True, "start_time": "01:00"}
    body = _workload(cp, proj, jobschedule=schedule, metadata={"policy_id": gold})
    wid = cp.request("POST", "/workloads", proj, member(proj), json=body).json()["workload"]["id"]

    def jobschedule() -> dict:
        return cp.request("GET", f"/workloads/{wid}", proj, member(proj)).json()["workload"]["jobschedule"]

    # The admin changes the policy: the workload's schedule follows, its own fields stay.
    fields = {"interval": "8 hr", "retention_policy_type": "Number of Snapshots to Keep"}
    upd = {"workload_policy": {"field_values": {**fields, "retention_policy_value": "5"}}}
    assert cp.request("PUT", f"/workload_policy/{gold}", proj, admin(proj), json=upd).ok
    js = jobschedule()
    assert (js["interval"], js["retention_policy_value"], js["start_time"]) == ("8 hr", "5", "01:00")
    assert "fullbackup_interval" not in js  # the policy no longer decides it

    # The member moves the workload to another assigned policy: its fields replace the former policy's.
    move = {"workload": {"metadata": {"policy_id": silver}}}
    resp = cp.request("PUT", f"/workloads/{wid}", proj, member(proj), json=move)
    assert resp.status_code == 202, resp.text
    js = jobschedule()
    assert (js["interval"], js["start_time"]) == ("12 hr", "01:00") and "retention_policy_value" not in js
    move = {"workload": {"metadata": {"policy_id": foreign}}}
    resp = cp.request("PUT", f"/workloads/{wid}", proj, member(proj), json=move)
    assert resp.status_code == 400 and "is not assigned to project" in resp.text, resp.text
    assert jobschedule()["interval"] == "12 hr"


def test_quotas_refuse_with_403(all_in_one: ControlPlane) -> None:
    cp, proj = all_in_one, new_project()
    _quota(cp, proj, "Workloads", 1)
    _quota(cp, proj, "Snapshots", 1)
    resp = cp.request("POST", "/workloads", proj, member(proj), json=_workload(cp, proj))
    assert resp.status_code in (200, 202), resp.text
    wid = resp.json()["workload"]["id"]
    resp = cp.request("POST", "/workloads", proj, member(proj), json=_workload(cp, proj))
    assert resp.status_code == 403 and "Quota exceeded" in resp.text and "Workloads" in resp.text

    snap = cp.request("POST", f"/workloads/{wid}", proj, member(proj), json={"snapshot": {"name": "a"}})
    assert snap.status_code == 202, snap.text
    cp.wait_job("snapshot", snap.json()["snapshot"]["id"], proj, member(proj))
    resp = cp.request("POST", f"/workloads/{wid}", proj, member(proj), json={"snapshot": {"name": "b"}})
    assert resp.status_code == 403 and "Quota exceeded" in resp.text and "Snapshots" in resp.text

    other = new_project()
    _quota(cp, other, "VMs", 1)
    vms = cp.add_servers(other, 2)
    body = {"workload": {"name": "v", "instances": [{"instance-id": v} for v in vms]}}
    resp = cp.request("POST", "/workloads", other, member(other), json=body)
    assert resp.status_code == 403 and "VMs" in resp.text, resp.text
