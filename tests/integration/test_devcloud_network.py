"""devcloud binds Neutron ports: OVN on Open vSwitch's userspace datapath wires libvirt guests into br-int."""

from __future__ import annotations

import hashlib
import os
import random
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from openstack.connection import Connection

from tests.fixtures.devcloud import Devcloud

COMPUTE_HOST = "devcloud"  # nova's [DEFAULT] host, and the OVN chassis name
NB_DB = "tcp:127.0.0.1:6641"
SB_DB = "tcp:127.0.0.1:6642"


def _run(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=60).stdout.strip()


def _vsctl(devcloud: Devcloud, *args: str) -> str:
    """ovs-vsctl against devcloud's own switch database (its unix socket)."""
    return _run("ovs-vsctl", f"--db=unix:{devcloud.state_dir / 'ovs-run' / 'db.sock'}", *args)


def _sb_port_chassis(port_id: str) -> str:
    """The chassis (its name) that OVN's southbound database binds a logical port to, or ''."""
    chassis_uuid = _run(
        "ovn-sbctl",
        f"--db={SB_DB}",
        "--bare",
        "--columns=chassis",
        "find",
        "Port_Binding",
        f"logical_port={port_id}",
    )
    if not chassis_uuid:
        return ""
    return _run("ovn-sbctl", f"--db={SB_DB}", "--bare", "--columns=name", "list", "Chassis", chassis_uuid)


def _sb_has_port(port_id: str) -> bool:
    out = _run(
        "ovn-sbctl",
        f"--db={SB_DB}",
        "--bare",
        "--columns=_uuid",
        "find",
        "Port_Binding",
        f"logical_port={port_id}",
    )
    return bool(out)


def _tap(port_id: str) -> str:
    return f"tap{port_id[:11]}"


@dataclass
class TenantNet:
    network_id: str
    subnet_id: str


@pytest.fixture(scope="module")
def demo(devcloud: Devcloud) -> Connection:
    return devcloud.connection("devcloud-demo")


@pytest.fixture(scope="module")
def admin(devcloud: Devcloud) -> Connection:
    return devcloud.connection("devcloud-admin")


@pytest.fixture
def tenant_net(demo: Connection) -> Iterator[TenantNet]:
    """A Geneve tenant network of project demo with a DHCP subnet (OVN's native DHCP), deleted after."""
    tag = uuid.uuid4().hex[:8]
    network = demo.network.create_network(name=f"it-net-{tag}")
    try:
        subnet = demo.network.create_subnet(
            name=f"it-net-{tag}",
            network_id=network.id,
            ip_version=4,
            cidr="10.77.0.0/24",
            is_dhcp_enabled=True,
        )
        yield TenantNet(network.id, subnet.id)
    finally:
        for port in demo.network.ports(network_id=network.id):
            demo.network.delete_port(port.id, ignore_missing=True)
        demo.network.delete_network(network.id, ignore_missing=True)


def _boot(demo: Connection, name: str, networks: list[dict[str, str]]) -> str:
    flavor = demo.compute.find_flavor("devcloud.tiny", ignore_missing=False)
    image = demo.image.find_image("devcloud-tiny", ignore_missing=False)
    server = demo.compute.create_server(name=name, flavor_id=flavor.id, image_id=image.id, networks=networks)
    return str(server.id)


def _delete_server(demo: Connection, server_id: str) -> None:
    server = demo.compute.get_server(server_id)
    demo.compute.delete_server(server_id, ignore_missing=True)
    demo.compute.wait_for_delete(server, wait=180)


def test_server_on_precreated_port_is_bound_in_br_int(
    devcloud: Devcloud, demo: Connection, admin: Connection, tenant_net: TenantNet
) -> None:
    mac = "fa:16:3e:" + ":".join(f"{random.randrange(256):02x}" for _ in range(3))
    ip = "10.77.0.23"
    port = demo.network.create_port(
        network_id=tenant_net.network_id,
        fixed_ips=[{"subnet_id": tenant_net.subnet_id, "ip_address": ip}],
        mac_address=mac,
        name=f"it-port-{uuid.uuid4().hex[:6]}",
    )
    # OVN's native DHCP serves the subnet: its options are in the northbound database.
    cidrs = _run("ovn-nbctl", f"--db={NB_DB}", "--bare", "--columns=cidr", "list", "DHCP_Options").split()
    assert "10.77.0.0/24" in cidrs
    server_id = _boot(demo, f"it-net-{uuid.uuid4().hex[:6]}", [{"port": port.id}])
    deleted = False
    try:
        server = demo.compute.wait_for_server(demo.compute.get_server(server_id), status="ACTIVE", wait=300)
        bound = admin.network.get_port(port.id)
        assert bound.status == "ACTIVE"
        assert bound.binding_vif_type == "ovs"
        assert bound.binding_host_id == COMPUTE_HOST
        assert bound.binding_vif_details.get("datapath_type") == "netdev"
        assert bound.binding_vif_details.get("bridge_name") == "br-int"
        assert bound.device_id == server.id
        assert bound.mac_address == mac
        assert bound.fixed_ips == [{"subnet_id": tenant_net.subnet_id, "ip_address": ip}]
        addresses = [a["addr"] for nets in server.addresses.values() for a in nets]
        assert addresses == [ip]

        tap = _tap(port.id)
        assert tap in _vsctl(devcloud, "list-ports", "br-int").split()
        assert _vsctl(devcloud, "get", "Interface", tap, "external_ids:iface-id").strip('"') == port.id
        assert int(_vsctl(devcloud, "get", "Interface", tap, "ofport")) > 0, "OVS opened the guest's tap"
        assert _vsctl(devcloud, "get", "Bridge", "br-int", "datapath_type") == "netdev"
        assert _sb_port_chassis(port.id) == COMPUTE_HOST
        # The running guest's NIC is that tap.
        instance = admin.compute.get_server(server.id).instance_name
        assert tap in _run("virsh", "-c", devcloud.libvirt_uri, "domiflist", instance)

        _delete_server(demo, server.id)
        deleted = True
        # A port made before the server outlives it, unbound and out of the switch.
        after = admin.network.get_port(port.id)
        assert after.device_id == ""
        assert after.binding_host_id == ""
        assert after.binding_vif_type == "unbound"
        assert after.status == "DOWN"
        assert tap not in _vsctl(devcloud, "list-ports", "br-int").split()
        assert _sb_port_chassis(port.id) == ""
        demo.network.delete_port(port.id)
        assert not _sb_has_port(port.id)
    finally:
        if not deleted:
            _delete_server(demo, server_id)


def test_server_on_seeded_demo_net_gets_an_address(
    devcloud: Devcloud, demo: Connection, admin: Connection
) -> None:
    net = demo.network.find_network("demo-net", ignore_missing=False)
    (subnet,) = list(demo.network.subnets(network_id=net.id))
    assert subnet.cidr == "10.0.0.0/24" and subnet.is_dhcp_enabled
    router = demo.network.find_router("demo-router", ignore_missing=False)
    assert [p.fixed_ips[0]["ip_address"] for p in demo.network.ports(device_id=router.id)] == ["10.0.0.1"]
    assert admin.network.get_network(net.id).provider_network_type == "geneve"

    server_id = _boot(demo, f"it-demo-net-{uuid.uuid4().hex[:6]}", [{"uuid": net.id}])
    try:
        server = demo.compute.wait_for_server(demo.compute.get_server(server_id), status="ACTIVE", wait=300)
        (port,) = list(admin.network.ports(device_id=server.id))
        assert port.status == "ACTIVE" and port.binding_vif_type == "ovs"
        (fixed,) = port.fixed_ips
        assert fixed["ip_address"].startswith("10.0.0.")
        assert _sb_port_chassis(port.id) == COMPUTE_HOST
        assert _tap(port.id) in _vsctl(devcloud, "list-ports", "br-int").split()
    finally:
        _delete_server(demo, server_id)
    # Nova deletes the port it created for the server.
    assert not list(admin.network.ports(device_id=server_id))


@dataclass
class StandIn:
    """A guest stand-in: a network namespace on a veth whose host end is in br-int as a Neutron port."""

    netns: str
    port_id: str
    ip: str


@contextmanager
def _stand_in(devcloud: Devcloud, demo: Connection, network_id: str) -> Iterator[StandIn]:
    tag = uuid.uuid4().hex[:8]
    port = demo.network.create_port(network_id=network_id, name=f"it-standin-{tag}")
    netns, host_if, guest_if = f"it-{tag}", f"ith{tag}", f"itg{tag}"
    try:
        _run("ip", "netns", "add", netns)
        _run("ip", "link", "add", host_if, "type", "veth", "peer", "name", guest_if)
        _run("ip", "link", "set", guest_if, "netns", netns)
        _run("ip", "-n", netns, "link", "set", guest_if, "address", port.mac_address, "name", "eth0")
        _run("ip", "-n", netns, "link", "set", "eth0", "up")
        _run("ip", "-n", netns, "link", "set", "lo", "up")
        _run("ip", "link", "set", host_if, "up")
        _vsctl(
            devcloud,
            "add-port",
            "br-int",
            host_if,
            "--",
            "set",
            "Interface",
            host_if,
            f"external_ids:iface-id={port.id}",
        )
        deadline = time.monotonic() + 60
        while _sb_port_chassis(port.id) != COMPUTE_HOST and time.monotonic() < deadline:
            time.sleep(1)
        yield StandIn(netns, port.id, port.fixed_ips[0]["ip_address"])
    finally:
        pids = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True).stdout.split()
        for pid in pids:
            subprocess.run(["kill", pid], capture_output=True)
        subprocess.run(
            [
                "ovs-vsctl",
                f"--db=unix:{devcloud.state_dir / 'ovs-run' / 'db.sock'}",
                "--if-exists",
                "del-port",
                "br-int",
                host_if,
            ],
            capture_output=True,
        )
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", netns], capture_output=True)
        demo.network.delete_port(port.id, ignore_missing=True)


def _dhcp(guest: StandIn) -> str:
    """The address OVN's DHCP leases to the stand-in (busybox udhcpc), which the stand-in then takes."""
    out = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            guest.netns,
            "busybox",
            "udhcpc",
            "-i",
            "eth0",
            "-n",
            "-q",
            "-t",
            "10",
            "-s",
            "/bin/true",
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    leased = re.search(r"lease of (\S+) obtained from (\S+)", out.stdout + out.stderr)
    assert leased, f"no DHCP lease: {out.stdout}{out.stderr}"
    _run("ip", "-n", guest.netns, "addr", "add", f"{leased.group(1)}/24", "dev", "eth0")
    return leased.group(1)


def test_dhcp_ping_and_tcp_on_the_userspace_datapath(
    devcloud: Devcloud, demo: Connection, tmp_path: Path
) -> None:
    """Packets really flow through br-int: OVN's DHCP leases each port its Neutron address, the router
    answers a ping, and a TCP transfer between two ports arrives intact (userspace TSO)."""
    net = demo.network.find_network("demo-net", ignore_missing=False)
    blob = os.urandom(2 * 1024 * 1024)
    (tmp_path / "blob").write_bytes(blob)
    with _stand_in(devcloud, demo, net.id) as server, _stand_in(devcloud, demo, net.id) as client:
        assert _dhcp(server) == server.ip
        assert _dhcp(client) == client.ip
        ping = _run("ip", "netns", "exec", client.netns, "busybox", "ping", "-c", "2", "-W", "3", "10.0.0.1")
        assert "2 packets received" in ping
        _run("ip", "netns", "exec", server.netns, "busybox", "httpd", "-p", "8080", "-h", str(tmp_path))
        got = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                client.netns,
                "busybox",
                "wget",
                "-q",
                "-O",
                "-",
                f"http://{server.ip}:8080/blob",
            ],
            capture_output=True,
            timeout=60,
        )
        assert hashlib.sha256(got.stdout).hexdigest() == hashlib.sha256(blob).hexdigest()
