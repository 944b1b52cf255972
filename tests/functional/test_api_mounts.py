"""Snapshot mount through the real workloadmgr API application (served over HTTP on 127.0.0.1, noauth)
on a real SQLite database, with the stub cloud's servers and the stub datamover
(tests/stubs/stub_datamover.py) in place of datamover-api: mount, dismount and the mounted list, every
call's 404 for another project, the 409s, deletes refused while mounted, retention keeping a mounted
snapshot, and workloadmgr-cron dismounting an idle mount.

The API runs in this process so that the datamover is replaced at its module boundary
(``SnapshotMounts``' datamover factory); everything between HTTP and that boundary is the product's.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
from werkzeug.serving import make_server

from t4o.api import app as api_app
from t4o.api import spec
from t4o.api.handlers import mounts as mount_handlers
from t4o.common import config, policy
from t4o.common.context import RequestContext
from t4o.cron import retention as retention_run
from t4o.cron.clock import ManualClock
from t4o.cron.manager import CronManager
from t4o.db import api as db
from t4o.db import mount_api, session
from t4o.openstack.cloud import Server
from t4o.policies.jobschedule import RETAIN_COUNT, JobSchedule
from t4o.vault import target
from t4o.workloads import api as workloads_api
from t4o.workloads import mounts
from tests.stubs.stub_cloud import StubCloud
from tests.stubs.stub_datamover import StubDatamover, recorded_snapshot

VAULT = "/srv/t4o-vault"


class StatusStubCloud(StubCloud):
    """The stub cloud, with each server's Nova status from its entry (default ACTIVE)."""

    def find_servers(self, context: RequestContext, server_ids: list[str]) -> dict[str, Server | None]:
        found = super().find_servers(context, server_ids)
        for server in found.values():
            if server is not None:
                server.status = str(server.definition.get("status", "ACTIVE"))
        return found


@dataclass
class Api:
    url: str
    dm: StubDatamover
    servers_file: Path

    def add_server(self, project: str, status: str = "ACTIVE", host: str = "compute-1") -> str:
        data = json.loads(self.servers_file.read_text())
        sid = str(uuid.uuid4())
        data.setdefault(project, []).append({"id": sid, "name": f"rescue-{sid[:4]}", "status": status})
        self.servers_file.write_text(json.dumps(data))
        self.dm.servers[sid] = host
        return sid

    def call(self, method: str, path: str, project: str, user: str = "alice", **kwargs: Any) -> Any:
        headers = {"X-Auth-Token": f"{user}:{project}:member,reader"}
        return requests.request(
            method, f"{self.url}/v1/{project}{path}", headers=headers, timeout=30, **kwargs
        )

    def mount(self, project: str, snapshot_id: str, vm_id: str) -> Any:
        return self.call(
            "POST", f"/snapshots/{snapshot_id}/mount", project, json={"mount": {"mount_vm_id": vm_id}}
        )

    def dismount(self, project: str, snapshot_id: str) -> Any:
        return self.call("POST", f"/snapshots/{snapshot_id}/dismount", project, json={})

    def mounted(self, project: str) -> list[dict[str, Any]]:
        resp = self.call("GET", "/snapshots/mounted/list", project)
        assert resp.status_code == 200, resp.text
        _valid(resp.json(), "listMountedSnapshots")
        return list(resp.json()["mounted_snapshots"])


def _valid(body: Any, operation_id: str) -> None:
    """The answer fits the operation's response schema of the OpenAPI document."""
    op = next(o for o in spec.OPERATIONS if o.operation_id == operation_id)
    jsonschema.validate(body, op.response or {})


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    workdir = tmp_path_factory.mktemp("mounts")
    config.ensure_registered()
    conf = config.CONF
    conf([], project="t4o", default_config_files=[])
    url = f"sqlite:///{workdir}/t4o.sqlite"
    conf.set_override("connection", url, group="database")
    conf.set_override("auth_strategy", "noauth")
    target.register_opts(conf)
    conf.set_override("url", VAULT, group="backup_target")
    session.sync(url)
    policy.reset()
    servers_file = workdir / "servers.json"
    servers_file.write_text("{}")
    dm = StubDatamover()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(mount_handlers.MOUNTS, "_cloud", StatusStubCloud(str(servers_file)))
        mp.setattr(mounts, "datamover_client", lambda conf=conf: dm)  # the API's and the cron's
        # A delete that passes the mount check asks a workloads worker to clean the target: none here.
        mp.setattr(workloads_api.rpcapi, "delete_from_target", lambda *a, **k: {"deleted": []})
        server = make_server("127.0.0.1", 0, api_app.create_app(conf), threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield Api(f"http://127.0.0.1:{server.server_port}", dm, servers_file)
        finally:
            server.shutdown()
            thread.join()
    policy.reset()
    session.dispose_all()
    conf.reset()
    conf.clear_override("connection", group="database")
    conf.clear_override("auth_strategy")
    conf.clear_override("url", group="backup_target")


def project() -> str:
    return "p" + uuid.uuid4().hex[:10]


def test_mount_list_and_dismount(api: Api) -> None:
    proj = project()
    vm_a, vm_b = str(uuid.uuid4()), str(uuid.uuid4())
    snap = recorded_snapshot(proj, {vm_a: ["vda"], vm_b: ["vda"]}, name="friday")
    rescue = api.add_server(proj)
    resp = api.mount(proj, snap.id, rescue)
    assert resp.status_code == 200, resp.text
    _valid(resp.json(), "mountSnapshot")
    mount = resp.json()["mount"]
    assert (mount["snapshot_id"], mount["snapshot_name"], mount["workload_id"]) == (
        snap.id,
        "friday",
        snap.workload_id,
    )
    assert (mount["mount_vm_id"], mount["host"], mount["status"]) == (rescue, "compute-1", "mounted")
    assert mount["error_msg"] is None and mount["dismounted_at"] is None and mount["last_used_at"] is None
    # Both VMs' vda, told apart by their serials; the devices the agent gave them in the recovery VM.
    agent = api.dm.mounts[mount["id"]]
    assert [(d["serial"], d["device"]) for d in mount["disks"]] == [
        (d["serial"], d["device"]) for d in agent["disks"]
    ]
    assert sorted(d["vm_id"] for d in mount["disks"]) == sorted([vm_a, vm_b])
    assert {d["disk"] for d in mount["disks"]} == {"vda"} and len({d["serial"] for d in mount["disks"]}) == 2
    assert api.dm.specs[mount["id"]]["vault"] == {"url": VAULT, "password": None, "require_mount": False}
    mounted_at = dt.datetime.fromisoformat(mount["mounted_at"].replace("Z", "+00:00"))
    assert (
        mount["expires_at"]
        == (mounted_at + dt.timedelta(seconds=3600)).isoformat(timespec="microseconds")[:-6] + "Z"
    )

    assert [m["id"] for m in api.mounted(proj)] == [mount["id"]]
    shown = api.call("GET", f"/snapshots/{snap.id}", proj).json()["snapshot"]
    assert shown["mounted"] is True

    resp = api.call("POST", f"/snapshots/{snap.id}/dismount", proj, user="bob")  # no body at all
    assert resp.status_code == 200, resp.text
    _valid(resp.json(), "dismountSnapshot")
    gone = resp.json()["mount"]
    assert (gone["id"], gone["status"], gone["dismount_reason"]) == (
        mount["id"],
        "dismounted",
        "dismounted by user bob",
    )
    assert gone["dismounted_at"] and gone["expires_at"] is None
    assert api.mounted(proj) == [] and api.dm.devices_of(rescue) == []
    assert api.call("GET", f"/snapshots/{snap.id}", proj).json()["snapshot"]["mounted"] is False
    # Trilio's client sends {"mount": {"mount_vm_id": ..., "options": {}}} and a dismount {"mount": {}}.
    body = {"mount": {"mount_vm_id": rescue, "options": {}}}
    assert api.call("POST", f"/snapshots/{snap.id}/mount", proj, json=body).status_code == 200
    assert api.call("POST", f"/snapshots/{snap.id}/dismount", proj, json={"mount": {}}).status_code == 200


def test_another_project_gets_404_on_every_call(api: Api) -> None:
    mine, theirs = project(), project()
    snap = recorded_snapshot(mine, {str(uuid.uuid4()): ["vda"]})
    my_vm, their_vm = api.add_server(mine), api.add_server(theirs)
    for resp in (
        api.mount(theirs, snap.id, their_vm),
        api.mount(theirs, snap.id, my_vm),
        api.dismount(theirs, snap.id),
    ):
        assert resp.status_code == 404, resp.text
    # My snapshot into their VM: the VM is not visible with my token.
    resp = api.mount(mine, snap.id, their_vm)
    assert resp.status_code == 404 and their_vm in resp.json()["itemNotFound"]["message"]
    assert api.mount(mine, snap.id, my_vm).status_code == 200
    assert api.mounted(theirs) == []
    for resp in (api.dismount(theirs, snap.id), api.call("DELETE", f"/snapshots/{snap.id}", theirs)):
        assert resp.status_code == 404, resp.text
    assert [m["snapshot_id"] for m in api.mounted(mine)] == [snap.id]
    assert api.dismount(mine, snap.id).status_code == 200


def _conflict(resp: Any) -> str:
    assert resp.status_code == 409, resp.text
    return str(resp.json()["conflictingRequest"]["message"])


def test_conflicts_and_bad_requests(api: Api) -> None:
    proj = project()
    snap = recorded_snapshot(proj, {str(uuid.uuid4()): ["vda"]})
    rescue, stopped = api.add_server(proj), api.add_server(proj, status="SHUTOFF")
    assert "is not mounted" in _conflict(api.dismount(proj, snap.id))
    assert "is SHUTOFF" in _conflict(api.mount(proj, snap.id, stopped))
    failed = recorded_snapshot(proj, {str(uuid.uuid4()): ["vda"]}, status="error")
    assert "only an available snapshot can be mounted" in _conflict(api.mount(proj, failed.id, rescue))

    api.dm.fail_next("on host compute-1: the domain has no free PCI slot")
    message = _conflict(api.mount(proj, snap.id, rescue))
    reason = "on host compute-1: the domain has no free PCI slot"
    assert message == f"Snapshot {snap.id} could not be mounted on VM {rescue}: {reason}"
    assert api.mounted(proj) == []

    first = api.mount(proj, snap.id, rescue).json()["mount"]
    other_rescue = api.add_server(proj)
    assert f"mount {first['id']} on VM {rescue}" in _conflict(api.mount(proj, snap.id, other_rescue))

    bad: list[dict[str, Any]] = [{}, {"mount": {}}, {"mount": {"mount_vm_id": ""}}, {"mount_vm_id": rescue}]
    for body in bad:
        resp = api.call("POST", f"/snapshots/{snap.id}/mount", proj, json=body)
        assert resp.status_code == 400, (body, resp.text)
    assert api.call("POST", f"/snapshots/{snap.id}/dismount", proj, json={"force": True}).status_code == 400
    assert api.dismount(proj, snap.id).status_code == 200


def test_deletes_refused_while_mounted(api: Api) -> None:
    proj = project()
    snap = recorded_snapshot(proj, {str(uuid.uuid4()): ["vda"]})
    rescue = api.add_server(proj)
    mount = api.mount(proj, snap.id, rescue).json()["mount"]
    message = _conflict(api.call("DELETE", f"/snapshots/{snap.id}", proj))
    assert mount["id"] in message and rescue in message and "Dismount it first" in message
    message = _conflict(api.call("DELETE", f"/workloads/{snap.workload_id}?database_only=True", proj))
    assert message.startswith(f"Workload {snap.workload_id} cannot be deleted") and rescue in message
    assert api.call("GET", f"/snapshots/{snap.id}", proj).json()["snapshot"]["status"] == "available"

    assert api.dismount(proj, snap.id).status_code == 200
    assert api.call("DELETE", f"/snapshots/{snap.id}", proj).status_code == 202
    assert api.call("GET", f"/snapshots/{snap.id}", proj).status_code == 404
    assert api.call("DELETE", f"/workloads/{snap.workload_id}?database_only=True", proj).status_code == 202


def test_retention_keeps_a_mounted_snapshot_until_dismounted(api: Api) -> None:
    proj = project()
    old = recorded_snapshot(proj, {str(uuid.uuid4()): ["vda"]}, name="old")
    new = db.snapshot_create(old.workload_id, proj, {"name": "new"})
    assert db.job_claim("snapshot", new.id, "w") and db.job_finish("snapshot", new.id, "available")
    rescue = api.add_server(proj)
    assert api.mount(proj, old.id, rescue).status_code == 200
    keep_one = JobSchedule(retention_type=RETAIN_COUNT, retention_value=1)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert retention_run.apply(old.workload_id, keep_one, later, vault=lambda: None, gc=False) == []
    assert api.call("GET", f"/snapshots/{old.id}", proj).status_code == 200
    assert api.dismount(proj, old.id).status_code == 200
    assert retention_run.apply(old.workload_id, keep_one, later, vault=lambda: None, gc=False) == [old.id]
    assert api.call("GET", f"/snapshots/{old.id}", proj).status_code == 404


def test_cron_dismounts_an_idle_mount(api: Api) -> None:
    proj = project()
    snap = recorded_snapshot(proj, {str(uuid.uuid4()): ["vda"]})
    rescue = api.add_server(proj)
    mount = api.mount(proj, snap.id, rescue).json()["mount"]
    mounted_at = dt.datetime.fromisoformat(mount["mounted_at"].replace("Z", "+00:00"))
    clock = ManualClock(mounted_at + dt.timedelta(minutes=50))
    cron = CronManager(config.CONF, clock=clock)
    api.dm.read(mount["id"], clock.now())  # the guest reads a file
    cron.tick()
    (listed,) = [m for m in api.mounted(proj) if m["id"] == mount["id"]]
    assert listed["last_used_at"] == clock.now().replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    clock.advance(dt.timedelta(minutes=59))  # 109 min after the mount, 59 after the read
    cron.tick()
    assert [m["id"] for m in api.mounted(proj)] == [mount["id"]]
    clock.advance(dt.timedelta(minutes=1, seconds=5))
    cron.tick()
    assert api.mounted(proj) == [] and mount["id"] not in api.dm.mounts
    row = mount_api.get(mount["id"])
    assert (row.status, row.dismount_reason) == ("dismounted", "idle for 3605 s")
    assert "is not mounted" in _conflict(api.dismount(proj, snap.id))
