"""Snapshots and restores of real devcloud VMs through the separate T4O services.

A workload of two VMs (the second with an attached Cinder volume): full snapshot, data changed in
both, incremental snapshot (reads and stores about the changed amount only), one-click restores of the
full and of the incremental, a selective restore into a second network, and an in-place restore. Every
restored disk's bytes are compared with the test's own model of what its source disk held when the
snapshot ran (the bytes before the test wrote, and the test's writes), never with the product's reading."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from openstack.connection import Connection

from demo.guest import write_guest
from demo.services import T4OServices
from tests.fixtures.devcloud import Devcloud
from tests.integration.disk_model import DiskModel, disk_sha256

MiB = 1 << 20
DiskKey = tuple[str, str]  # (server id, target) of a source disk


@dataclass
class World:
    conn: Connection
    token: str
    project: str
    servers: list[str]
    volume: str
    networks: dict[str, str]
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)
    created_servers: list[str] = field(default_factory=list)
    created_volumes: list[str] = field(default_factory=list)

    def adopt(self, job: dict[str, Any]) -> None:
        """Remember what a restore created, for the teardown."""
        for inst in job.get("instances") or []:
            if inst["id"] not in self.servers:
                self.created_servers.append(inst["id"])
            self.created_volumes.extend(v["id"] for v in inst.get("volumes") or [])

    def discard(self) -> None:
        """Delete what restores created so far (devcloud has room for a few tiny VMs only)."""
        for sid in self.created_servers:
            self.conn.compute.delete_server(sid, ignore_missing=True)
        for sid in self.created_servers:
            with contextlib.suppress(Exception):
                self.conn.compute.wait_for_delete(self.conn.compute.get_server(sid), wait=120)
        for vid in self.created_volumes:
            with contextlib.suppress(Exception):
                self.conn.block_storage.wait_for_status(
                    self.conn.block_storage.get_volume(vid), "available", wait=120
                )
            self.conn.block_storage.delete_volume(vid, ignore_missing=True)
        self.created_servers.clear()
        self.created_volumes.clear()


def api(services: T4OServices, world: World, method: str, path: str, **kwargs: Any) -> Any:
    return services.request(method, path, world.token, world.project, **kwargs)


def domain_disk_path(devcloud: Devcloud, server_id: str, target: str) -> Path:
    import libvirt

    from t4o.datamover.disks.domain_xml import parse_disks

    conn = libvirt.open(devcloud.libvirt_uri)
    try:
        xml = conn.lookupByUUIDString(server_id).XMLDesc(0)
    finally:
        conn.close()
    return Path(next(d.source for d in parse_disks(xml) if d.target == target))


class Disks:
    """The test's models of the workload's disks, keyed by (server, target), and the writes into them."""

    def __init__(self, devcloud: Devcloud, tmp: Path, keys: list[DiskKey]) -> None:
        self.uri = devcloud.libvirt_uri
        self.now = {key: DiskModel.of(domain_disk_path(devcloud, *key), tmp) for key in keys}

    def write(self, server_id: str, offset: int, length: int, seed: int, dev: str = "vda") -> None:
        data = write_guest(self.uri, server_id, offset, length, seed, dev=dev)
        self.now[(server_id, dev)].write(offset, data)

    def at_snapshot(self) -> dict[DiskKey, str]:
        """sha256 of every disk's bytes as they are now: what a restore of a snapshot taken now gives."""
        return {key: model.sha256() for key, model in self.now.items()}


def assert_restored(
    devcloud: Devcloud, job: dict[str, Any], snap: dict[str, Any], expected: dict[DiskKey, str], tmp: Path
) -> None:
    """Every disk of the restored VMs holds the bytes its source disk held at the snapshot, read with
    qemu-img and compared with the test's model; no disk of a restored VM is left out."""
    source_target = {d["ref"]: (i["id"], d["target"]) for i in snap["instances"] for d in i["vdisks"]}
    for inst in job["instances"]:
        restored = {source_target[d["ref"]]: d["target"] for d in inst["disks"]}
        source_vm = inst.get("source_vm_id") or inst["id"]
        assert sorted(restored) == sorted(k for k in expected if k[0] == source_vm), (restored, inst)
        for key, target in restored.items():
            got = disk_sha256(domain_disk_path(devcloud, inst["id"], target), tmp)
            assert got == expected[key], f"{inst['id']}'s {target} is not {key} at the snapshot"


def run_snapshot(services: T4OServices, world: World, workload_id: str, full: bool) -> dict[str, Any]:
    snap = api(
        services, world, "POST", f"/workloads/{workload_id}",
        params={"full": "1"} if full else {}, json={"snapshot": {"name": "full" if full else "incr"}},
    )["snapshot"]  # fmt: skip
    job = services.wait_job("snapshot", snap["id"], world.token, world.project)
    assert job["status"] == "available", job
    return api(services, world, "GET", f"/snapshots/{snap['id']}")["snapshot"]


def run_restore(services: T4OServices, world: World, snapshot_id: str, options: dict[str, Any]) -> dict:
    restore = api(
        services, world, "POST", f"/snapshots/{snapshot_id}", json={"restore": {"options": options}}
    )["restore"]
    return services.wait_job("restore", restore["id"], world.token, world.project)


@pytest.fixture(scope="module")
def world(devcloud: Devcloud) -> Iterator[World]:
    conn = devcloud.connection("devcloud-demo")
    tag = uuid.uuid4().hex[:6]
    servers: list[str] = []
    networks: dict[str, str] = {}
    volume = None
    world = None
    try:
        for name, cidr in (("a", "10.71.1.0/24"), ("b", "10.71.2.0/24")):
            net = conn.network.create_network(name=f"t4o-it-{tag}-{name}")
            conn.network.create_subnet(
                network_id=net.id, cidr=cidr, ip_version=4, name=f"t4o-it-{tag}-{name}"
            )
            networks[name] = net.id
        flavor = conn.compute.find_flavor("devcloud.tiny", ignore_missing=False)
        image = conn.image.find_image("devcloud-tiny", ignore_missing=False)
        for i in range(2):
            srv = conn.compute.create_server(
                name=f"t4o-it-{tag}-vm{i}", flavor_id=flavor.id, image_id=image.id, networks="none"
            )
            servers.append(srv.id)
        for sid in servers:
            conn.compute.wait_for_server(conn.compute.get_server(sid), wait=300)
        vol = conn.block_storage.create_volume(size=1, name=f"t4o-it-{tag}-data")
        volume = vol.id
        conn.block_storage.wait_for_status(vol, "available", wait=120)
        conn.compute.create_volume_attachment(servers[1], volume_id=vol.id)
        conn.block_storage.wait_for_status(vol, "in-use", wait=120)
        world = World(conn, conn.auth_token, conn.current_project_id, servers, vol.id, networks)
        yield world
    finally:
        if world is not None:
            world.discard()
        for sid in servers:
            conn.compute.delete_server(sid, ignore_missing=True)
        for sid in servers:
            with contextlib.suppress(Exception):
                conn.compute.wait_for_delete(conn.compute.get_server(sid), wait=120)
        if volume:
            with contextlib.suppress(Exception):
                conn.block_storage.wait_for_status(
                    conn.block_storage.get_volume(volume), "available", wait=120
                )
            conn.block_storage.delete_volume(volume, ignore_missing=True)
        for nid in networks.values():
            conn.network.delete_network(nid, ignore_missing=True)


def test_full_and_incremental_then_restores(
    devcloud: Devcloud, t4o_services: T4OServices, world: World, tmp_path: Path
) -> None:
    vm0, vm1 = world.servers
    disks = Disks(devcloud, tmp_path, [(vm0, "vda"), (vm1, "vda"), (vm1, "vdb")])
    for sid, pattern in ((vm0, 0x11), (vm1, 0x22)):
        disks.write(sid, 64 * MiB, 32 * MiB, pattern)
    disks.write(vm1, 8 * MiB, 16 * MiB, 0x33, dev="vdb")
    wl = api(
        t4o_services, world, "POST", "/workloads",
        json={"workload": {"name": "it", "instances": [{"instance-id": s} for s in world.servers]}},
    )["workload"]  # fmt: skip

    full = run_snapshot(t4o_services, world, wl["id"], full=True)
    at_full = disks.at_snapshot()
    assert full["snapshot_type"] == "full"
    full_disks = [d for inst in full["instances"] for d in inst["vdisks"]]
    assert sorted(d["target"] for d in full_disks) == ["vda", "vda", "vdb"]
    assert full["uploaded_size"] >= 80 * MiB  # the patterns (deduplicated across VMs: different bytes)
    volume_disk = next(d for d in full_disks if d["target"] == "vdb")
    assert volume_disk["volume_id"] == world.volume

    for sid, pattern in ((vm0, 0x44), (vm1, 0x55)):
        disks.write(sid, 300 * MiB, 4 * MiB, pattern)
    disks.write(vm1, 100 * MiB, 4 * MiB, 0x66, dev="vdb")
    incr = run_snapshot(t4o_services, world, wl["id"], full=False)
    at_incr = disks.at_snapshot()
    assert incr["snapshot_type"] == "incremental", incr["warning_msg"]
    assert at_incr != at_full and len(set(at_incr.values())) == 3  # each write changed what a disk holds
    incr_disks = [d for inst in incr["instances"] for d in inst["vdisks"]]
    # only the dirty extents are read: qcow2 root disks from their checkpoint's bitmap, the raw volume
    # from QEMU's in-memory bitmap. 12 MiB changed in all.
    for d in incr_disks:
        assert d["incremental"] and d["read_bytes"] <= 6 * MiB, d
    assert incr["uploaded_size"] <= 16 * MiB, incr["uploaded_size"]

    # one-click restores of the full and of the incremental: every disk holds the snapshot's bytes
    for snap, expected in ((full, at_full), (incr, at_incr)):
        job = run_restore(t4o_services, world, snap["id"], {"restore_type": "oneclick"})
        assert job["status"] == "available", job["error_msg"]
        world.adopt(job)
        assert len(job["instances"]) == 2
        for inst in job["instances"]:
            recorded = {
                d["target"]: d
                for i in snap["instances"] if i["id"] == inst["source_vm_id"] for d in i["vdisks"]
            }  # fmt: skip
            for disk in inst["disks"]:
                assert disk["verified"] and disk["restored_checksum"] == disk["expected_checksum"]
                assert disk["expected_checksum"] == recorded[disk["target"]]["checksum"]
        assert_restored(devcloud, job, snap, expected, tmp_path)
        # The agent powered each new server's domain off for its disks and started it again before Nova
        # acted on it: Nova never stopped or started the server, which is running.
        for inst in job["instances"]:
            actions = [a.action for a in world.conn.compute.server_actions(inst["id"])]
            assert "stop" not in actions and "start" not in actions, actions
            server = world.conn.compute.get_server(inst["id"])
            assert (server.status, server.power_state) == ("ACTIVE", 1), server
        world.discard()

    # selective restore of VM 1 into network b under a new name
    mapping = {"snapshot_network": {"id": world.networks["a"]}, "target_network": {"id": world.networks["b"]}}
    job = run_restore(
        t4o_services, world, incr["id"],
        {
            "restore_type": "selective",
            "openstack": {
                "instances": [{"id": vm1, "include": True, "name": "t4o-it-selected"}],
                "networks_mapping": {"networks": [mapping]},
            },
        },
    )  # fmt: skip
    world.adopt(job)
    assert job["status"] == "available", job["error_msg"]
    (inst,) = job["instances"]
    assert inst["name"] == "t4o-it-selected"
    assert inst["networks"][world.networks["a"]]["id"] == world.networks["b"]
    assert all(d["verified"] for d in inst["disks"]) and len(inst["disks"]) == 2
    assert_restored(devcloud, job, incr, at_incr, tmp_path)

    # in-place: overwrite both VMs' disks, restore the full snapshot into them, the old bytes come back
    disks.write(vm0, 64 * MiB, 32 * MiB, 0x77)
    disks.write(vm1, 8 * MiB, 4 * MiB, 0x78, dev="vdb")
    assert disks.at_snapshot() != at_incr
    job = run_restore(t4o_services, world, full["id"], {"restore_type": "inplace"})
    assert job["status"] == "available", job["error_msg"]
    for inst in job["instances"]:
        assert inst["id"] in world.servers
        assert all(d["verified"] for d in inst["disks"])
    assert sorted(inst["id"] for inst in job["instances"]) == sorted(world.servers)
    assert_restored(devcloud, job, full, at_full, tmp_path)
