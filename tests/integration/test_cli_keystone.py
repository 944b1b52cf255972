"""`openstack workload ...` and `workloadmgr` with real Keystone auth (devcloud's clouds.yaml), the endpoint
from the catalog (service type ``workloads``), and the T4O services behind keystonemiddleware."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from demo.services import T4OServices
from tests.fixtures.control_plane import VENV_BIN
from tests.fixtures.devcloud import Devcloud


def run(
    devcloud: Devcloud,
    cloud: str | None,
    *args: str,
    tool: str = "openstack",
    env: dict[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    base.update(devcloud.env(cloud) if cloud else {"OS_CLIENT_CONFIG_FILE": str(devcloud.clouds_yaml)})
    base.update(env or {})
    return subprocess.run(
        [str(VENV_BIN / tool), *args], capture_output=True, text=True, timeout=timeout, env=base, check=False
    )


def ok_json(devcloud: Devcloud, cloud: str, *args: str, tool: str = "openstack") -> Any:
    proc = run(devcloud, cloud, *args, "-f", "json", tool=tool)
    assert proc.returncode == 0, f"{args}: {proc.stderr}"
    return json.loads(proc.stdout)


def error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    return lines[-1]


@pytest.fixture(scope="module")
def server(devcloud: Devcloud) -> Iterator[str]:
    """One server of project demo (no network), deleted afterwards."""
    conn = devcloud.connection("devcloud-demo")
    flavor = conn.compute.find_flavor("devcloud.tiny", ignore_missing=False)
    image = conn.image.find_image("devcloud-tiny", ignore_missing=False)
    srv = conn.compute.create_server(
        name=f"t4o-cli-{uuid.uuid4().hex[:6]}", flavor_id=flavor.id, image_id=image.id, networks="none"
    )
    try:
        conn.compute.wait_for_server(srv, wait=300)
        yield srv.id
    finally:
        conn.compute.delete_server(srv.id, ignore_missing=True)
        with contextlib.suppress(Exception):
            conn.compute.wait_for_delete(srv, wait=120)


def test_workload_life_cycle_with_keystone(
    t4o_services: T4OServices, devcloud: Devcloud, server: str
) -> None:
    name = f"cli-{uuid.uuid4().hex[:6]}"
    wl = ok_json(devcloud, "devcloud-demo", "workload", "create", "--name", name, "--instance", server)
    try:
        assert wl["name"] == name and [i["id"] for i in wl["instances"]] == [server]
        assert name in [w["Name"] for w in ok_json(devcloud, "devcloud-demo", "workload", "list")]
        # The other project does not see it, by name or by ID.
        proc = run(devcloud, "devcloud-other", "workload", "show", wl["id"])
        assert f"No workload with name or ID '{wl['id']}'" in error_line(proc)

        proc = run(devcloud, "devcloud-demo", "workload", "snapshot", name, "--full", "--wait", "-f", "json")
        assert proc.returncode == 0, proc.stderr
        snap = json.loads(proc.stdout)
        assert snap["status"] == "available" and snap["snapshot_type"] == "full"
        assert "100%" in proc.stderr
        listed = ok_json(
            devcloud, "devcloud-demo", "snapshot-list", "--workload_id", wl["id"], tool="workloadmgr"
        )
        assert [s["ID"] for s in listed] == [snap["id"]]
        proc = run(devcloud, "devcloud-demo", "workload", "snapshot", "delete", snap["id"])
        assert proc.returncode == 0, proc.stderr
    finally:
        run(devcloud, "devcloud-demo", "workload", "delete", wl["id"])


def test_settings_and_types_with_keystone(t4o_services: T4OServices, devcloud: Devcloud) -> None:
    types = ok_json(devcloud, "devcloud-demo", "workload-type-list", tool="workloadmgr")
    assert {t["Name"] for t in types} == {"Serial", "Parallel"}
    key = f"cli_{uuid.uuid4().hex[:6]}"
    assert ok_json(devcloud, "devcloud-demo", "workload", "setting", "create", key, "1")["value"] == "1"
    try:
        assert key not in [
            s["Name"] for s in ok_json(devcloud, "devcloud-other", "workload", "setting", "list")
        ]
    finally:
        run(devcloud, "devcloud-demo", "workload", "setting", "delete", key)
    # members may read the global scheduler but not switch it
    assert "HTTP 403" in error_line(run(devcloud, "devcloud-demo", "workload", "scheduler", "disable"))


def test_errors_with_keystone(t4o_services: T4OServices, devcloud: Devcloud, tmp_path: Path) -> None:
    line = error_line(run(devcloud, "devcloud-demo", "workload", "create", "--instance", str(uuid.uuid4())))
    assert "HTTP 400" in line or "HTTP 404" in line
    for tool, command in (("openstack", ["workload", "list"]), ("workloadmgr", ["workload-list"])):
        line = error_line(run(devcloud, "devcloud-demo", "--os-password", "wrong", *command, tool=tool))
        assert line.startswith("Authentication failed: Keystone refused the credentials"), line
        # The demo user of a region without T4O: Keystone authenticates, the catalog has no endpoint.
        clouds = yaml.safe_load(devcloud.clouds_yaml.read_text())["clouds"]
        elsewhere = tmp_path / "clouds.yaml"
        elsewhere.write_text(
            yaml.safe_dump({"clouds": {"elsewhere": {**clouds["devcloud-demo"], "region_name": "Nowhere"}}})
        )
        env = {"OS_CLIENT_CONFIG_FILE": str(elsewhere), "OS_CLOUD": "elsewhere"}
        line = error_line(run(devcloud, None, *command, tool=tool, env=env))
        assert line.startswith("No 'workloads' endpoint (public interface in region Nowhere)"), line


def test_policies_and_quotas_with_keystone(t4o_services: T4OServices, devcloud: Devcloud) -> None:
    """The cloud admin sets a policy and a quota for project demo (named, Keystone gives its ID); demo's
    member sees both, the other project neither."""
    demo = devcloud.connection("devcloud-demo").current_project_id
    name = f"cli-pol-{uuid.uuid4().hex[:6]}"
    policy = ok_json(
        devcloud, "devcloud-admin", "workload", "policy", "create", name, "--field", "interval=12 hr"
    )
    try:
        assigned = ok_json(
            devcloud, "devcloud-admin", "policy-assign", "--add_project", "demo", name, tool="workloadmgr"
        )
        assert assigned["project_list"] == [demo]
        assert name in [p["Name"] for p in ok_json(devcloud, "devcloud-demo", "workload", "policy", "list")]
        assert name not in [
            p["Name"] for p in ok_json(devcloud, "devcloud-other", "workload", "policy", "list")
        ]
        assert "HTTP 403" in error_line(run(devcloud, "devcloud-demo", "workload", "policy", "delete", name))

        rows = ok_json(
            devcloud, "devcloud-admin", "workload", "quota", "set", "--project", "demo", "--snapshots", "500"
        )
        assert [(r["Type"], r["Allowed"]) for r in rows] == [("Snapshots", 500)]
        listed = ok_json(devcloud, "devcloud-admin", "project-allowed-quota-list", demo, tool="workloadmgr")
        assert [r["ID"] for r in listed] == [rows[0]["ID"]]
        shown = ok_json(devcloud, "devcloud-demo", "workload", "quota", "show", "snapshots")
        assert shown["allowed_value"] == 500 and shown["project_id"] == demo and shown["usage"] >= 0
        assert "HTTP 403" in error_line(
            run(devcloud, "devcloud-other", "workload", "quota", "list", "--project", demo)
        )
        nodes = ok_json(devcloud, "devcloud-admin", "workload-get-nodes", tool="workloadmgr")
        assert any(n["Binary"] == "workloadmgr-workloads" and n["State"] == "up" for n in nodes)
    finally:
        run(devcloud, "devcloud-admin", "workload", "quota", "delete", "snapshots", "--project", demo)
        run(devcloud, "devcloud-admin", "workload", "policy", "delete", policy["id"])
