"""The Neutron and Nova calls a restore makes for NICs and server groups, as openstacksdk receives them
(the SDK's proxies are mocked)."""

from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

import pytest
from openstack import exceptions as sdk_exc

from t4o.openstack import neutron, nova


def test_a_server_on_ports_gets_them_in_order_and_its_group_as_a_scheduler_hint() -> None:
    conn = mock.Mock()
    conn.compute.create_server.return_value = SimpleNamespace(id="new")
    compute = nova.Compute(conn)
    got = compute.create_server(
        "web", "f1", "img", port_ids=["p1", "p2"], server_group_id="g1", security_groups=["sg"]
    )
    assert got == "new"
    # Nova applies security groups only to ports it creates: the given ports carry theirs.
    conn.compute.create_server.assert_called_once_with(
        name="web",
        flavor_id="f1",
        image_id="img",
        networks=[{"port": "p1"}, {"port": "p2"}],
        scheduler_hints={"group": "g1"},
    )


def test_a_server_without_ports_still_has_no_nics_and_its_groups_by_name() -> None:
    conn = mock.Mock()
    conn.compute.create_server.return_value = SimpleNamespace(id="new")
    nova.Compute(conn).create_server(
        "web", "f1", "img", port_ids=None, server_group_id=None, security_groups=["sg"]
    )
    conn.compute.create_server.assert_called_once_with(
        name="web", flavor_id="f1", image_id="img", networks="none", security_groups=[{"name": "sg"}]
    )


def test_server_groups_found_by_id_then_name_created_with_their_policy() -> None:
    conn = mock.Mock()
    groups = [SimpleNamespace(id="a", name="ha"), SimpleNamespace(id="b", name="a")]
    conn.compute.server_groups.side_effect = lambda: iter(groups)
    compute = nova.Compute(conn)
    assert compute.server_group_id("a") == "a" and compute.server_group_id("ha") == "a"
    assert compute.server_group_id("gone") is None
    conn.compute.create_server_group.return_value = SimpleNamespace(id="new")
    assert compute.create_server_group("ha", "anti-affinity", {"max_server_per_host": 2}) == "new"
    conn.compute.create_server_group.assert_called_with(
        name="ha", policy="anti-affinity", rules={"max_server_per_host": 2}
    )
    compute.create_server_group("ha", "affinity")
    conn.compute.create_server_group.assert_called_with(name="ha", policy="affinity")
    compute.delete_server_group("new")
    conn.compute.delete_server_group.assert_called_once_with("new", ignore_missing=True)


def test_a_port_is_created_with_its_addresses_groups_and_pairs() -> None:
    conn = mock.Mock()
    conn.network.create_port.return_value = SimpleNamespace(
        id="p1",
        network_id="n1",
        fixed_ips=[{"subnet_id": "s1", "ip_address": "10.0.0.5"}],
        mac_address="fa:16",
    )
    net = neutron.Networking(conn)
    made = net.create_port(
        "n1",
        name="eth0",
        description=None,
        fixed_ips=[{"subnet_id": "s1", "ip_address": "10.0.0.5"}],
        mac_address="fa:16",
        security_groups=["sg1"],
        allowed_address_pairs=[{"ip_address": "10.0.0.200"}],
        port_security_enabled=True,
    )
    conn.network.create_port.assert_called_once_with(
        network_id="n1",
        name="eth0",
        fixed_ips=[{"subnet_id": "s1", "ip_address": "10.0.0.5"}],
        mac_address="fa:16",
        security_groups=["sg1"],
        allowed_address_pairs=[{"ip_address": "10.0.0.200"}],
        port_security_enabled=True,
    )
    assert made == {
        "id": "p1",
        "network_id": "n1",
        "fixed_ips": [{"subnet_id": "s1", "ip_address": "10.0.0.5"}],
        "mac_address": "fa:16",
    }


def test_a_taken_address_is_address_in_use_and_lookups_filter_by_network() -> None:
    conn = mock.Mock()
    conn.network.create_port.side_effect = sdk_exc.ConflictException("IP address 10.0.0.5 already allocated")
    net = neutron.Networking(conn)
    with pytest.raises(neutron.AddressRefused, match="already allocated"):
        net.create_port("n1", mac_address="fa:16")
    conn.network.ports.return_value = iter([SimpleNamespace(id="x")])
    assert net.ip_in_use("n1", "10.0.0.5")
    conn.network.ports.assert_called_with(network_id="n1", fixed_ips=["ip_address=10.0.0.5"])
    conn.network.ports.return_value = iter([])
    assert not net.mac_in_use("n1", "fa:16")
    conn.network.ports.assert_called_with(network_id="n1", mac_address="fa:16")


def test_a_router_is_recreated_on_its_external_network() -> None:
    conn = mock.Mock()
    conn.network.create_router.return_value = SimpleNamespace(id="r1")
    net = neutron.Networking(conn)
    assert net.create_router("edge", "ext") == "r1"
    conn.network.create_router.assert_called_with(name="edge", external_gateway_info={"network_id": "ext"})
    net.create_router("inner")
    conn.network.create_router.assert_called_with(name="inner")
