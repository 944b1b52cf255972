"""The restores without VMs: ``security-groups`` reuses a group of the same name and rules and creates
the others with their rules (a remote group mapped to its restored counterpart); ``network-topology``
re-creates the missing networks, subnets, routers and interfaces. Neutron is mocked."""

from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

from t4o.workloads.flows import restore_types
from t4o.workloads.flows.ledger import Ledger

EGRESS = {"direction": "egress", "ethertype": "IPv4", "protocol": None, "remote_group_id": None}


def group(gid: str, name: str, *rules: dict) -> dict:
    return {"id": gid, "name": name, "description": "", "security_group_rules": list(rules)}


WEB = group(
    "src-web",
    "web",
    EGRESS,
    {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 80,
     "port_range_max": 80, "remote_ip_prefix": "0.0.0.0/0"},
    {"direction": "ingress", "ethertype": "IPv4", "protocol": None, "remote_group_id": "src-web"},
)  # fmt: skip
DB = group(
    "src-db",
    "db",
    {"direction": "ingress", "ether_type": "IPv4", "protocol": "tcp", "port_range_min": 5432,
     "port_range_max": 5432, "remote_group_id": "src-web"},
)  # fmt: skip


def test_a_group_of_the_same_name_and_rules_is_reused_the_others_are_created_with_their_rules() -> None:
    neutron = mock.Mock()
    same_web = {**WEB, "id": "live-web", "security_group_rules": [
        {**r, "id": f"r{i}", "remote_group_id": "live-web" if r.get("remote_group_id") else None}
        for i, r in enumerate(WEB["security_group_rules"])
    ]}  # fmt: skip
    db_other_rules = group("live-db", "db", EGRESS)
    neutron.security_groups.return_value = [same_web, db_other_rules]
    neutron.create_security_group.return_value = "new-db"
    ledger = Ledger(mock.Mock())
    said = restore_types.security_groups(neutron, ledger, "proj", [{"security_groups": [WEB, DB]}, {}])
    neutron.security_groups.assert_called_once_with(frozenset({"web", "db"}), "proj")
    neutron.create_security_group.assert_called_once_with("db", "")
    neutron.add_security_group_rule.assert_called_once_with(
        "new-db",
        {"direction": "ingress", "ether_type": "IPv4", "protocol": "tcp", "port_range_min": 5432,
         "port_range_max": 5432, "remote_group_id": "live-web"},
    )  # fmt: skip
    assert ledger.items == [("security_group", "new-db")]
    assert said == "Restored 2 security group(s): web reused (live-web); db created (new-db)"


def test_a_group_is_created_when_its_rules_differ_and_gets_them_all() -> None:
    neutron = mock.Mock()
    neutron.security_groups.return_value = [group("live-web", "web", EGRESS)]
    neutron.create_security_group.return_value = "new-web"
    ledger = Ledger(mock.Mock())
    restore_types.security_groups(neutron, ledger, "proj", [{"security_groups": [WEB]}])
    rules = [c.args[1] for c in neutron.add_security_group_rule.call_args_list]
    assert len(rules) == 3 and rules[2]["remote_group_id"] == "new-web"


def test_nothing_recorded_is_said_so() -> None:
    neutron = mock.Mock()
    assert "no security group" in restore_types.security_groups(neutron, Ledger(mock.Mock()), "p", [{}])
    assert "no network" in restore_types.network_topology(neutron, Ledger(mock.Mock()), [{}])
    neutron.create_security_group.assert_not_called()


def test_the_network_topology_is_recreated_with_its_router_and_interfaces() -> None:
    neutron = mock.Mock()
    neutron.find_network.return_value = None
    neutron.find_router.return_value = None
    neutron.create_network.return_value = SimpleNamespace(id="new-net", name="private")
    neutron.create_subnet.return_value = "new-sub"
    neutron.create_router.return_value = "new-router"
    neutron.router_subnet_ids.return_value = set()
    topo = {
        "networks": [{"id": "n1", "name": "private"}],
        "subnets": [{"id": "s1", "network_id": "n1", "name": "private-sub", "cidr": "10.0.0.0/24",
                     "ip_version": 4, "gateway_ip": "10.0.0.1", "is_dhcp_enabled": True}],
        "routers": [{"id": "r1", "name": "edge", "external_gateway_info": {"network_id": "ext"},
                     "interfaces": [{"subnet_id": "s1", "ip_address": "10.0.0.1"}]}],
    }  # fmt: skip
    ledger = Ledger(mock.Mock())
    said = restore_types.network_topology(neutron, ledger, [{"topology": topo}, {"topology": topo}])
    neutron.create_network.assert_called_once_with("private", True)
    neutron.create_subnet.assert_called_once_with(
        "new-net", "private-sub", cidr="10.0.0.0/24", ip_version=4, gateway_ip="10.0.0.1", enable_dhcp=True
    )
    neutron.create_router.assert_called_once_with("edge", None)  # the external network is gone too
    neutron.add_router_interface.assert_called_once_with("new-router", "new-sub")
    assert ledger.items == [("network", "new-net"), ("router", "new-router")]
    assert "network private created (new-net)" in said and "router edge created" in said


def test_the_default_group_is_never_created_it_gets_the_rules_it_lacks() -> None:
    neutron = mock.Mock()
    ssh = {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 22,
           "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"}  # fmt: skip
    neutron.security_groups.return_value = [group("live-default", "default", EGRESS)]
    ledger = Ledger(mock.Mock())
    said = restore_types.security_groups(
        neutron, ledger, "proj", [{"security_groups": [group("src-default", "default", EGRESS, ssh)]}]
    )
    neutron.create_security_group.assert_not_called()
    neutron.add_security_group_rule.assert_called_once_with(
        "live-default",
        {"direction": "ingress", "ether_type": "IPv4", "protocol": "tcp", "port_range_min": 22,
         "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"},
    )  # fmt: skip
    assert ledger.items == [] and "default reused (live-default, missing rules added)" in said
