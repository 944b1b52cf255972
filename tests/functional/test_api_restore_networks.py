"""Restores and networks through the real API (``t4o all-in-one``, stub cloud and workflows): Trilio's
``network-topology`` and ``security-groups`` restore types are accepted and restore no VM; a selective
restore without ``restore_topology`` needs a mapping for every network its VMs had a port on (400 naming
the network otherwise); ``restore_topology: true`` or a mapping lets it through."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.fixtures.control_plane import ControlPlane, member

NET = "6b4f7c1e-5d3a-4e2b-9c8d-0a1b2c3d4e5f"


def add_server_with_a_port(cp: ControlPlane, project: str) -> str:
    """A server of the stub cloud whose recorded definition has a port on network ``private``."""
    data = json.loads(cp.servers_file.read_text())
    sid = str(uuid.uuid4())
    data.setdefault(project, []).append(
        {
            "id": sid,
            "name": "web",
            "ports": [
                {"id": "p1", "network_id": NET, "mac_address": "fa:16:3e:00:00:01",
                 "fixed_ips": [{"subnet_id": "s1", "ip_address": "10.0.0.5"}]}
            ],
            "topology": {"networks": [{"id": NET, "name": "private"}],
                         "subnets": [{"id": "s1", "network_id": NET, "cidr": "10.0.0.0/24"}], "routers": []},
        }
    )  # fmt: skip
    tmp = cp.servers_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(cp.servers_file)
    return sid


@pytest.fixture(scope="module")
def snapshot(all_in_one: ControlPlane) -> tuple[ControlPlane, str, str, str]:
    cp, proj = all_in_one, "p" + uuid.uuid4().hex[:12]
    vm = add_server_with_a_port(cp, proj)
    resp = cp.request(
        "POST", "/workloads", proj, member(proj),
        json={"workload": {"name": "net", "instances": [{"instance-id": vm}]}},
    )  # fmt: skip
    assert resp.status_code == 202, resp.text
    wl = resp.json()["workload"]
    resp = cp.request("POST", f"/workloads/{wl['id']}?full=1", proj, member(proj), json={"snapshot": {}})
    assert resp.status_code == 202, resp.text
    snap = cp.wait_job("snapshot", resp.json()["snapshot"]["id"], proj, member(proj))
    assert snap["status"] == "available", snap
    return cp, proj, snap["id"], vm


def post_restore(cp: ControlPlane, proj: str, snap_id: str, options: dict[str, Any]) -> Any:
    return cp.request(
        "POST", f"/snapshots/{snap_id}", proj, member(proj), json={"restore": {"options": options}}
    )


@pytest.mark.parametrize("kind", ["network-topology", "security-groups"])
def test_the_restore_types_without_vms_are_accepted_and_restore_no_vm(snapshot: Any, kind: str) -> None:
    cp, proj, snap_id, _ = snapshot
    resp = post_restore(cp, proj, snap_id, {"type": "openstack", "restore_type": kind})
    assert resp.status_code == 202, resp.text
    assert resp.json()["restore"]["restore_type"] == kind
    done = cp.wait_job("restore", resp.json()["restore"]["id"], proj, member(proj))
    assert done["status"] == "available" and done["restore_type"] == kind
    assert done["instances"] == [] and kind in done["progress_msg"]


def test_an_unknown_restore_type_is_refused(snapshot: Any) -> None:
    cp, proj, snap_id, _ = snapshot
    resp = post_restore(cp, proj, snap_id, {"restore_type": "network_topology"})
    assert resp.status_code == 400 and "restore_type" in resp.text


def test_a_selective_restore_without_topology_needs_a_mapping_for_each_network(snapshot: Any) -> None:
    cp, proj, snap_id, vm = snapshot
    instances = [{"id": vm, "include": True}]
    for openstack in ({"instances": instances}, {"instances": instances, "restore_topology": False}):
        resp = post_restore(cp, proj, snap_id, {"restore_type": "selective", "openstack": openstack})
        assert resp.status_code == 400, resp.text
        message = resp.json()["badRequest"]["message"] if "badRequest" in resp.json() else resp.text
        assert f"network private ({NET}) of VM(s) web needs a mapping" in message
        assert "restore_topology" in message
    mapping = {"networks": [{"snapshot_network": {"id": NET}, "target_network": {"id": str(uuid.uuid4())}}]}
    for openstack in (
        {"instances": instances, "networks_mapping": mapping},
        {"instances": instances, "restore_topology": True},
    ):
        resp = post_restore(cp, proj, snap_id, {"restore_type": "selective", "openstack": openstack})
        assert resp.status_code == 202, resp.text
        assert (
            cp.wait_job("restore", resp.json()["restore"]["id"], proj, member(proj))["status"] == "available"
        )


def test_a_oneclick_restore_recreates_networks_without_a_mapping(snapshot: Any) -> None:
    cp, proj, snap_id, _ = snapshot
    resp = post_restore(
        cp, proj, snap_id, {"restore_type": "oneclick", "openstack": {"restore_topology": False}}
    )
    assert resp.status_code == 202, resp.text
    cp.wait_job("restore", resp.json()["restore"]["id"], proj, member(proj))
