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


def test_mapping_to_an_existing_network() -> None:
    conn = mock.Mock()
    conn.network.find_network.return_value = SimpleNamespace(id="n2", name="two")
    out = topology.mapped(Networking(conn), {"networks": [{"id": "n1"}]}, mapping("n1", "n2"))
    assert out == {"n1": {"id": "n2", "name": "two", "subnet_id": None, "action": "mapped"}}


def test_mapping_errors_name_the_network() -> None:
    conn = mock.Mock()
    conn.network.find_network.return_value = None
    with pytest.raises(errors.BadRequest, match="target network n2 of the network mapping does not exist"):
        topology.mapped(Networking(conn), {"networks": [{"id": "n1"}]}, mapping("n1", "n2"))
    conn.network.find_network.return_value = SimpleNamespace(id="n2", name="two")
    with pytest.raises(errors.BadRequest, match="network\\(s\\) n9 are not in the snapshot"):
        topology.mapped(Networking(conn), {"networks": [{"id": "n1"}]}, mapping("n9", "n2"))
    with pytest.raises(errors.BadRequest, match=r"need snapshot_network\.id"):
        topology.mapped(Networking(conn), {}, {"networks_mapping": {"networks": [{}]}})
