"""An attached raw Cinder volume's incrementals on devcloud: QEMU's dirty bitmap on the volume's node
gives the changed extents, so 10 MiB changed in a 1 GiB volume holding 100 MiB reads about 10 MiB, not
the volume's allocated data. A stop/start (a new QEMU: the bitmap is lost) reads the volume where
allocated once, says so in the snapshot, and the next incremental is back to the changes. Restores are
compared with the test's own model of the bytes."""

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
from tests.integration.test_snapshot_restore import domain_disk_path

MiB = 1 << 20


@dataclass
class World:
    services: T4OServices
    conn: Connection
    server: str
    volume: str
    workload: str = ""
    created_servers: list[str] = field(default_factory=list)
    created_volumes: list[str] = field(default_factory=list)

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.services.request(
            method, path, self.conn.auth_token, self.conn.current_project_id, **kwargs
        )

    def wait(self, kind: str, job_id: str) -> dict[str, Any]:
        return self.services.wait_job(kind, job_id, self.conn.auth_token, self.conn.current_project_id)

    def snapshot(self, full: bool = False) -> dict[str, Any]:
        params = {"full": "1"} if full else {}
        body = {"snapshot": {"name": "full" if full else "incr"}}
        sid = self.api("POST", f"/workloads/{self.workload}", params=params, json=body)["snapshot"]["id"]
        job = self.wait("snapshot", sid)
        assert job["status"] == "available", job["error_msg"]
        return self.api("GET", f"/snapshots/{sid}")["snapshot"]

    def restore(self, snapshot_id: str) -> dict[str, Any]:
        body = {"restore": {"options": {"restore_type": "oneclick"}}}
        restore = self.api("POST", f"/snapshots/{snapshot_id}", json=body)["restore"]
        job = self.wait("restore", restore["id"])
        for inst in job.get("instances") or []:
            if inst["id"] != self.server:
                self.created_servers.append(inst["id"])
            self.created_volumes.extend(v["id"] for v in inst.get("volumes") or [])
        return job

    def discard(self) -> None:
        """Delete what restores created (devcloud has room for a few tiny VMs only)."""
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


@pytest.fixture(scope="module")
def world(devcloud: Devcloud, t4o_services: T4OServices) -> Iterator[World]:
    conn = devcloud.connection("devcloud-demo")
    tag = uuid.uuid4().hex[:6]
    flavor = conn.compute.find_flavor("devcloud.tiny", ignore_missing=False)
    image = conn.image.find_image("devcloud-tiny", ignore_missing=False)
    srv = conn.compute.create_server(
        name=f"t4o-it-vol-{tag}", flavor_id=flavor.id, image_id=image.id, networks="none"
    )
    vol = conn.block_storage.create_volume(size=1, name=f"t4o-it-vol-{tag}")
    world = World(t4o_services, conn, srv.id, vol.id)
    try:
        conn.compute.wait_for_server(srv, wait=300)
        conn.block_storage.wait_for_status(vol, "available", wait=120)
        conn.compute.create_volume_attachment(srv.id, volume_id=vol.id)
        conn.block_storage.wait_for_status(vol, "in-use", wait=120)
        wl = world.api(
            "POST",
            "/workloads",
            json={"workload": {"name": "it-vol", "instances": [{"instance-id": srv.id}]}},
        )
        world.workload = wl["workload"]["id"]
        yield world
    finally:
        world.discard()
        conn.compute.delete_server(srv.id, ignore_missing=True)
        with contextlib.suppress(Exception):
            conn.compute.wait_for_delete(conn.compute.get_server(srv.id), wait=120)
        with contextlib.suppress(Exception):
            conn.block_storage.wait_for_status(conn.block_storage.get_volume(vol.id), "available", wait=120)
        with contextlib.suppress(Exception):
            conn.block_storage.delete_volume(vol.id, ignore_missing=True)


def volume_disk(snap: dict[str, Any], volume_id: str) -> dict[str, Any]:
    (disk,) = [d for i in snap["instances"] for d in i["vdisks"] if d.get("volume_id") == volume_id]
    return disk


def assert_restored(
    devcloud: Devcloud, world: World, snap: dict[str, Any], expected: dict[str, str], tmp: Path
):
    """A one-click restore of ``snap`` gives a VM whose disks hold the bytes the model says."""
    job = world.restore(snap["id"])
    assert job["status"] == "available", job["error_msg"]
    (inst,) = job["instances"]
    assert all(d["verified"] for d in inst["disks"]) and len(inst["disks"]) == 2
    for disk in inst["disks"]:
        got = disk_sha256(domain_disk_path(devcloud, inst["id"], disk["target"]), tmp)
        assert got == expected[disk["target"]], f"restored {disk['target']} differs from the model"
    world.discard()


def test_attached_volume_incrementals_read_what_changed(
    devcloud: Devcloud, world: World, tmp_path: Path
) -> None:
    uri, server = devcloud.libvirt_uri, world.server
    models = {t: DiskModel.of(domain_disk_path(devcloud, server, t), tmp_path) for t in ("vda", "vdb")}

    def write(offset: int, length: int, seed: int) -> None:
        models["vdb"].write(offset, write_guest(uri, server, offset, length, seed, dev="vdb"))

    def at_snapshot() -> dict[str, str]:
        return {t: m.sha256() for t, m in models.items()}

    for i in range(4):  # 100 MiB of data in the volume
        write(i * 256 * MiB, 25 * MiB, 0x40 + i)
    full = world.snapshot(full=True)
    assert volume_disk(full, world.volume)["read_bytes"] >= 100 * MiB

    # 10 MiB changed: 6 MiB in one place, 4 MiB at an unaligned offset elsewhere
    write(200 * MiB, 6 * MiB, 0x51)
    write(700 * MiB + 12345, 4 * MiB, 0x52)
    incr = world.snapshot()
    expected_incr = at_snapshot()
    vdb = volume_disk(incr, world.volume)
    print(f"\nattached volume, 10 MiB changed: read {vdb['read_bytes']} B, stored {vdb['new_bytes']} B")
    assert vdb["incremental"] and not vdb.get("full_read_reason"), vdb
    assert 10 * MiB <= vdb["read_bytes"] <= 20 * MiB, vdb
    assert vdb["new_bytes"] <= 12 * MiB, vdb

    # a stop/start: QEMU, and the volume's bitmap with it, is gone; the volume is read where allocated
    world.conn.compute.stop_server(server)
    world.conn.compute.wait_for_server(world.conn.compute.get_server(server), status="SHUTOFF", wait=120)
    world.conn.compute.start_server(server)
    world.conn.compute.wait_for_server(world.conn.compute.get_server(server), status="ACTIVE", wait=120)
    write(300 * MiB, 2 * MiB, 0x61)
    lost = world.snapshot()
    vdb = volume_disk(lost, world.volume)
    print(f"after a stop/start (bitmap lost): read {vdb['read_bytes']} B, stored {vdb['new_bytes']} B")
    assert "no dirty bitmap" in (vdb.get("full_read_reason") or ""), vdb
    assert "no dirty bitmap" in (lost["warning_msg"] or ""), lost["warning_msg"]
    assert vdb["read_bytes"] >= 110 * MiB, vdb
    assert vdb["new_bytes"] <= 3 * MiB, vdb

    # tracked again from the snapshot that read it in full
    write(900 * MiB, 1 * MiB, 0x71)
    again = world.snapshot()
    expected_again = at_snapshot()
    vdb = volume_disk(again, world.volume)
    assert vdb["incremental"] and vdb["read_bytes"] <= 2 * MiB, vdb

    assert_restored(devcloud, world, incr, expected_incr, tmp_path)
    assert_restored(devcloud, world, again, expected_again, tmp_path)
