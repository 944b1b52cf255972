"""The control plane behind keystonemiddleware with real devcloud tokens, Nova checks with the caller's
token, and separate services over RabbitMQ with MariaDB: isolation between projects demo and other,
admin-only calls refused to members, snapshots recording VM definitions read from Nova."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml
from openstack.connection import Connection

from tests.fixtures.control_plane import VENV_BIN, ControlPlane, database_url, ensure_server
from tests.fixtures.devcloud import Devcloud


@dataclass
class Caller:
    conn: Connection
    token: str
    project_id: str


def caller(devcloud: Devcloud, cloud: str) -> Caller:
    conn = devcloud.connection(cloud)
    return Caller(conn, conn.auth_token, conn.current_project_id)


@pytest.fixture(scope="module")
def keystone_cp(devcloud: Devcloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    ensure_server("rabbitmq")
    clouds = yaml.safe_load(devcloud.clouds_yaml.read_text())["clouds"]
    service = clouds["devcloud-t4o"]["auth"]  # the t4o service user (admin + service roles in 'service')
    tag = uuid.uuid4().hex[:8]
    with database_url("mariadb") as url:
        cp = ControlPlane(
            tmp_path_factory.mktemp("keystone"),
            {
                "DEFAULT": {
                    "auth_strategy": "keystone",
                    "cloud_driver": "nova",
                    "transport_url": "rabbit://guest:guest@127.0.0.1:5672/",
                    "control_exchange": f"t4o_it_{tag}",
                    "scheduler_topic": f"t4o-it-{tag}-scheduler",
                    "workloads_topic": f"t4o-it-{tag}-workloads",
                },
                "database": {"connection": url},
                "keystone_authtoken": {
                    "www_authenticate_uri": devcloud.keystone_url,
                    "auth_url": service["auth_url"],
                    "auth_type": "password",
                    "username": service["username"],
                    "password": service["password"],
                    "project_name": service["project_name"],
                    "user_domain_name": service["user_domain_name"],
                    "project_domain_name": service["project_domain_name"],
                },
            },
        )
        assert cp.manage("db", "sync").returncode == 0
        try:
            cp.start("api", ["workloadmgr-api"])
            cp.start("scheduler", ["workloadmgr-scheduler"])
            cp.start("workloads", ["workloadmgr-workloads"])
            cp.wait_api()
            yield cp
        finally:
            cp.stop()


@pytest.fixture(scope="module")
def demo(devcloud: Devcloud) -> Caller:
    return caller(devcloud, "devcloud-demo")


@pytest.fixture(scope="module")
def other(devcloud: Devcloud) -> Caller:
    return caller(devcloud, "devcloud-other")


@pytest.fixture(scope="module")
def admin(devcloud: Devcloud) -> Caller:
    return caller(devcloud, "devcloud-admin")


def boot(conn: Connection) -> str:
    """A server without networks, waited for ACTIVE; Nova's fault in the failure message otherwise."""
    flavor = conn.compute.find_flavor("devcloud.tiny", ignore_missing=False)
    image = conn.image.find_image("devcloud-tiny", ignore_missing=False)
    srv = conn.compute.create_server(
        name=f"t4o-it-{uuid.uuid4().hex[:6]}", flavor_id=flavor.id, image_id=image.id, networks="none"
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        srv = conn.compute.get_server(srv.id)
        if srv.status == "ACTIVE":
            return srv.id
        if srv.status == "ERROR":
            conn.compute.delete_server(srv.id, ignore_missing=True)
            pytest.fail(f"devcloud could not boot a server: {srv.fault}")
        time.sleep(1)
    pytest.fail(f"server {srv.id} not ACTIVE after 300 s: {srv.status}")


@pytest.fixture(scope="module")
def servers(demo: Caller) -> Iterator[dict[str, list[str]]]:
    """Two servers of demo, booted one after the other (devcloud's compute has 8 vCPUs for all tests)."""
    made: dict[str, list[str]] = {"demo": []}
    conns = {"demo": demo.conn}
    try:
        for owner in ("demo", "demo"):
            made[owner].append(boot(conns[owner]))
        yield made
    finally:
        for owner, ids in made.items():
            for sid in ids:
                conns[owner].compute.delete_server(sid, ignore_missing=True)


def call(
    cp: ControlPlane, who: Caller, method: str, path: str, project: str | None = None, **kw
) -> requests.Response:
    return cp.request(method, path, project or who.project_id, who.token, **kw)


def test_tokens_are_required(keystone_cp: ControlPlane, demo: Caller) -> None:
    assert requests.get(f"{keystone_cp.url}/v1/{demo.project_id}/workloads", timeout=10).status_code == 401
    bad = keystone_cp.request("GET", "/workloads", demo.project_id, "not-a-token")
    assert bad.status_code == 401
    assert requests.get(f"{keystone_cp.url}/openapi.json", timeout=10).status_code == 200


def test_isolation_between_projects(
    keystone_cp: ControlPlane, demo: Caller, other: Caller, servers: dict[str, list[str]]
) -> None:
    cp = keystone_cp
    body = {"workload": {"name": "demo-wl", "instances": [{"instance-id": servers["demo"][0]}]}}
    resp = call(cp, demo, "POST", "/workloads", json=body)
    assert resp.status_code == 202, resp.text
    wl = resp.json()["workload"]
    assert wl["project_id"] == demo.project_id and wl["instances"][0]["name"].startswith("t4o-it-")

    # other's member token: demo's workload does not exist for it
    assert call(cp, other, "GET", f"/workloads/{wl['id']}").status_code == 404
    assert call(cp, other, "POST", f"/workloads/{wl['id']}", json={}).status_code == 404
    assert wl["id"] not in {w["id"] for w in call(cp, other, "GET", "/workloads").json()["workloads"]}
    # ... nor may it use demo's project in the URL
    assert call(cp, other, "GET", "/workloads", project=demo.project_id).status_code == 403
    # other cannot protect demo's server (Nova, with other's token, does not show it)
    body = {"workload": {"instances": [{"instance-id": servers["demo"][1]}]}}
    resp = call(cp, other, "POST", "/workloads", json=body)
    assert resp.status_code == 400 and servers["demo"][1] in resp.json()["badRequest"]["message"]
    # a server id Nova does not know at all
    body = {"workload": {"instances": [{"instance-id": str(uuid.uuid4())}]}}
    assert call(cp, demo, "POST", "/workloads", json=body).status_code == 400
    # demo's server already in a workload
    body = {"workload": {"instances": [{"instance-id": servers["demo"][0]}]}}
    assert call(cp, demo, "POST", "/workloads", json=body).status_code == 400


def test_admin_only_calls(keystone_cp: ControlPlane, demo: Caller, admin: Caller) -> None:
    cp = keystone_cp
    assert call(cp, demo, "GET", "/workloads?all_workloads=True").status_code == 403
    assert call(cp, demo, "POST", "/global_job_scheduler/disable").status_code == 403
    assert call(cp, demo, "GET", "/global_job_scheduler").status_code == 200
    assert call(cp, admin, "GET", "/workloads?all_workloads=True").status_code == 200
    assert call(cp, admin, "POST", "/global_job_scheduler/enable").json() == {"global_job_scheduler": True}
    # an admin may look into demo's project
    assert call(cp, admin, "GET", "/workloads", project=demo.project_id).status_code == 200


def test_snapshot_records_definitions_from_nova(
    keystone_cp: ControlPlane, demo: Caller, servers: dict[str, list[str]]
) -> None:
    cp = keystone_cp
    body = {"workload": {"name": "snap-wl", "instances": [{"instance-id": servers["demo"][1]}]}}
    wl = call(cp, demo, "POST", "/workloads", json=body).json()["workload"]
    resp = call(cp, demo, "POST", f"/workloads/{wl['id']}?full=1", json={"snapshot": {"name": "first"}})
    assert resp.status_code == 202, resp.text
    snap = cp.wait_job("snapshot", resp.json()["snapshot"]["id"], demo.project_id, demo.token, timeout=120)
    assert snap["status"] == "available", snap
    (vm,) = snap["instances"]
    assert vm["id"] == servers["demo"][1]
    assert vm["metadata"]["status"] == "ACTIVE" and vm["metadata"]["flavor"]["vcpus"] == 1


def test_keystone_registration_is_idempotent(devcloud: Devcloud, tmp_path: Path) -> None:
    env = {**os.environ, **devcloud.env("devcloud-admin")}
    conf = tmp_path / "t4o.conf"
    conf.write_text("[DEFAULT]\n")
    url = "http://127.0.0.1:8780/v1/%(project_id)s"  # the URLs devcloud's catalog already carries
    dm_url = "http://127.0.0.1:8784/v2"
    manage = [str(VENV_BIN / "workloadmgr-manage"), "--config-file", str(conf)]
    for _ in range(2):
        run = subprocess.run(
            [*manage, "keystone", "register", "--url", url, "--datamover-url", dm_url],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert run.returncode == 0, run.stderr
    conn = devcloud.connection("devcloud-admin")
    services = [s for s in conn.identity.services() if s.type == "workloads"]
    assert len(services) == 1
    endpoints = [e for e in conn.identity.endpoints(service_id=services[0].id) if e.region_id == "RegionOne"]
    assert {e.interface for e in endpoints} >= {"public", "internal", "admin"}
    assert all(e.url == url for e in endpoints)
    (datamover,) = [s for s in conn.identity.services() if s.type == "datamover"]
    dm = [e for e in conn.identity.endpoints(service_id=datamover.id) if e.region_id == "RegionOne"]
    assert sorted(e.interface for e in dm) == ["admin", "internal", "public"]
    assert all(e.url == dm_url for e in dm)
