"""Every API endpoint, success and error paths, against a real `t4o all-in-one` process over HTTP."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.fixtures.control_plane import ControlPlane, admin, assert_one_job_at_a_time, member

SERIAL = "f82ce76f-17fe-438b-aa37-7a023058e50d"
PARALLEL = "2ddd528d-c9b4-4d7e-8722-cc395140255a"


def project() -> str:
    return "p" + uuid.uuid4().hex[:12]


def create_workload(cp: ControlPlane, proj: str, vms: list[str], **extra: object) -> dict:
    body = {"workload": {"name": "wl", "instances": [{"instance-id": v} for v in vms], **extra}}
    resp = cp.request("POST", "/workloads", proj, member(proj), json=body)
    assert resp.status_code == 202, resp.text
    return resp.json()["workload"]


def snapshot(cp: ControlPlane, proj: str, wid: str, full: bool = True) -> requests.Response:
    return cp.request(
        "POST",
        f"/workloads/{wid}" + ("?full=1" if full else ""),
        proj,
        member(proj),
        json={"snapshot": {"name": "s"}},
    )


def test_versions_and_openapi_are_public(all_in_one: ControlPlane) -> None:
    assert requests.get(all_in_one.url + "/", timeout=5).json()["versions"][0]["id"] == "v1.0"
    doc = requests.get(all_in_one.url + "/openapi.json", timeout=5).json()
    assert doc["openapi"].startswith("3.1")
    assert "/v1/{project_id}/workloads" in doc["paths"]


def test_request_id_header_and_log_line(all_in_one: ControlPlane) -> None:
    proj = project()
    resp = all_in_one.request("GET", "/workloads", proj, member(proj, "bob"))
    rid = resp.headers["X-OpenStack-Request-Id"]
    assert rid.startswith("req-")
    log = all_in_one.log("all-in-one")
    line = next(line for line in log.splitlines() if rid in line and "GET /v1/" in line)
    assert "bob" in line and proj in line and "status: 200" in line


def test_workload_types(all_in_one: ControlPlane) -> None:
    proj = project()
    for path in ("/workload_types", "/workload_types/detail"):
        names = {
            t["name"]: t["id"]
            for t in all_in_one.request("GET", path, proj, member(proj)).json()["workload_types"]
        }
        assert names == {"Serial": SERIAL, "Parallel": PARALLEL}
    resp = all_in_one.request("GET", f"/workload_types/{PARALLEL}", proj, member(proj))
    assert resp.json()["workload_type"]["name"] == "Parallel"
    resp = all_in_one.request("GET", "/workload_types/nope", proj, member(proj))
    assert resp.status_code == 404 and "nope" in resp.json()["itemNotFound"]["message"]


def test_workload_crud(all_in_one: ControlPlane) -> None:
    cp, proj = all_in_one, project()
    vms = cp.add_servers(proj, 3)
    wl = create_workload(
        cp,
        proj,
        vms[:2],
        description="d",
        workload_type_id=PARALLEL,
        metadata={"k": "v"},
        jobschedule={"enabled": True, "interval": "24 hr"},
    )
    assert wl["status"] == "available" and wl["workload_type_id"] == PARALLEL
    assert sorted(i["id"] for i in wl["instances"]) == sorted(vms[:2])
    listed = cp.request("GET", "/workloads", proj, member(proj)).json()["workloads"]
    assert [w["id"] for w in listed] == [wl["id"]]
    detail = cp.request("GET", "/workloads/detail", proj, member(proj)).json()["workloads"]
    assert detail[0]["metadata"] == {"k": "v"}
    shown = cp.request("GET", f"/workloads/{wl['id']}", proj, member(proj)).json()["workload"]
    assert shown["storage_usage"] == {
        "full": {"snap_count": 0, "usage": 0},
        "incremental": {"snap_count": 0, "usage": 0},
    }
    # modify: swap an instance, rename, change the schedule
    body = {
        "workload": {
            "name": "renamed",
            "instances": [{"instance-id": vms[1]}, {"instance-id": vms[2]}],
            "jobschedule": {"interval": "12 hr"},
        }
    }
    resp = cp.request("PUT", f"/workloads/{wl['id']}", proj, member(proj), json=body)
    assert resp.status_code == 202, resp.text
    mod = resp.json()["workload"]
    assert mod["name"] == "renamed" and sorted(i["id"] for i in mod["instances"]) == sorted(vms[1:])
    assert mod["jobschedule"] == {"enabled": True, "interval": "12 hr"}
    # pause / resume toggle the schedule
    paused = cp.request("POST", f"/workloads/{wl['id']}/pause", proj, member(proj)).json()["workload"]
    assert paused["jobschedule"]["enabled"] is False
    resumed = cp.request("POST", f"/workloads/{wl['id']}/resume", proj, member(proj)).json()["workload"]
    assert resumed["jobschedule"]["enabled"] is True
    # delete frees the instances for another workload
    assert (
        cp.request("DELETE", f"/workloads/{wl['id']}?database_only=True", proj, member(proj)).status_code
        == 202
    )
    assert cp.request("GET", f"/workloads/{wl['id']}", proj, member(proj)).status_code == 404
    assert cp.request("DELETE", f"/workloads/{wl['id']}", proj, member(proj)).status_code == 404
    create_workload(cp, proj, vms[1:])


def test_instance_rules(all_in_one: ControlPlane) -> None:
    cp, proj, other = all_in_one, project(), project()
    mine = cp.add_servers(proj, 2)
    theirs = cp.add_servers(other, 1)

    def post(vms: list[str]) -> requests.Response:
        body = {"workload": {"name": "x", "instances": [{"instance-id": v} for v in vms]}}
        return cp.request("POST", "/workloads", proj, member(proj), json=body)

    resp = post([theirs[0]])
    assert resp.status_code == 400 and theirs[0] in resp.json()["badRequest"]["message"]
    resp = post([str(uuid.uuid4())])
    assert resp.status_code == 400 and "not found" in resp.json()["badRequest"]["message"]
    resp = post([mine[0], mine[0]])
    assert resp.status_code == 400 and "more than once" in resp.json()["badRequest"]["message"]
    create_workload(cp, proj, [mine[0]])
    resp = post([mine[0], mine[1]])
    assert resp.status_code == 400 and "another workload" in resp.json()["badRequest"]["message"]
    body = {"workload": {"instances": [{"instance-id": mine[1]}], "workload_type_id": "nope"}}
    resp = cp.request("POST", "/workloads", proj, member(proj), json=body)
    assert resp.status_code == 400 and "type" in resp.text


def test_bad_input_is_400_with_a_message(all_in_one: ControlPlane) -> None:
    cp, proj = all_in_one, project()
    cases = [
        ("POST", "/workloads", {"data": "{not json"}),
        ("POST", "/workloads", {"json": []}),
        ("POST", "/workloads", {"json": {"workload": {"instances": []}}}),
        ("POST", "/workloads", {"json": {"workload": {"name": 5, "instances": [{"instance-id": "a"}]}}}),
        (
            "POST",
            "/workloads",
            {"json": {"workload": {"name": "a\u0000b", "instances": [{"instance-id": "a"}]}}},
        ),
        ("POST", "/workloads", {}),
        ("GET", "/workloads?all_workloads=maybe", {}),
        ("GET", "/snapshots?date_from=yesterday", {}),
        ("POST", "/settings", {"json": {"settings": []}}),
        ("POST", "/snapshots/x", {"json": {"restore": {"options": {"restore_type": "sideways"}}}}),
        ("POST", "/workloads/x?full=2", {"json": {}}),
    ]
    for method, path, kwargs in cases:
        resp = cp.request(method, path, proj, member(proj), **kwargs)
        assert resp.status_code == 400, (method, path, resp.status_code, resp.text)
        assert resp.json()["badRequest"]["message"], resp.text
    assert cp.request("GET", "/nothing-here", proj, member(proj)).status_code == 404
    assert cp.request("PATCH", "/workloads", proj, member(proj)).status_code == 405
    big = {"workload": {"name": "x" * (2 * 1024 * 1024), "instances": [{"instance-id": "a"}]}}
    assert cp.request("POST", "/workloads", proj, member(proj), json=big).status_code == 413


def test_snapshot_restore_life_cycle(all_in_one: ControlPlane) -> None:
    cp, proj = all_in_one, project()
    vms = cp.add_servers(proj, 2)
    wl = create_workload(cp, proj, vms)
    resp = snapshot(cp, proj, wl["id"])
    assert resp.status_code == 202, resp.text
    snap = resp.json()["snapshot"]
    assert snap["status"] in ("queued", "executing", "available") and snap["snapshot_type"] == "full"
    done = cp.wait_job("snapshot", snap["id"], proj, member(proj))
    assert done["status"] == "available", done
    assert done["progress_percent"] == 100 and done["time_taken"] >= 0 and done["error_msg"] is None
    assert sorted(i["id"] for i in done["instances"]) == sorted(vms)
    assert all(i["metadata"]["flavor"] == "m1.tiny" for i in done["instances"])
    incr = snapshot(cp, proj, wl["id"], full=False).json()["snapshot"]
    assert cp.wait_job("snapshot", incr["id"], proj, member(proj))["snapshot_type"] == "incremental"
    usage = cp.request("GET", f"/workloads/{wl['id']}", proj, member(proj)).json()["workload"][
        "storage_usage"
    ]
    assert usage["full"]["snap_count"] == 1 and usage["incremental"]["snap_count"] == 1

    # listing with filters
    all_snaps = cp.request("GET", f"/snapshots?workload_id={wl['id']}", proj, member(proj)).json()[
        "snapshots"
    ]
    assert {s["id"] for s in all_snaps} == {snap["id"], incr["id"]}
    assert cp.request("GET", "/snapshots?status=error", proj, member(proj)).json()["snapshots"] == []
    future = cp.request("GET", "/snapshots?date_from=2999-01-01T00:00:00Z", proj, member(proj)).json()
    assert future["snapshots"] == []
    past = cp.request("GET", "/snapshots/detail?date_to=2999-01-01", proj, member(proj)).json()["snapshots"]
    assert len(past) == 2 and "instances" in past[0]

    # restores: oneclick and selective, Trilio's body shape
    body = {
        "restore": {
            "name": "r1",
            "options": {
                "type": "openstack",
                "restore_type": "oneclick",
                "oneclickrestore": True,
                "openstack": {},
            },
        }
    }
    other_wl = create_workload(cp, proj, cp.add_servers(proj, 1))
    path = f"/workloads/{wl['id']}/snapshots/{snap['id']}/restores"
    resp = cp.request("POST", path, proj, member(proj), json={"restore": {"name": "via workload"}})
    assert resp.status_code == 202, resp.text
    via = cp.wait_job("restore", resp.json()["restore"]["id"], proj, member(proj))
    assert via["status"] == "available" and via["name"] == "via workload"
    wrong = f"/workloads/{other_wl['id']}/snapshots/{snap['id']}/restores"
    assert cp.request("POST", wrong, proj, member(proj), json={"restore": {}}).status_code == 404
    resp = cp.request("POST", f"/snapshots/{snap['id']}", proj, member(proj), json=body)
    assert resp.status_code == 202, resp.text
    restore = cp.wait_job("restore", resp.json()["restore"]["id"], proj, member(proj))
    assert restore["status"] == "available" and restore["restore_type"] == "oneclick"
    assert sorted(i["id"] for i in restore["instances"]) == sorted(vms)
    chosen = [{"id": vms[0], "include": True, "name": "new"}, {"id": vms[1], "include": False}]
    body = {"restore": {"options": {"restore_type": "selective", "openstack": {"instances": chosen}}}}
    sel = cp.request("POST", f"/snapshots/{snap['id']}", proj, member(proj), json=body).json()["restore"]
    sel = cp.wait_job("restore", sel["id"], proj, member(proj))
    assert [i["id"] for i in sel["instances"]] == [vms[0]]
    resp = cp.request(
        "POST",
        f"/snapshots/{snap['id']}",
        proj,
        member(proj),
        json={"restore": {"options": {"restore_type": "selective"}}},
    )
    assert resp.status_code == 400
    restores = cp.request("GET", f"/restores?snapshot_id={snap['id']}", proj, member(proj)).json()["restores"]
    assert {r["id"] for r in restores} == {restore["id"], sel["id"], via["id"]}
    assert len(cp.request("GET", "/restores/detail", proj, member(proj)).json()["restores"]) == 3
    assert cp.request("GET", f"/restores/{restore['id']}/cancel", proj, member(proj)).status_code == 409
    assert cp.request("DELETE", f"/restores/{restore['id']}", proj, member(proj)).status_code == 202
    assert cp.request("GET", f"/restores/{restore['id']}", proj, member(proj)).status_code == 404

    # finished snapshots cannot be cancelled; deleting one removes it
    assert cp.request("GET", f"/snapshots/{incr['id']}/cancel", proj, member(proj)).status_code == 409
    resp = cp.request("DELETE", f"/snapshots/{incr['id']}", proj, member(proj))
    assert resp.status_code == 202, resp.text
    assert cp.request("GET", f"/snapshots/{incr['id']}", proj, member(proj)).status_code == 404
    assert cp.request("DELETE", f"/snapshots/{incr['id']}", proj, member(proj)).status_code == 404


def test_settings_crud(all_in_one: ControlPlane) -> None:
    cp, proj = all_in_one, project()
    item = {
        "name": "smtp_server",
        "value": "127.0.0.1",
        "category": "email",
        "type": "string",
        "is_public": False,
        "is_hidden": False,
        "metadata": {},
        "description": "mail relay",
    }
    resp = cp.request("POST", "/settings", proj, member(proj), json={"settings": [item]})
    assert resp.status_code == 200, resp.text
    assert cp.request("POST", "/settings", proj, member(proj), json={"settings": [item]}).status_code == 409
    resp = cp.request("PUT", "/settings", proj, member(proj), json={"settings": [{**item, "value": "::1"}]})
    assert resp.json()["settings"][0]["value"] == "::1"
    assert cp.request("GET", "/settings/smtp_server", proj, member(proj)).json()["setting"]["value"] == "::1"
    assert [s["name"] for s in cp.request("GET", "/settings", proj, member(proj)).json()["settings"]] == [
        "smtp_server"
    ]
    other = project()
    assert cp.request("GET", "/settings/smtp_server", other, member(other)).status_code == 404
    assert cp.request("DELETE", "/settings/smtp_server", proj, member(proj)).status_code == 202
    assert cp.request("GET", "/settings/smtp_server", proj, member(proj)).status_code == 404
    assert cp.request("DELETE", "/settings/smtp_server", proj, member(proj)).status_code == 404


def test_global_job_scheduler_is_admin_to_change(all_in_one: ControlPlane) -> None:
    cp, proj = all_in_one, project()
    assert cp.request("GET", "/global_job_scheduler", proj, member(proj)).json() == {
        "global_job_scheduler": True
    }
    resp = cp.request("POST", "/global_job_scheduler/disable", proj, member(proj))
    assert resp.status_code == 403 and resp.json()["forbidden"]["message"]
    assert (
        cp.request("POST", "/global_job_scheduler/disable", proj, admin(proj)).json()["global_job_scheduler"]
        is False
    )
    assert (
        cp.request("GET", "/global_job_scheduler", proj, member(proj)).json()["global_job_scheduler"] is False
    )
    assert (
        cp.request("POST", "/global_job_scheduler/enable", proj, admin(proj)).json()["global_job_scheduler"]
        is True
    )


def test_tenant_isolation(all_in_one: ControlPlane) -> None:
    cp, proj, other = all_in_one, project(), project()
    wl = create_workload(cp, proj, cp.add_servers(proj, 1))
    snap = snapshot(cp, proj, wl["id"]).json()["snapshot"]
    cp.wait_job("snapshot", snap["id"], proj, member(proj))
    for method, path in [
        ("GET", f"/workloads/{wl['id']}"),
        ("PUT", f"/workloads/{wl['id']}"),
        ("DELETE", f"/workloads/{wl['id']}"),
        ("POST", f"/workloads/{wl['id']}"),
        ("POST", f"/workloads/{wl['id']}/reset"),
        ("POST", f"/workloads/{wl['id']}/unlock"),
        ("POST", f"/workloads/{wl['id']}/pause"),
        ("GET", f"/snapshots/{snap['id']}"),
        ("DELETE", f"/snapshots/{snap['id']}"),
        ("GET", f"/snapshots/{snap['id']}/cancel"),
        ("POST", f"/snapshots/{snap['id']}"),
    ]:
        body = {"PUT": {"workload": {"name": "x"}}, "POST": {"snapshot": {}}}.get(method)
        if path == f"/snapshots/{snap['id']}":
            body = {"restore": {"options": {}}}
        resp = cp.request(method, path, other, member(other), json=body)
        assert resp.status_code == 404, (method, path, resp.status_code, resp.text)
    assert cp.request("GET", "/workloads", other, member(other)).json()["workloads"] == []
    assert cp.request("GET", "/snapshots", other, member(other)).json()["snapshots"] == []
    # the project in the URL must be the token's, unless the caller is an admin
    assert cp.request("GET", "/workloads", proj, member(other)).status_code == 403
    # admin-only listings
    assert cp.request("GET", "/workloads?all_workloads=True", other, member(other)).status_code == 403
    assert cp.request("GET", "/snapshots?all=true", other, member(other)).status_code == 403
    everything = cp.request("GET", "/workloads?all_workloads=True", other, admin(other)).json()["workloads"]
    assert wl["id"] in {w["id"] for w in everything}
    assert cp.request("GET", f"/workloads/{wl['id']}", other, admin(other)).status_code == 200


def test_one_job_per_workload_under_concurrency(all_in_one: ControlPlane) -> None:
    cp, proj = all_in_one, project()
    wl = create_workload(cp, proj, cp.add_servers(proj, 1))
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: snapshot(cp, proj, wl["id"]).status_code, range(8)))
    assert_one_job_at_a_time(cp, proj, member(proj), wl["id"], codes)
    # once done, the workload takes the next one
    assert snapshot(cp, proj, wl["id"]).status_code == 202


def test_busy_workload_refuses_changes_and_reset_resolves(all_in_one: ControlPlane) -> None:
    cp, proj = all_in_one, project()
    wl = create_workload(cp, proj, cp.add_servers(proj, 1))
    # A snapshot claimed by a worker that then vanished (as after a crash), made with the same queries.
    from t4o.common.config import CONF, ensure_registered
    from t4o.db import api as db

    ensure_registered()
    CONF.set_override("connection", f"sqlite:///{cp.workdir}/t4o.sqlite", group="database")
    try:
        stuck = db.snapshot_create(wl["id"], proj, {"name": "stuck"})
        assert db.job_claim("snapshot", stuck.id, "gone-host")
        db.job_progress("snapshot", stuck.id, 40, "copying")
    finally:
        CONF.clear_override("connection", group="database")
    assert snapshot(cp, proj, wl["id"]).status_code == 409
    resp = cp.request("PUT", f"/workloads/{wl['id']}", proj, member(proj), json={"workload": {"name": "n"}})
    assert resp.status_code == 409
    assert cp.request("DELETE", f"/workloads/{wl['id']}", proj, member(proj)).status_code == 409
    assert cp.request("POST", f"/workloads/{wl['id']}/unlock", proj, member(proj)).status_code == 409
    resp = cp.request("POST", f"/workloads/{wl['id']}/reset", proj, member(proj))
    assert resp.status_code == 200 and resp.json()["workload"]["status"] == "available"
    stuck = cp.request("GET", f"/snapshots/{stuck.id}", proj, member(proj)).json()["snapshot"]
    assert stuck["status"] == "error" and "Reset" in stuck["error_msg"]
    assert snapshot(cp, proj, wl["id"]).status_code == 202


def test_lists_page_with_limit_marker_and_next_links(all_in_one: ControlPlane) -> None:
    cp, proj = all_in_one, project()
    made = [create_workload(cp, proj, [vm])["id"] for vm in cp.add_servers(proj, 5)]
    seen: list[str] = []
    url = f"{cp.url}/v1/{proj}/workloads/detail?limit=2"
    pages = 0
    while url:
        resp = requests.get(url, headers={"X-Auth-Token": member(proj)}, timeout=10)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert len(body["workloads"]) <= 2 and all(w["instances"] for w in body["workloads"])
        seen += [w["id"] for w in body["workloads"]]
        links = body.get("workloads_links", [])
        url = next((link["href"] for link in links if link["rel"] == "next"), "")
        pages += 1
    # 5 rows at 2 a page: 3 pages (the last one short, without a next link), newest first.
    assert pages == 3 and seen == list(reversed(made))
    asc = cp.request("GET", "/workloads?sort_key=created_at&sort_dir=asc&limit=1000", proj, member(proj))
    assert [w["id"] for w in asc.json()["workloads"]] == made
    # Bad paging input is a 400 with a message, never a 5xx.
    for query in ("limit=0", "limit=x", "marker=nope", "sort_key=vm_id", "sort_dir=sideways"):
        resp = cp.request("GET", f"/workloads/detail?{query}", proj, member(proj))
        assert resp.status_code == 400, (query, resp.text)
        assert resp.json()["badRequest"]["message"]
    # Another project's workload is no marker here.
    other = project()
    theirs = create_workload(cp, other, cp.add_servers(other, 1))["id"]
    resp = cp.request("GET", f"/workloads?marker={theirs}", proj, member(proj))
    assert resp.status_code == 400 and theirs in resp.json()["badRequest"]["message"]
    for path in ("/snapshots/detail", "/snapshots", "/restores", "/restores/detail"):
        resp = cp.request("GET", f"{path}?limit=1", proj, member(proj))
        assert resp.status_code == 200 and resp.json()[path.split("/")[1]] == []
        assert cp.request("GET", f"{path}?marker=nope", proj, member(proj)).status_code == 400


def test_database_only_and_full_delete(all_in_one: ControlPlane) -> None:
    cp, proj = all_in_one, project()
    vm_a, vm_b = cp.add_servers(proj, 2)
    keep = create_workload(cp, proj, [vm_a])["id"]
    full = create_workload(cp, proj, [vm_b])["id"]
    resp = cp.request("DELETE", f"/workloads/{keep}?database_only=True", proj, member(proj))
    assert resp.status_code == 202, resp.text
    resp = cp.request("DELETE", f"/workloads/{full}", proj, member(proj))
    assert resp.status_code == 202, resp.text
    for wid in (keep, full):
        assert cp.request("GET", f"/workloads/{wid}", proj, member(proj)).status_code == 404
    # Both free their instances; the full delete asked a worker, which found no vault on the target (the
    # stub workflows write none) and so nothing to delete.
    assert create_workload(cp, proj, [vm_a, vm_b])["instances"]
    log = cp.log("all-in-one")
    assert f"Workload {keep} deleted (database_only=True)" in log
    assert f"Workload {full} deleted (database_only=False)" in log
    assert "Nothing to delete from the backup target" in log
    resp = cp.request("DELETE", f"/workloads/{full}?database_only=maybe", proj, member(proj))
    assert resp.status_code == 400
