"""A one-click restore after the VM's flavor, image, keypair and security group were deleted, on devcloud.

A VM booted from its own image with a custom flavor, a keypair and a custom security group (one of its
rules refers to the group itself); the test writes known data into its disk and keeps a model of the
disk's bytes; snapshot; then the server, image, flavor, keypair and group are deleted. The one-click
restore must bring the VM back from the backup alone: ACTIVE, booting from a volume that holds the bytes
of the model, on a flavor of the same sizes, with the keypair's public key and the group's rules.

It runs in the admin project: re-creating a flavor takes Nova's flavor-manage right (admin by default)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from openstack.connection import Connection

from demo.guest import write_guest
from demo.services import T4OServices
from tests.fixtures.devcloud import Devcloud
from tests.integration.disk_model import DiskModel, disk_sha256
from tests.integration.test_snapshot_restore import domain_disk_path

MiB = 1 << 20
SIZES = {"vcpus": 1, "ram": 160, "disk": 1, "ephemeral": 0, "swap": 0}


def public_key() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def rules_of(conn: Connection, group_id: str) -> set[tuple[Any, ...]]:
    """A group's rules, comparable across groups (a remote group that is the group itself is 'self')."""
    return {
        (r.direction, r.ether_type, r.protocol, r.port_range_min, r.port_range_max, r.remote_ip_prefix,
         "self" if r.remote_group_id == group_id else r.remote_group_id)
        for r in conn.network.security_group_rules(security_group_id=group_id)
    }  # fmt: skip


class Leftovers:
    """What the test or the restore created, removed at the end whatever happened."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.servers: list[str] = []
        self.volumes: list[str] = []
        self.flavors: list[str] = []
        self.keypairs: list[str] = []
        self.groups: list[str] = []
        self.images: list[str] = []
        self.networks: list[str] = []

    def adopt(self, job: dict[str, Any]) -> None:
        for inst in job.get("instances") or []:
            self.servers.append(inst["id"])
            self.volumes.extend(v["id"] for v in inst.get("volumes") or [])
            for made in inst.get("created") or []:
                {"flavor": self.flavors, "keypair": self.keypairs, "security_group": self.groups}[
                    made["kind"]
                ].append(made["id"])

    def remove(self) -> None:
        c = self.conn
        for sid in self.servers:
            c.compute.delete_server(sid, ignore_missing=True)
        for sid in self.servers:
            with contextlib.suppress(Exception):
                c.compute.wait_for_delete(c.compute.get_server(sid), wait=120)
        for vid in self.volumes:
            with contextlib.suppress(Exception):
                c.block_storage.wait_for_status(c.block_storage.get_volume(vid), "available", wait=120)
            c.block_storage.delete_volume(vid, ignore_missing=True)
        for fid in self.flavors:
            c.compute.delete_flavor(fid, ignore_missing=True)
        for name in self.keypairs:
            c.compute.delete_keypair(name, ignore_missing=True)
        for nid in self.networks:
            for port in c.network.ports(network_id=nid):
                c.network.delete_port(port, ignore_missing=True)
            c.network.delete_network(nid, ignore_missing=True)
        for gid in self.groups:
            c.network.delete_security_group(gid, ignore_missing=True)
        for iid in self.images:
            c.image.delete_image(iid, ignore_missing=True)


@pytest.fixture
def leftovers(devcloud: Devcloud) -> Iterator[Leftovers]:
    left = Leftovers(devcloud.connection("devcloud-admin"))
    try:
        yield left
    finally:
        left.remove()


def test_one_click_restore_after_flavor_image_keypair_and_group_are_gone(
    devcloud: Devcloud, t4o_services: T4OServices, leftovers: Leftovers, tmp_path: Path
) -> None:
    conn = leftovers.conn
    tag = f"t4o-nosrc-{uuid.uuid4().hex[:6]}"

    def api(method: str, path: str, **kwargs: Any) -> Any:
        return t4o_services.request(method, path, conn.auth_token, conn.current_project_id, **kwargs)

    def wait(kind: str, job_id: str) -> dict[str, Any]:
        return t4o_services.wait_job(kind, job_id, conn.auth_token, conn.current_project_id)

    # the VM and everything it uses, its own
    base = conn.image.find_image("devcloud-tiny", ignore_missing=False)
    image = conn.image.create_image(
        name=tag, data=conn.image.download_image(base).content, disk_format=base.disk_format,
        container_format="bare", visibility="private", os_distro="cirros", wait=True, timeout=120,
    )  # fmt: skip
    leftovers.images.append(image.id)
    flavor = conn.compute.create_flavor(name=tag, is_public=True, **SIZES)
    leftovers.flavors.append(flavor.id)
    key = public_key()
    conn.compute.create_keypair(name=tag, public_key=key)
    leftovers.keypairs.append(tag)
    group = conn.network.create_security_group(name=tag, description="restore test")
    leftovers.groups.append(group.id)
    for rule in (
        {"protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "10.0.0.0/8"},
        {"protocol": "icmp", "remote_ip_prefix": "0.0.0.0/0"},
        {"protocol": "tcp", "port_range_min": 80, "port_range_max": 80, "remote_group_id": group.id},
    ):
        conn.network.create_security_group_rule(security_group_id=group.id, direction="ingress", **rule)
    rules = rules_of(conn, group.id)
    # the server's port carries the group (a server's groups are its ports' groups)
    net = conn.network.create_network(name=tag)
    leftovers.networks.append(net.id)
    conn.network.create_subnet(network_id=net.id, cidr="10.95.0.0/24", ip_version=4, name=tag)
    port = conn.network.create_port(network_id=net.id, security_group_ids=[group.id])
    srv = conn.compute.create_server(
        name=tag, flavor_id=flavor.id, image_id=image.id, key_name=tag, networks=[{"port": port.id}]
    )
    leftovers.servers.append(srv.id)
    conn.compute.wait_for_server(srv, wait=300)

    # known data in its disk, kept in the test's model
    model = DiskModel.of(domain_disk_path(devcloud, srv.id, "vda"), tmp_path)
    model.write(64 * MiB, write_guest(devcloud.libvirt_uri, srv.id, 64 * MiB, 8 * MiB, 0x5A))
    wl = api("POST", "/workloads", json={"workload": {"name": tag, "instances": [{"instance-id": srv.id}]}})[
        "workload"
    ]
    snap = api("POST", f"/workloads/{wl['id']}", params={"full": "1"}, json={"snapshot": {"name": tag}})
    job = wait("snapshot", snap["snapshot"]["id"])
    assert job["status"] == "available", job["error_msg"]
    expected = model.sha256()

    # the disaster: the VM and everything it used are gone
    conn.compute.delete_server(srv.id)
    conn.compute.wait_for_delete(srv, wait=120)
    conn.network.delete_port(port.id, ignore_missing=True)
    conn.image.delete_image(image.id)
    conn.compute.delete_flavor(flavor.id)
    conn.compute.delete_keypair(tag)
    conn.network.delete_security_group(group.id)

    restore = api(
        "POST", f"/snapshots/{job['id']}", json={"restore": {"options": {"restore_type": "oneclick"}}}
    )
    job = wait("restore", restore["restore"]["id"])
    leftovers.adopt(job)
    assert job["status"] == "available", job["error_msg"]
    (inst,) = job["instances"]
    assert sorted(c["kind"] for c in inst["created"]) == ["flavor", "keypair", "security_group"]
    assert inst["boot"]["source"] == "volume"

    restored = conn.compute.get_server(inst["id"])
    assert restored.status == "ACTIVE"
    assert not (restored.image or {}).get("id")  # booted from the restored volume
    assert {k: restored.flavor[k] for k in ("vcpus", "ram", "disk")} == {
        k: SIZES[k] for k in ("vcpus", "ram", "disk")
    }
    new_flavor = conn.compute.get_flavor(inst["flavor_id"])
    assert (new_flavor.vcpus, new_flavor.ram, new_flavor.disk) == (1, 160, 1)
    assert conn.compute.get_keypair(tag).public_key == key and restored.key_name == tag
    (new_group,) = list(conn.network.security_groups(name=tag, project_id=conn.current_project_id))
    assert new_group.id != group.id and rules_of(conn, new_group.id) == rules
    assert inst["security_groups"] == [new_group.id]
    (new_port,) = list(conn.network.ports(device_id=inst["id"]))
    assert new_port.security_group_ids == [new_group.id] and new_port.status == "ACTIVE"
    got = disk_sha256(domain_disk_path(devcloud, inst["id"], inst["disks"][0]["target"]), tmp_path)
    assert got == expected, "the restored root disk does not hold the bytes the VM's disk held"
