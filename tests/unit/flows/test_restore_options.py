"""Restore options: which VMs a restore takes, and the checks of a network mapping."""

from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

import pytest

from t4o.common import errors
from t4o.openstack.neutron import Networking
from t4o.workloads.flows import topology
from t4o.workloads.flows.restore import _chosen

VMS = [SimpleNamespace(vm_id="a"), SimpleNamespace(vm_id="b")]


def test_all_vms_without_a_list_and_only_included_ones_with_it() -> None:
    assert _chosen(VMS, {}, False) == VMS
    opts = {"openstack": {"instances": [{"id": "a", "include": False}, {"id": "b"}]}}
    assert [v.vm_id for v in _chosen(VMS, opts, True)] == ["b"]


def test_a_vm_not_in_the_snapshot_is_a_clear_error() -> None:
    with pytest.raises(errors.BadRequest, match="VM\\(s\\) zz are not in the snapshot"):
        _chosen(VMS, {"openstack": {"instances": [{"id": "zz"}]}}, True)


def mapping(src: str, dst: str) -> dict:
    return {
        "networks_mapping": {"networks": [{"snapshot_network": {"id": src}, "target_network": {"id": dst}}]}
    }


def test_mapping_to_an_existing_network_keeps_ips_on_its_subnets_of_the_same_cidr() -> None:
    conn = mock.Mock()
    conn.network.find_network.return_value = SimpleNamespace(id="n2", name="two")
    conn.network.subnets.return_value = [
        SimpleNamespace(id="t1", cidr="10.0.0.0/24"),
        SimpleNamespace(id="t2", cidr="10.9.0.0/24"),
    ]
    topo = {
        "networks": [{"id": "n1"}],
        "subnets": [
            {"id": "s1", "network_id": "n1", "cidr": "10.0.0.0/24"},
            {"id": "s2", "network_id": "n1", "cidr": "192.168.0.0/24"},
        ],
    }
    out = topology.mapped(Networking(conn), topo, mapping("n1", "n2"))
    assert out == {
        "n1": {"id": "n2", "name": "two", "subnet_id": None, "action": "mapped", "subnets": {"s1": "t1"}}
    }
    conn.network.subnets.assert_called_with(network_id="n2")
    chosen = mapping("n1", "n2")
    chosen["networks_mapping"]["networks"][0]["target_network"]["subnet"] = {"id": "t2"}
    out = topology.mapped(Networking(conn), topo, chosen)
    assert out["n1"]["subnet_id"] == "t2" and out["n1"]["subnets"] == {}


def test_a_mapped_subnet_must_be_on_the_target_network() -> None:
    conn = mock.Mock()
    conn.network.find_network.return_value = SimpleNamespace(id="n2", name="two")
    conn.network.subnets.return_value = [SimpleNamespace(id="t1", cidr="10.0.0.0/24")]
    chosen = mapping("n1", "n2")
    chosen["networks_mapping"]["networks"][0]["target_network"]["subnet"] = {"id": "elsewhere"}
    with pytest.raises(errors.BadRequest, match="target subnet elsewhere is not on target network n2"):
        topology.mapped(Networking(conn), {"networks": [{"id": "n1"}]}, chosen)


VM_ON_N1 = (
    "web",
    {"ports": [{"network_id": "n1"}], "topology": {"networks": [{"id": "n1", "name": "private"}]}},
)


def test_a_selective_restore_without_topology_needs_a_mapping_for_every_network_of_its_vms() -> None:
    with pytest.raises(errors.BadRequest) as caught:
        topology.check_mapping("selective", {"openstack": {"restore_topology": False}}, [VM_ON_N1])
    assert "network private (n1) of VM(s) web needs a mapping" in str(caught.value)
    assert "restore_topology" in str(caught.value)
    topology.check_mapping("selective", {"openstack": mapping("n1", "n2")}, [VM_ON_N1])
    topology.check_mapping("selective", {"openstack": {"restore_topology": True}}, [VM_ON_N1])
    topology.check_mapping("oneclick", {}, [VM_ON_N1])
    topology.check_mapping("selective", {}, [("old", {"topology": {}})])  # a record without ports


def test_a_selective_restore_with_topology_recreates_what_is_not_mapped() -> None:
    neutron = mock.Mock()
    neutron.find_network.side_effect = lambda ref: (
        SimpleNamespace(id="n2", name="two") if ref == "n2" else None
    )
    neutron.subnets_of.return_value = []
    neutron.create_network.return_value = SimpleNamespace(id="new", name="other")
    neutron.create_subnet.return_value = "new-sub"
    vm = ("web", {
        "ports": [{"network_id": "n1"}, {"network_id": "n3"}],
        "topology": {
            "networks": [{"id": "n1", "name": "private"}, {"id": "n3", "name": "other"}],
            "subnets": [{"id": "s3", "network_id": "n3", "cidr": "10.3.0.0/24"}],
        },
    })  # fmt: skip
    options = {"openstack": {**mapping("n1", "n2"), "restore_topology": True}}
    ledger = mock.Mock()
    out = topology.networks_for(neutron, "selective", options, [vm], ledger)
    assert out["n1"]["action"] == "mapped" and out["n1"]["id"] == "n2"
    assert out["n3"] == {"id": "new", "name": "other", "action": "created", "subnets": {"s3": "new-sub"}}
    neutron.create_network.assert_called_once_with("other", True)
    ledger.add.assert_called_once_with("network", "new")


def test_mapping_errors_name_the_network() -> None:
    conn = mock.Mock()
    conn.network.find_network.return_value = None
    with pytest.raises(errors.BadRequest, match="target network n2 of the network mapping does not exist"):
        topology.mapped(Networking(conn), {"networks": [{"id": "n1"}]}, mapping("n1", "n2"))
    conn.network.find_network.return_value = SimpleNamespace(id="n2", name="two")
    conn.network.subnets.return_value = []
    with pytest.raises(errors.BadRequest, match="network\\(s\\) n9 are not in the snapshot"):
        topology.mapped(Networking(conn), {"networks": [{"id": "n1"}]}, mapping("n9", "n2"))
    with pytest.raises(errors.BadRequest, match=r"need snapshot_network\.id"):
        topology.mapped(Networking(conn), {}, {"networks_mapping": {"networks": [{}]}})
