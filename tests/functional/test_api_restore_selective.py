"""Selective restore per VM and per volume through the real API (``t4o all-in-one``, stub cloud and
workflows): each VM's flavor and nics, each volume left out or retyped; a request naming what the snapshot
or the cloud lacks is refused with 400 naming the field; the restored VMs and volumes are named after
their originals and the snapshot and keep the originals' name and id in their metadata."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.control_plane import ControlPlane, member

NET, TARGET, OTHER = (str(uuid.uuid4()) for _ in range(3))
VOL_A, VOL_B = str(uuid.uuid4()), str(uuid.uuid4())
PORTS = [
    {"id": "port-1", "network_id": NET, "mac_address": "fa:16:3e:00:00:01", "created_at": "1",
     "fixed_ips": [{"subnet_id": "s1", "ip_address": "10.0.0.5"}]},
    {"id": "port-2", "network_id": NET, "mac_address": "fa:16:3e:00:00:02", "created_at": "2",
     "fixed_ips": [{"subnet_id": "s1", "ip_address": "10.0.0.6"}]},
]  # fmt: skip
TOPOLOGY = {
    "networks": [{"id": NET, "name": "private"}],
    "subnets": [{"id": "s1", "network_id": NET, "cidr": "10.0.0.0/24"}],
    "routers": [],
}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """All-in-one with a stub cloud that has these flavors, volume types and networks only."""
    workdir = tmp_path_factory.mktemp("selective")
    resources = workdir / "resources.json"
    resources.write_text(
        json.dumps(
            {
                "flavors": ["m1.small"],
                "volume_types": ["fast", "__DEFAULT__"],
                "networks": {TARGET: ["target-sub"], OTHER: []},
                "volume_zones": ["nova", "az-2"],
            }
        )
    )
    cp = ControlPlane(workdir / "cp", {"stub_cloud": {"resources_file": str(resources)}})
    try:
        cp.start_all_in_one()
        yield cp
    finally:
        cp.stop()


def add_servers(cp: ControlPlane, project: str) -> tuple[str, str]:
    """Two servers: ``web`` with two ports on ``private`` and two volumes, ``db`` with one port there."""
    web, db = str(uuid.uuid4()), str(uuid.uuid4())
    data = json.loads(cp.servers_file.read_text())
    data[project] = [
        {"id": web, "name": "web", "ports": PORTS, "topology": TOPOLOGY,
         "volumes": [{"id": VOL_A}, {"id": VOL_B}]},
        {"id": db, "name": "db", "ports": [{"id": "port-3", "network_id": NET}], "topology": TOPOLOGY},
    ]  # fmt: skip
    Path(cp.servers_file).write_text(json.dumps(data))
    return web, db


@pytest.fixture(scope="module")
def snapshot(cloud: ControlPlane) -> dict[str, Any]:
    cp, proj = cloud, "p" + uuid.uuid4().hex[:12]
    web, db = add_servers(cp, proj)
    body = {"workload": {"name": "app", "instances": [{"instance-id": web}, {"instance-id": db}]}}
    resp = cp.request("POST", "/workloads", proj, member(proj), json=body)
    assert resp.status_code == 202, resp.text
    wl = resp.json()["workload"]
    resp = cp.request(
        "POST", f"/workloads/{wl['id']}?full=1", proj, member(proj), json={"snapshot": {"name": "nightly"}}
    )
    assert resp.status_code == 202, resp.text
    snap = cp.wait_job("snapshot", resp.json()["snapshot"]["id"], proj, member(proj))
    assert snap["status"] == "available", snap
    return {"cp": cp, "proj": proj, "snap": snap, "web": web, "db": db}


def post(s: dict[str, Any], openstack: dict[str, Any], name: str = "") -> Any:
    body = {"restore": {"name": name, "options": {"restore_type": "selective", "openstack": openstack}}}
    return s["cp"].request("POST", f"/snapshots/{s['snap']['id']}", s["proj"], member(s["proj"]), json=body)


def message(resp: Any) -> str:
    assert resp.status_code == 400, resp.text
    return str(resp.json()["badRequest"]["message"])


def web_only(s: dict[str, Any], **web: Any) -> dict[str, Any]:
    """Options restoring ``web`` alone, with ``web``'s options, its ports on TARGET."""
    nics = [{"id": "port-1", "network": {"id": TARGET}}, {"id": "port-2", "network": {"id": TARGET}}]
    return {
        "instances": [
            {"id": s["web"], "include": True, "nics": nics, **web},
            {"id": s["db"], "include": False},
        ]
    }


def test_per_vm_flavor_nics_and_per_volume_choices_reach_the_restore(snapshot: dict[str, Any]) -> None:
    s = snapshot
    options = web_only(
        s,
        flavor={"id": "m1.small"},
        vdisks=[
            {"id": VOL_A, "include": False},
            {"id": VOL_B, "new_volume_type": "fast", "availability_zone": "az-2"},
        ],
    )
    resp = post(s, options)
    assert resp.status_code == 202, resp.text
    restore = resp.json()["restore"]
    done = s["cp"].wait_job("restore", restore["id"], s["proj"], member(s["proj"]))
    assert done["status"] == "available", done
    assert done["restore_options"]["openstack"] == options  # kept as asked, for the restore's page
    [web] = done["instances"]
    day = s["snap"]["created_at"][:10]
    assert web["name"] == f"web (restored nightly {day})"
    assert web["metadata"] == {
        "t4o_original_name": "web",
        "t4o_original_id": s["web"],
        "t4o_snapshot_id": s["snap"]["id"],
        "t4o_restore_id": restore["id"],
    }
    assert web["flavor"] == {"id": "m1.small"}
    assert web["nics"] == {"port-1": {"id": TARGET}, "port-2": {"id": TARGET}}
    assert web["volumes_left_out"] == [VOL_A]
    [volume] = web["volumes"]
    assert volume["source_volume_id"] == VOL_B and volume["volume_type"] == "fast"
    assert volume["availability_zone"] == "az-2"
    assert volume["name"] == f"web-volume (restored nightly {day})"
    assert volume["metadata"]["t4o_original_id"] == VOL_B


def test_names_given_in_the_options_are_kept(snapshot: dict[str, Any]) -> None:
    s = snapshot
    options = web_only(s, name="web-copy", vdisks=[{"id": VOL_A, "name": "data-copy"}])
    resp = post(s, options)
    assert resp.status_code == 202, resp.text
    done = s["cp"].wait_job("restore", resp.json()["restore"]["id"], s["proj"], member(s["proj"]))
    [web] = done["instances"]
    assert web["name"] == "web-copy"
    assert web["volumes"][0]["name"] == "data-copy"
    assert web["metadata"]["t4o_original_name"] == "web"


def test_a_vms_nics_replace_the_network_mapping_only_for_the_ports_they_name(
    snapshot: dict[str, Any],
) -> None:
    s = snapshot
    options = web_only(s)
    options["instances"][0]["nics"] = [{"mac_address": "fa:16:3e:00:00:01", "network": {"id": TARGET}}]
    assert "network private" in message(post(s, options)) and "needs a mapping" in message(post(s, options))
    # By place in NIC order: the first entry is port-1, the second port-2.
    options["instances"][0]["nics"] = [{"network": {"id": TARGET}}, {"network": {"id": OTHER}}]
    resp = post(s, options)
    assert resp.status_code == 202, resp.text
    done = s["cp"].wait_job("restore", resp.json()["restore"]["id"], s["proj"], member(s["proj"]))
    assert done["instances"][0]["nics"] == {"port-1": {"id": TARGET}, "port-2": {"id": OTHER}}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"flavor": {"id": "huge"}}, "options.openstack.instances[0].flavor.id: flavor huge does not exist"),
        (
            {"vdisks": [{"id": VOL_B, "new_volume_type": "gold"}]},
            "options.openstack.instances[0].vdisks[0].new_volume_type: volume type gold does not exist",
        ),
        (
            {"vdisks": [{"id": VOL_A}, {"id": "not-a-volume", "include": False}]},
            "options.openstack.instances[0].vdisks[1].id: volume not-a-volume is not a volume of VM web in "
            "the snapshot",
        ),
        (
            {"vdisks": [{"id": VOL_A}, {"id": VOL_B, "availability_zone": "mars"}]},
            "options.openstack.instances[0].vdisks[1].availability_zone: Cinder has no availability zone "
            "mars for new volumes",
        ),
        (
            {"nics": [{"id": "port-1", "network": {"id": "nowhere"}}]},
            "options.openstack.instances[0].nics[0].network.id: network nowhere does not exist",
        ),
        (
            {"nics": [{"id": "port-1", "network": {"id": TARGET, "subnet": {"id": "elsewhere"}}}]},
            f"options.openstack.instances[0].nics[0].network.subnet.id: subnet elsewhere does not exist on "
            f"network {TARGET}",
        ),
        (
            {"nics": [{"id": "port-9", "network": {"id": TARGET}}]},
            "options.openstack.instances[0].nics[0]: VM web had no port port-9 in the snapshot",
        ),
        (
            {"nics": [{"network": {"id": TARGET}}] * 3},
            "options.openstack.instances[0].nics[2]: VM web had no port number 3 in the snapshot",
        ),
    ],
)
def test_what_the_snapshot_or_the_cloud_lacks_is_refused_naming_the_field(
    snapshot: dict[str, Any], change: dict[str, Any], expected: str
) -> None:
    options = web_only(snapshot)
    options["instances"][0].update(change)
    assert message(post(snapshot, options)) == expected


def test_unknown_vms_and_mapped_networks_are_refused_naming_the_field(snapshot: dict[str, Any]) -> None:
    s = snapshot
    ghost = str(uuid.uuid4())
    assert message(post(s, {"instances": [{"id": ghost}]})) == (
        f"options.openstack.instances[0].id: VM {ghost} is not in the snapshot"
    )
    mapping = {"networks": [{"snapshot_network": {"id": NET}, "target_network": {"id": "gone"}}]}
    options = {
        "instances": [{"id": s["db"]}, {"id": s["web"], "include": False}],
        "networks_mapping": mapping,
    }
    assert message(post(s, options)) == (
        "options.openstack.networks_mapping.networks[0].target_network.id: network gone does not exist"
    )
    mapping["networks"][0]["target_network"]["id"] = TARGET
    assert post(s, options).status_code == 202
