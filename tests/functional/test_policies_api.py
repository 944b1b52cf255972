"""Workload policies, project quotas and scheduled runs through the API of a real ``t4o all-in-one``."""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any

from t4o.policies import jobschedule
from t4o.policies.quotas import QUOTA_TYPES
from tests.fixtures.control_plane import ControlPlane, admin, member

WORKLOADS, SNAPSHOTS, VMS, VOLUMES, STORAGE = (t["id"] for t in QUOTA_TYPES)

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
    assert resp.status_code == 403 and "Policy does not allow workload_policy:create" in resp.text

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

    # Not assigned yet: a member of the project does not see it (rule workload_policy:get_all: admins).
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


# ---------------------------------------------------------------- quota usage and enforcement
def add_servers_with_volumes(cp: ControlPlane, project: str, volumes: list[int]) -> list[str]:
    """Servers of the stub cloud, the i-th with ``volumes[i]`` attached volumes (as Nova reports them)."""
    data = json.loads(cp.servers_file.read_text())
    ids = [str(uuid.uuid4()) for _ in volumes]
    data.setdefault(project, []).extend(
        {"id": i, "name": f"vm-{i[:8]}", "volumes": [{"id": str(uuid.uuid4())} for _ in range(n)]}
        for i, n in zip(ids, volumes, strict=True)
    )
    tmp = cp.servers_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(cp.servers_file)
    return ids


def set_quotas(cp: ControlPlane, project: str, limits: dict[str, int]) -> None:
    body = {"allowed_quotas": [{"quota_type_id": t, "allowed_value": n} for t, n in limits.items()]}
    resp = cp.request("POST", f"/project_allowed_quotas/{project}", project, admin(project), json=body)
    assert resp.status_code == 200, resp.text


def usage(cp: ControlPlane, project: str) -> dict[str, int]:
    """Quota type id -> the usage the quota show API reports."""
    resp = cp.request("GET", f"/project_allowed_quotas/{project}", project, member(project))
    assert resp.status_code == 200, resp.text
    return {q["quota_type_id"]: q["usage"] for q in resp.json()["allowed_quotas"]}


def instances(*vm_ids: str) -> list[dict[str, str]]:
    return [{"instance-id": v} for v in vm_ids]


def test_vms_and_volumes_quotas_on_workload_create_and_modify(all_in_one: ControlPlane) -> None:
    cp, proj = all_in_one, new_project()
    a, b, c = add_servers_with_volumes(cp, proj, [2, 1, 3])
    set_quotas(cp, proj, {VMS: 2, VOLUMES: 3})

    resp = cp.request(
        "POST", "/workloads", proj, member(proj), json={"workload": {"instances": instances(a)}}
    )
    assert resp.status_code == 202, resp.text
    wid = resp.json()["workload"]["id"]
    assert usage(cp, proj) == {VMS: 1, VOLUMES: 2}

    resp = cp.request(
        "POST", "/workloads", proj, member(proj), json={"workload": {"instances": instances(c)}}
    )
    assert resp.status_code == 403
    assert (
        f"Quota exceeded: project {proj} may have 3 Volumes; it has 2 and this request adds 3." in resp.text
    )

    # Modify: the workload's own VMs and volumes are not counted twice.
    path = f"/workloads/{wid}"
    resp = cp.request("PUT", path, proj, member(proj), json={"workload": {"instances": instances(a, b)}})
    assert resp.status_code == 202, resp.text
    assert usage(cp, proj) == {VMS: 2, VOLUMES: 3}
    resp = cp.request("PUT", path, proj, member(proj), json={"workload": {"instances": instances(a, b, c)}})
    assert resp.status_code == 403
    assert f"project {proj} may have 2 VMs; it has 2 and this request adds 1." in resp.text
    resp = cp.request("PUT", path, proj, member(proj), json={"workload": {"instances": instances(c)}})
    assert resp.status_code == 202, resp.text  # 1 VM, 3 volumes: within both
    assert usage(cp, proj) == {VMS: 1, VOLUMES: 3}

    # Deleting the workload frees its VMs and volumes.
    assert cp.request("DELETE", path, proj, member(proj)).status_code == 202
    assert usage(cp, proj) == {VMS: 0, VOLUMES: 0}


def snapshot(cp: ControlPlane, project: str, workload_id: str) -> Any:
    return cp.request("POST", f"/workloads/{workload_id}", project, member(project), json={"snapshot": {}})


def test_snapshots_and_storage_quotas(all_in_one: ControlPlane) -> None:
    cp, proj = all_in_one, new_project()
    (vm,) = cp.add_servers(proj, 1)
    wl = {"workload": {"name": "q", "instances": instances(vm)}}
    wid = cp.request("POST", "/workloads", proj, member(proj), json=wl).json()["workload"]["id"]
    set_quotas(cp, proj, {SNAPSHOTS: 2, STORAGE: 1000})

    first = snapshot(cp, proj, wid)
    assert first.status_code == 202, first.text
    first_id = first.json()["snapshot"]["id"]
    assert cp.wait_job("snapshot", first_id, proj, member(proj))["status"] == "available"
    assert usage(cp, proj) == {SNAPSHOTS: 1, STORAGE: 0}

    # These control-plane tests run the stub workflows, which store no data: record the bytes a
    # real snapshot stored in the vault, as the snapshot workflow does when it ends.
    with sqlite3.connect(cp.workdir / "t4o.sqlite") as db:
        db.execute("UPDATE snapshots SET uploaded_size = 1500 WHERE id = ?", (first_id,))
    assert usage(cp, proj) == {SNAPSHOTS: 1, STORAGE: 1500}
    resp = snapshot(cp, proj, wid)
    assert resp.status_code == 403
    assert (
        f"Quota exceeded: project {proj} may store 1000 bytes (Storage quota); its snapshots already hold "
        "1500 bytes, so no new snapshot can be taken." in resp.text
    )

    # Deleting the snapshot gives the storage back; then the Snapshots quota is the limit.
    assert cp.request("DELETE", f"/snapshots/{first_id}", proj, member(proj)).status_code == 202
    assert usage(cp, proj) == {SNAPSHOTS: 0, STORAGE: 0}
    for _ in range(2):
        resp = snapshot(cp, proj, wid)
        assert resp.status_code == 202, resp.text
        cp.wait_job("snapshot", resp.json()["snapshot"]["id"], proj, member(proj))
    resp = snapshot(cp, proj, wid)
    assert resp.status_code == 403
    assert f"project {proj} may have 2 Snapshots; it has 2 and this request adds 1." in resp.text
    # An admin of another project snapshotting this workload is held to the workload's project quota.
    other = new_project()
    resp = cp.request("POST", f"/workloads/{wid}", other, admin(other), json={"snapshot": {}})
    assert resp.status_code == 403, resp.text
    assert f"project {proj} may have 2 Snapshots; it has 2 and this request adds 1." in resp.text


# ---------------------------------------------------------------- paging and admin-only lists
def all_pages(cp: ControlPlane, path: str, key: str, project: str, token: str) -> list[list[dict]]:
    """Every page of a list, following its ``<key>_links`` next hrefs."""
    pages, url = [], cp.url + f"/v1/{project}{path}"
    while url:
        resp = cp.session.get(url, headers={"X-Auth-Token": token}, timeout=30)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        pages.append(body[key])
        url = next((link["href"] for link in body.get(f"{key}_links", []) if link["rel"] == "next"), "")
    return pages


def test_policy_quota_and_node_lists_are_paged(all_in_one: ControlPlane) -> None:
    cp, proj = all_in_one, new_project()
    ids = []
    for name in ("p-a", "p-b", "p-c"):
        body = {"workload_policy": {"display_name": name, "field_values": FIELDS}}
        ids.append(
            cp.request("POST", "/workload_policy/", proj, admin(proj), json=body).json()["policy"]["id"]
        )
        assign = {"policy": {"add_projects": [proj]}}
        cp.request("POST", f"/workload_policy/{ids[-1]}/assign", proj, admin(proj), json=assign)

    pages = all_pages(cp, "/workload_policy/?limit=2", "policy_list", proj, member(proj))
    assert [[p["id"] for p in page] for page in pages] == [ids[:2], ids[2:]]  # oldest first
    path = f"/workload_policy/assigned/{proj}?limit=2&sort_key=name&sort_dir=desc"
    pages = all_pages(cp, path, "policies", proj, member(proj))
    assert [[p["display_name"] for p in page] for page in pages] == [["p-c", "p-b"], ["p-a"]]
    pages = all_pages(cp, "/workload_policy/?limit=1", "policy_list", proj, admin(proj))
    everything = [p["id"] for page in pages for p in page]
    assert len(everything) == len(set(everything)) and set(ids) <= set(everything)
    bad = cp.request("GET", "/workload_policy/?marker=nope", proj, member(proj))
    assert bad.status_code == 400 and "Marker nope not found" in bad.text
    bad = cp.request("GET", "/workload_policy/?sort_key=status", proj, member(proj))
    assert bad.status_code == 400

    set_quotas(cp, proj, {WORKLOADS: 5, SNAPSHOTS: 5, VMS: 5})
    pages = all_pages(cp, f"/project_allowed_quotas/{proj}?limit=2", "allowed_quotas", proj, member(proj))
    assert [len(page) for page in pages] == [2, 1]
    assert {q["quota_type_id"] for page in pages for q in page} == {WORKLOADS, SNAPSHOTS, VMS}

    assert cp.request("GET", "/t4o_nodes", proj, member(proj)).status_code == 403
    pages = all_pages(cp, "/t4o_nodes?limit=1&sort_key=binary", "nodes", proj, admin(proj))
    binaries = [n["binary"] for page in pages for n in page]
    assert all(len(page) == 1 for page in pages[:-1]) and binaries == sorted(binaries)
    assert {"workloadmgr-workloads", "workloadmgr-cron"} <= set(binaries)
    assert all(n["state"] == "up" for page in pages for n in page)
