"""A workload policy that names a backup target, through the API of a real ``t4o all-in-one``: new
workloads land on it, a workload never moves to it (409), the policy's target cannot leave its workloads
behind (409), and a target a policy names is not deleted (409)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from t4o.policies import jobschedule
from tests.fixtures.control_plane import ControlPlane, admin, member
from tests.functional.test_api_all_in_one import create_workload, project

FIELDS = {
    "interval": "4 hr",
    "retention_policy_type": jobschedule.RETAIN_COUNT,
    "retention_policy_value": "7",
}


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    # Its own control plane: targets and policies are cloud-wide.
    vault = tmp_path_factory.mktemp("configured") / "vault"
    cp = ControlPlane(tmp_path_factory.mktemp("aio"), {"backup_target": {"url": str(vault)}})
    try:
        cp.start_all_in_one()
        yield cp
    finally:
        cp.stop()


def new_target(cp: ControlPlane, proj: str, name: str, where: Path) -> str:
    body = {"backup_target": {"name": name, "type": "posix", "url": str(where)}}
    resp = cp.request("POST", "/backup_targets", proj, admin(proj), json=body)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["backup_target"]["id"])


def new_policy(cp: ControlPlane, proj: str, name: str, fields: dict[str, Any]) -> dict[str, Any]:
    body = {"workload_policy": {"display_name": name, "field_values": fields}}
    resp = cp.request("POST", "/workload_policy/", proj, admin(proj), json=body)
    assert resp.status_code == 200, resp.text
    pol = resp.json()["policy"]
    assign = {"policy": {"add_projects": [proj]}}
    resp = cp.request("POST", f"/workload_policy/{pol['id']}/assign", proj, admin(proj), json=assign)
    assert resp.status_code == 200, resp.text
    return dict(pol)


def set_fields(cp: ControlPlane, proj: str, policy_id: str, fields: dict[str, Any]) -> Any:
    body = {"workload_policy": {"field_values": fields}}
    return cp.request("PUT", f"/workload_policy/{policy_id}", proj, admin(proj), json=body)


def follow(policy_id: str) -> dict[str, Any]:
    return {"metadata": {"policy_id": policy_id}}


def test_policy_chooses_the_backup_target(plane: ControlPlane, tmp_path: Path) -> None:
    cp, proj = plane, project()
    adm, mem = admin(proj), member(proj)
    disk = new_target(cp, proj, "disk", tmp_path / "disk")
    other = new_target(cp, proj, "other", tmp_path / "other")

    # The target is checked like the schedule fields: 400 with a message.
    for bad, message in (
        ({**FIELDS, "backup_target_id": "nope"}, "backup target nope does not exist"),
        ({**FIELDS, "backup_target_id": 5}, "backup_target_id must be a backup target id"),
        ({"backup_target_id": None}, "must name a schedule field or a backup target"),
    ):
        bad_body = {"workload_policy": {"display_name": "bad", "field_values": bad}}
        resp = cp.request("POST", "/workload_policy/", proj, adm, json=bad_body)
        assert resp.status_code == 400 and message in resp.text, (bad, resp.text)

    gold = new_policy(cp, proj, "gold", {**FIELDS, "backup_target_id": disk})
    assert gold["field_values"] == {**FIELDS, "backup_target_id": disk}

    # A new workload that follows it lands on its target; its schedule has the policy's schedule fields only.
    vms = cp.add_servers(proj, 6)
    on_disk = create_workload(cp, proj, vms[:1], **follow(gold["id"]))
    assert on_disk["backup_target_id"] == disk
    shown = cp.request("GET", f"/workloads/{on_disk['id']}", proj, mem).json()["workload"]
    assert shown["jobschedule"]["interval"] == "4 hr" and "backup_target_id" not in shown["jobschedule"]
    same = create_workload(cp, proj, vms[1:2], backup_target_id=disk, **follow(gold["id"]))
    assert same["backup_target_id"] == disk
    # Another target than the policy's: 400 naming both.
    elsewhere = {
        "workload": {
            "instances": [{"instance-id": vms[2]}],
            "backup_target_id": other,
            **follow(gold["id"]),
        }
    }
    resp = cp.request("POST", "/workloads", proj, mem, json=elsewhere)
    assert resp.status_code == 400, resp.text
    assert all(s in resp.text for s in ("policy gold", disk, other)), resp.text

    # An existing workload takes the policy only when it is on the policy's target already.
    on_config = create_workload(cp, proj, vms[2:3])
    assert on_config["backup_target_id"] == "config"
    resp = cp.request(
        "PUT", f"/workloads/{on_config['id']}", proj, mem, json={"workload": follow(gold["id"])}
    )
    assert resp.status_code == 409 and "cannot change" in resp.text and disk in resp.text
    shown = cp.request("GET", f"/workloads/{on_config['id']}", proj, mem).json()["workload"]
    assert "policy_id" not in shown["metadata"] and shown["jobschedule"].get("interval") != "4 hr"
    joins = create_workload(cp, proj, vms[3:4], backup_target_id=disk)
    resp = cp.request("PUT", f"/workloads/{joins['id']}", proj, mem, json={"workload": follow(gold["id"])})
    assert resp.status_code == 202, resp.text
    shown = cp.request("GET", f"/workloads/{joins['id']}", proj, mem).json()["workload"]
    assert shown["metadata"]["policy_id"] == gold["id"] and shown["jobschedule"]["interval"] == "4 hr"

    # Changing the schedule keeps the policy's target (unless named), and its workloads' schedules stay
    # free of it; moving the target away from its workloads is a 409.
    resp = set_fields(cp, proj, gold["id"], {**FIELDS, "retention_policy_value": "9"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["policy"]["field_values"]["backup_target_id"] == disk
    shown = cp.request("GET", f"/workloads/{on_disk['id']}", proj, mem).json()["workload"]
    assert shown["jobschedule"]["retention_policy_value"] == "9"
    assert "backup_target_id" not in shown["jobschedule"]
    resp = set_fields(cp, proj, gold["id"], {**FIELDS, "backup_target_id": other})
    assert resp.status_code == 409 and "3 workload(s)" in resp.text, resp.text

    # A policy that only picks a target; a target change is fine while its workloads are all there.
    silver = new_policy(cp, proj, "silver", {"backup_target_id": "config"})
    assert create_workload(cp, proj, vms[4:5], **follow(silver["id"]))["backup_target_id"] == "config"
    assert set_fields(cp, proj, silver["id"], {"backup_target_id": other}).status_code == 409
    bronze = new_policy(cp, proj, "bronze", FIELDS)
    on_other = create_workload(cp, proj, vms[5:6], backup_target_id=other, **follow(bronze["id"]))
    resp = set_fields(cp, proj, bronze["id"], {**FIELDS, "backup_target_id": other})
    assert resp.status_code == 200 and resp.json()["policy"]["field_values"]["backup_target_id"] == other

    # A target that a policy names is not deleted, even when no workload uses it yet.
    resp = cp.request("DELETE", f"/workloads/{on_other['id']}?database_only=True", proj, mem)
    assert resp.status_code == 202, resp.text
    resp = cp.request("DELETE", f"/backup_targets/{other}", proj, adm)
    assert resp.status_code == 409 and "bronze" in resp.text, resp.text
    resp = set_fields(cp, proj, bronze["id"], {**FIELDS, "backup_target_id": None})
    assert resp.status_code == 200 and "backup_target_id" not in resp.json()["policy"]["field_values"]
    assert cp.request("DELETE", f"/backup_targets/{other}", proj, adm).status_code == 202
    resp = cp.request("DELETE", f"/backup_targets/{disk}", proj, adm)
    assert resp.status_code == 409 and "workload(s)" in resp.text
