"""The restore job from end to end around the networks, with the cloud faked and no datamover: a
one-click restore of two VMs re-creates their network once, gives each VM its ports (the shared server
group made once), carries a taken address as a warning; the restore types without VMs dispatch to their
own flow; a failure removes the ports with the rest."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest

from t4o.openstack.nova import Attachment, FlavorInfo
from t4o.workloads.flows import config, restore_types
from t4o.workloads.flows import restore as flow
from tests.unit.flows.test_restore_ports import FakeNeutron

NET_ID, SUB_ID = "src-net", "src-sub"
TOPOLOGY = {
    "networks": [{"id": NET_ID, "name": "private"}],
    "subnets": [{"id": SUB_ID, "network_id": NET_ID, "name": "", "cidr": "10.0.0.0/24", "ip_version": 4}],
    "routers": [],
}


def vm(vm_id: str, ip: str, mac: str) -> Any:
    port = {"id": f"port-of-{vm_id}", "network_id": NET_ID, "mac_address": mac,
            "fixed_ips": [{"subnet_id": SUB_ID, "ip_address": ip}], "security_group_ids": []}  # fmt: skip
    definition = {
        "server": {"name": vm_id, "image_id": "img"},
        "flavor": {"id": "f", "vcpus": 1, "ram": 64, "disk": 1},
        "ports": [port],
        "topology": TOPOLOGY,
        "server_group": {"id": "sg-old", "name": "ha", "policy": "anti-affinity"},
    }
    return SimpleNamespace(
        vm_id=vm_id, vm_name=vm_id, definition=definition,
        disks=[{"ref": f"r-{vm_id}", "target": "vda", "size": 1 << 30, "volume_id": None}],
    )  # fmt: skip


@pytest.fixture
def cloud(t4o_conf: Any, monkeypatch: pytest.MonkeyPatch, agent_writes: None) -> Any:
    config.ensure_registered(t4o_conf)
    t4o_conf.set_override("max_parallel_vms", 2, group="workflows")
    c = mock.Mock()
    neutron = FakeNeutron()
    neutron.find_network = lambda ref: None  # type: ignore[attr-defined]  # the whole topology is gone
    neutron.create_network = lambda name, up: SimpleNamespace(id="new-net", name=name)  # type: ignore[attr-defined]
    neutron.create_subnet = lambda net, name, **v: "new-sub"  # type: ignore[attr-defined]
    neutron.delete_network = neutron.deleted.append  # type: ignore[attr-defined]
    c.neutron = neutron
    c.nova.current_project_id.return_value = "proj"
    c.nova.flavor.return_value = FlavorInfo("f", "tiny", 1, 64, 1)
    c.nova.keypair_exists.return_value = True
    c.nova.server_group_id.return_value = None
    c.nova.create_server_group.return_value = "new-group"
    c.nova.create_server.side_effect = lambda name, *a, **k: f"server-{name}"
    c.nova.attachments.return_value = [Attachment("x", "/dev/vda")]
    c.glance.exists.return_value = True
    monkeypatch.setattr(flow, "user_cloud", lambda *a: c)
    monkeypatch.setattr(restore_types, "user_cloud", lambda *a: c)
    monkeypatch.setattr(flow.targets, "open_for_workload", lambda workload: mock.Mock())
    monkeypatch.setattr(flow.targets, "spec_for_workload", lambda workload: {"url": "vault"})
    monkeypatch.setattr(flow.db, "workload_get", lambda wid, scope: SimpleNamespace(id=wid, encryption=False))
    monkeypatch.setattr(flow, "DatamoverClient", lambda conf: None)
    return c


def run(monkeypatch: pytest.MonkeyPatch, kind: str, vms: list[Any], options: dict | None = None) -> dict:
    snap = SimpleNamespace(id="snap", workload_id="wl", vms=vms)
    monkeypatch.setattr(flow.db, "snapshot_get", lambda sid, scope: snap)
    row = SimpleNamespace(
        snapshot_id="snap", restore_options=options or {}, restore_type=kind, project_id="p"
    )
    job = mock.Mock()
    job.row.return_value = row
    return flow.restore(job)


def test_a_oneclick_restore_gives_each_vm_its_ports_on_the_recreated_network(
    cloud: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud.neutron.taken_ips.add(("new-net", "10.0.0.6"))  # taken by something else meanwhile
    out = run(
        monkeypatch,
        "oneclick",
        [vm("a", "10.0.0.5", "fa:16:3e:00:00:0a"), vm("b", "10.0.0.6", "fa:16:3e:00:00:0b")],
    )
    by_vm = {i["source_vm_id"]: i for i in out["instances"]}
    assert by_vm["a"]["ports"][0]["fixed_ips"] == [{"subnet_id": "new-sub", "ip_address": "10.0.0.5"}]
    assert by_vm["a"]["ports"][0]["ip_kept"] and by_vm["a"]["ports"][0]["mac_address"] == "fa:16:3e:00:00:0a"
    assert not by_vm["b"]["ports"][0]["ip_kept"] and by_vm["b"]["ports"][0]["mac_kept"]
    assert "IP 10.0.0.6 is taken on network private" in out["warning_msg"]
    assert by_vm["a"]["server_group"] == by_vm["b"]["server_group"] == "new-group"
    cloud.nova.create_server_group.assert_called_once()
    for call in cloud.nova.create_server.call_args_list:
        assert call.kwargs["server_group_id"] == "new-group" and len(call.kwargs["port_ids"]) == 1
    assert by_vm["a"]["networks"][NET_ID]["action"] == "created"


def test_a_failed_vm_removes_the_ports_and_the_network(cloud: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    cloud.nova.wait_server.side_effect = RuntimeError("no valid host was found")
    with pytest.raises(RuntimeError, match="no valid host"):
        run(monkeypatch, "oneclick", [vm("a", "10.0.0.5", "fa:16:3e:00:00:0a")])
    assert cloud.neutron.deleted == ["port-1", "new-net"]
    cloud.nova.delete_server.assert_called_once()
    cloud.nova.delete_server_group.assert_called_once_with("new-group")


def test_the_restore_types_without_vms_restore_no_vm(cloud: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    cloud.neutron.find_router = lambda ref: None  # type: ignore[attr-defined]
    out = run(monkeypatch, "network-topology", [vm("a", "10.0.0.5", "fa:16:3e:00:00:0a")])
    assert out["instances"] == [] and "network private created (new-net)" in out["progress_msg"]
    cloud.nova.create_server.assert_not_called()
    cloud.neutron.security_groups = lambda names, project: []  # type: ignore[attr-defined]
    out = run(monkeypatch, "security-groups", [vm("a", "10.0.0.5", "fa:16:3e:00:00:0a")])
    assert out["instances"] == [] and "no security group" in out["progress_msg"]


def test_a_restore_of_vms_brings_back_their_networks_not_the_projects_others() -> None:
    from t4o.workloads.flows import topology

    other = {"id": "other-net", "name": "unused"}
    topo = {
        "networks": [*TOPOLOGY["networks"], other],
        "subnets": [
            *TOPOLOGY["subnets"],
            {"id": "other-sub", "network_id": "other-net", "cidr": "10.9.0.0/24"},
        ],
        "routers": [
            {"id": "r1", "name": "edge", "interfaces": [{"subnet_id": SUB_ID}, {"subnet_id": "other-sub"}]},
            {"id": "r2", "name": "lab", "interfaces": [{"subnet_id": "other-sub"}]},
            {"id": "r3", "name": "bare", "interfaces": []},
        ],
    }
    used = topology.port_networks([("vm", vm("a", "10.0.0.5", "fa:16:3e:00:00:01").definition)])
    part = topology.of_ports(topo, used)
    assert [n["id"] for n in part["networks"]] == [NET_ID]
    assert [s["id"] for s in part["subnets"]] == [SUB_ID]
    assert [r["id"] for r in part["routers"]] == ["r1"]
    # records without ports (older snapshots) keep the whole topology
    assert topology.of_ports(topo, {}) is topo
