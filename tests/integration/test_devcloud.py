"""devcloud is a real OpenStack: servers with disks, volumes as files, Neutron topology, isolation."""

from __future__ import annotations

import hashlib
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openstack.exceptions
import pytest
from openstack.connection import Connection

from tests.fixtures.devcloud import Devcloud

MIB = 1024 * 1024
IMAGE_MARK = b"\x5a" * MIB  # devcloud's image carries 0x5a in its first MiB


@dataclass
class DemoWorld:
    server_id: str
    volume_id: str
    network_id: str
    subnet_id: str
    router_id: str
    security_group_id: str


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_qcow2(path: Path, offset_mib: int, tmp: Path) -> bytes:
    """One MiB of a qcow2 disk's guest view (through its backing chain); -U: the domain may hold it."""
    out = tmp / f"read-{uuid.uuid4().hex}.raw"
    # A raw window (offset, size) over the qcow2 driver: QEMU reads exactly that MiB of the guest's disk.
    opts = f"driver=raw,offset={offset_mib * MIB},size={MIB},file.driver=qcow2,file.file.filename={path}"
    subprocess.run(["qemu-img", "convert", "-U", "--image-opts", opts, "-O", "raw", str(out)], check=True)
    return out.read_bytes()


@pytest.fixture(scope="module")
def demo(devcloud: Devcloud) -> Connection:
    return devcloud.connection("devcloud-demo")


@pytest.fixture(scope="module")
def world(devcloud: Devcloud, demo: Connection) -> Iterator[DemoWorld]:
    """As the demo user: a server with a 1 GiB volume attached, and a network topology."""
    tag = uuid.uuid4().hex[:8]
    flavor = demo.compute.find_flavor("devcloud.tiny", ignore_missing=False)
    image = demo.image.find_image("devcloud-tiny", ignore_missing=False)
    server = demo.compute.create_server(
        name=f"it-{tag}", flavor_id=flavor.id, image_id=image.id, networks="none"
    )
    volume = demo.block_storage.create_volume(name=f"it-{tag}", size=1)
    network = demo.network.create_network(name=f"it-{tag}")
    # Loopback range without DHCP: Neutron only stores it, nothing is configured on the machine.
    subnet = demo.network.create_subnet(
        name=f"it-{tag}", network_id=network.id, ip_version=4, cidr="127.77.0.0/24", is_dhcp_enabled=False
    )
    router = demo.network.create_router(name=f"it-{tag}")
    demo.network.add_interface_to_router(router, subnet=subnet.id)
    sg = demo.network.create_security_group(name=f"it-{tag}", description="devcloud integration test")
    for port in (22, 443):
        demo.network.create_security_group_rule(
            security_group_id=sg.id,
            direction="ingress",
            ethertype="IPv4",
            protocol="tcp",
            port_range_min=port,
            port_range_max=port,
            remote_ip_prefix="127.0.0.0/8",
        )
    demo.network.create_security_group_rule(
        security_group_id=sg.id, direction="ingress", ethertype="IPv4", protocol="icmp"
    )
    server = demo.compute.wait_for_server(server, status="ACTIVE", wait=300)
    volume = demo.block_storage.wait_for_status(volume, status="available", wait=120)
    demo.compute.create_volume_attachment(server, volume)
    demo.block_storage.wait_for_status(volume, status="in-use", wait=120)
    try:
        yield DemoWorld(server.id, volume.id, network.id, subnet.id, router.id, sg.id)
    finally:
        demo.compute.delete_server(server.id, ignore_missing=True)
        demo.compute.wait_for_delete(server, wait=120)
        demo.block_storage.wait_for_status(volume, status="available", wait=120)
        demo.block_storage.delete_volume(volume.id, ignore_missing=True)
        demo.network.remove_interface_from_router(router, subnet=subnet.id)
        demo.network.delete_router(router.id, ignore_missing=True)
        demo.network.delete_network(network.id, ignore_missing=True)
        demo.network.delete_security_group(sg.id, ignore_missing=True)


def test_clouds_yaml_and_catalog(devcloud: Devcloud) -> None:
    for cloud in ("devcloud-admin", "devcloud-demo", "devcloud-other"):
        conn = devcloud.connection(cloud)
        assert conn.authorize(), cloud
        assert devcloud.env(cloud) == {"OS_CLOUD": cloud, "OS_CLIENT_CONFIG_FILE": str(devcloud.clouds_yaml)}
    admin = devcloud.connection("devcloud-admin")
    services = {s.type: s.id for s in admin.identity.services()}
    expected = {
        "workloads": "http://127.0.0.1:8780/v1/%(project_id)s",
        "datamover": "http://127.0.0.1:8784/v2",
    }
    for stype, url in expected.items():
        urls = {e.url for e in admin.identity.endpoints(service_id=services[stype])}
        assert urls == {url}, stype
    for stype in ("identity", "compute", "image", "volumev3", "network", "placement"):
        assert stype in services
    t4o = admin.identity.find_user("t4o", domain_id="default", ignore_missing=False)
    service_project = admin.identity.find_project("service", domain_id="default", ignore_missing=False)
    roles = {
        a.role["id"]
        for a in admin.identity.role_assignments(user_id=t4o.id, scope_project_id=service_project.id)
    }
    assert admin.identity.find_role("admin", ignore_missing=False).id in roles


def test_server_disk_and_volume_hold_known_bytes(
    devcloud: Devcloud, demo: Connection, world: DemoWorld, tmp_path: Path
) -> None:
    disk = devcloud.instance_disk(world.server_id)
    volume_file = devcloud.volume_file(world.volume_id)
    assert disk.is_file(), "libvirt compute keeps the root disk as a file"
    assert volume_file.stat().st_size == 1024 * MIB
    # The root disk is a copy-on-write overlay of the Glance image: its first MiB is the image's.
    assert _read_qcow2(disk, 0, tmp_path) == IMAGE_MARK

    demo.compute.stop_server(world.server_id)
    demo.compute.wait_for_server(demo.compute.get_server(world.server_id), status="SHUTOFF", wait=120)

    pattern = 0xC4
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", f"write -P {pattern} 32M 1M", str(disk)], check=True)
    vol_bytes = os.urandom(MIB)
    with open(volume_file, "r+b") as f:
        f.seek(100 * MIB)
        f.write(vol_bytes)
        f.flush()
        os.fsync(f.fileno())

    demo.compute.start_server(world.server_id)
    demo.compute.wait_for_server(demo.compute.get_server(world.server_id), status="ACTIVE", wait=180)

    assert _sha256(_read_qcow2(disk, 32, tmp_path)) == _sha256(bytes([pattern]) * MIB)
    assert _sha256(_read_qcow2(disk, 0, tmp_path)) == _sha256(IMAGE_MARK)
    with open(volume_file, "rb") as f:
        f.seek(100 * MIB)
        assert _sha256(f.read(MIB)) == _sha256(vol_bytes)
    # The running domain sees exactly these files: its disks as libvirt reports them.
    blk = subprocess.run(
        ["virsh", "-c", devcloud.libvirt_uri, "domblklist", _instance_name(devcloud, world.server_id)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert str(disk) in blk
    attached = next(line.split()[1] for line in blk.splitlines() if line.strip().startswith("vdb"))
    with open(attached, "rb") as f:
        f.seek(100 * MIB)
        assert _sha256(f.read(MIB)) == _sha256(vol_bytes), "the attached path is the volume's file"


def _instance_name(devcloud: Devcloud, server_id: str) -> str:
    admin = devcloud.connection("devcloud-admin")
    return admin.compute.get_server(server_id).instance_name


def test_network_subnet_router_security_group(demo: Connection, world: DemoWorld) -> None:
    subnet = demo.network.get_subnet(world.subnet_id)
    assert subnet.network_id == world.network_id and subnet.cidr == "127.77.0.0/24"
    ports = list(demo.network.ports(device_id=world.router_id))
    assert [p.fixed_ips[0]["subnet_id"] for p in ports] == [world.subnet_id]
    rules = list(demo.network.security_group_rules(security_group_id=world.security_group_id))
    tcp_ports = sorted(r.port_range_min for r in rules if r.protocol == "tcp")
    assert tcp_ports == [22, 443]
    assert any(r.protocol == "icmp" for r in rules)


def test_other_project_sees_nothing_of_demo(devcloud: Devcloud, world: DemoWorld) -> None:
    other = devcloud.connection("devcloud-other")
    assert world.server_id not in {s.id for s in other.compute.servers()}
    assert world.volume_id not in {v.id for v in other.block_storage.volumes()}
    assert world.network_id not in {n.id for n in other.network.networks()}
    assert world.router_id not in {r.id for r in other.network.routers()}
    assert world.security_group_id not in {g.id for g in other.network.security_groups()}
    for get, rid in (
        (other.compute.get_server, world.server_id),
        (other.block_storage.get_volume, world.volume_id),
        (other.network.get_network, world.network_id),
        (other.network.get_router, world.router_id),
        (other.network.get_security_group, world.security_group_id),
    ):
        with pytest.raises(openstack.exceptions.NotFoundException):
            get(rid)
