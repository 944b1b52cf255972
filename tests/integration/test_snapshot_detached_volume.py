"""A workload VM's volume detached between snapshots, on devcloud: it stays protected with its VM, read
through a Cinder snapshot from the NFS backend's file; the Cinder snapshot is gone afterwards (also after
a cancel); restores recreate it as a new detached volume (one-click) or write it back (in-place)."""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from openstack.connection import Connection

from demo.guest import write_guest
from demo.services import T4OServices
from t4o.vault import open_repository
from tests.fixtures.devcloud import Devcloud
from tests.integration.disk_model import DiskModel, file_sha256

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

    def start_snapshot(self, full: bool = False) -> str:
        params = {"full": "1"} if full else {}
        body = {"snapshot": {"name": "full" if full else "incr"}}
        return self.api("POST", f"/workloads/{self.workload}", params=params, json=body)["snapshot"]["id"]

    def snapshot(self, full: bool = False) -> dict[str, Any]:
        job = self.wait("snapshot", self.start_snapshot(full))
        assert job["status"] == "available", job["error_msg"]
        return self.api("GET", f"/snapshots/{job['id']}")["snapshot"]

    def restore(self, snapshot_id: str, options: dict[str, Any]) -> dict[str, Any]:
        body = {"restore": {"options": options}}
        restore = self.api("POST", f"/snapshots/{snapshot_id}", json=body)["restore"]
        job = self.wait("restore", restore["id"])
        for inst in job.get("instances") or []:
            if inst["id"] != self.server:
                self.created_servers.append(inst["id"])
            self.created_volumes.extend(v["id"] for v in inst.get("volumes") or [])
        return job

    def cinder_snapshots(self) -> list[str]:
        return [s.id for s in self.conn.block_storage.snapshots(volume_id=self.volume)]


def write_file(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


@pytest.fixture(scope="module")
def world(devcloud: Devcloud, t4o_services: T4OServices) -> Iterator[World]:
    conn = devcloud.connection("devcloud-demo")
    tag = uuid.uuid4().hex[:6]
    flavor = conn.compute.find_flavor("devcloud.tiny", ignore_missing=False)
    image = conn.image.find_image("devcloud-tiny", ignore_missing=False)
    srv = conn.compute.create_server(
        name=f"t4o-it-det-{tag}", flavor_id=flavor.id, image_id=image.id, networks="none"
    )
    vol = conn.block_storage.create_volume(size=1, name=f"t4o-it-det-{tag}")
    world = World(t4o_services, conn, srv.id, vol.id)
    try:
        conn.compute.wait_for_server(srv, wait=300)
        conn.block_storage.wait_for_status(vol, "available", wait=120)
        conn.compute.create_volume_attachment(srv.id, volume_id=vol.id)
        conn.block_storage.wait_for_status(vol, "in-use", wait=120)
        wl = world.api(
            "POST",
            "/workloads",
            json={"workload": {"name": "it-det", "instances": [{"instance-id": srv.id}]}},
        )
        world.workload = wl["workload"]["id"]
        yield world
    finally:
        for sid in [*world.created_servers, srv.id]:
            conn.compute.delete_server(sid, ignore_missing=True)
        for sid in [*world.created_servers, srv.id]:
            with contextlib.suppress(Exception):
                conn.compute.wait_for_delete(conn.compute.get_server(sid), wait=120)
        for vid in [*world.created_volumes, vol.id]:
            with contextlib.suppress(Exception):
                conn.block_storage.wait_for_status(conn.block_storage.get_volume(vid), "available", wait=120)
            for snap in conn.block_storage.snapshots(volume_id=vid):
                conn.block_storage.delete_snapshot(snap.id, ignore_missing=True)
            with contextlib.suppress(Exception):
                conn.block_storage.delete_volume(vid, ignore_missing=True)


def test_detached_volume_is_snapshotted_through_cinder_and_restored(
    devcloud: Devcloud, world: World, tmp_path: Path
) -> None:
    conn, volume_file = world.conn, devcloud.volume_file(world.volume)
    # the test's model of the volume's bytes: what it holds now, and every write of the test
    model = DiskModel.of(volume_file, tmp_path)
    model.write(0, write_guest(devcloud.libvirt_uri, world.server, 0, 16 * MiB, 0x31, dev="vdb"))
    full = world.snapshot(full=True)
    (attached,) = [d for i in full["instances"] for d in i["vdisks"] if d.get("volume_id") == world.volume]
    assert attached["target"] == "vdb"

    # shut the VM off (an OS-less guest never acknowledges a live unplug) and detach the volume
    conn.compute.stop_server(world.server)
    conn.compute.wait_for_server(conn.compute.get_server(world.server), status="SHUTOFF", wait=120)
    conn.compute.delete_volume_attachment(world.server, world.volume)
    conn.block_storage.wait_for_status(conn.block_storage.get_volume(world.volume), "available", wait=120)
    # the data changes while the volume is detached (another user of the volume, for instance)
    changed = os.urandom(8 * MiB)
    write_file(volume_file, 100 * MiB, changed)
    model.write(100 * MiB, changed)
    at_snapshot = model.sha256()

    incr = world.snapshot()
    (inst,) = incr["instances"]
    assert [v["id"] for v in inst["metadata"]["detached_volumes"]] == [world.volume]
    (disk,) = [d for d in inst["vdisks"] if d.get("volume_id") == world.volume]
    assert disk["attached"] is False and disk["target"] is None and disk["kind"] == "volume"
    assert disk["ref"].endswith(f"_volume-{world.volume}")
    # read where allocated (16 + 8 MiB), stored only what changed since the attached copy
    assert 24 * MiB <= disk["read_bytes"] <= 26 * MiB, disk
    assert 8 * MiB <= disk["new_bytes"] <= 9 * MiB, disk
    # no Cinder snapshot is kept, and the volume is back to its own single file
    assert world.cinder_snapshots() == []
    assert conn.block_storage.get_volume(world.volume).status == "available"
    info = volume_file.with_name(volume_file.name + ".info")
    assert not info.exists() or '"active": "volume-' + world.volume + '"' in info.read_text()

    write_file(volume_file, 100 * MiB, os.urandom(MiB))  # changed after the snapshot

    # one-click: the volume comes back as a new volume, detached as it was, with the snapshot's bytes
    job = world.restore(incr["id"], {"restore_type": "oneclick"})
    assert job["status"] == "available", job["error_msg"]
    (restored,) = job["instances"]
    (new_volume,) = restored["volumes"]
    assert new_volume["source_volume_id"] == world.volume and new_volume["target"] is None
    assert all(d["verified"] for d in restored["disks"]) and len(restored["disks"]) == 2
    vol = conn.block_storage.get_volume(new_volume["id"])
    assert vol.status == "available" and not vol.attachments
    assert file_sha256(devcloud.volume_file(new_volume["id"])) == at_snapshot

    # in-place: the detached volume gets the snapshot's bytes back, written into its file
    job = world.restore(incr["id"], {"restore_type": "inplace"})
    assert job["status"] == "available", job["error_msg"]
    (restored,) = job["instances"]
    assert {d["volume_id"] for d in restored["disks"] if d["target"] is None} == {world.volume}
    assert all(d["verified"] for d in restored["disks"])
    assert file_sha256(volume_file) == at_snapshot
    assert world.cinder_snapshots() == []


def test_cancel_while_a_detached_volume_is_read_leaves_no_cinder_snapshot(
    devcloud: Devcloud, world: World
) -> None:
    conn = world.conn
    assert conn.block_storage.get_volume(world.volume).status == "available"  # detached by the test above
    write_file(devcloud.volume_file(world.volume), 200 * MiB, os.urandom(400 * MiB))
    sid = world.start_snapshot(full=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = world.api("GET", f"/snapshots/{sid}")["snapshot"]
        if "detached volume" in job["progress_msg"] or job["status"] not in ("queued", "executing"):
            break
        time.sleep(0.2)
    assert job["status"] == "executing", job
    world.api("GET", f"/snapshots/{sid}/cancel")
    job = world.wait("snapshot", sid)
    assert job["status"] == "cancelled", job
    assert world.cinder_snapshots() == []
    assert open_repository(world.services.vault_url, create=False).list_disks(sid) == []
    assert conn.block_storage.get_volume(world.volume).status == "available"
    last = world.snapshot()
    assert last["status"] == "available"  # and the next one works
    assert world.cinder_snapshots() == []

    # Deleting it through the API removes its manifests and document from the target (chunks go at gc).
    repo = open_repository(world.services.vault_url, create=False)
    assert repo.list_disks(last["id"])
    world.api("DELETE", f"/snapshots/{last['id']}")
    assert repo.list_disks(last["id"]) == []
    assert last["id"] not in {s["snapshot_id"] for s in repo.list_snapshots()}
