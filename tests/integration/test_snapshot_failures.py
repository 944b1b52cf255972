"""Failures of snapshots and restores on devcloud: the job ends in error with a clear message, nothing
is left behind (vault data of the failed snapshot, servers, volumes, checkpoints), and the next
snapshot works."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from openstack.connection import Connection

from demo.guest import write_guest
from demo.services import T4OServices
from t4o.vault import open_repository
from tests.fixtures.devcloud import Devcloud

MiB = 1 << 20


class Ctx:
    def __init__(self, services: T4OServices, conn: Connection, server: str, workload: str) -> None:
        self.services, self.conn, self.server, self.workload = services, conn, server, workload
        self.token, self.project = conn.auth_token, conn.current_project_id
        self.volumes: list[str] = []  # deleted after the server (they may still be attached)
        self.cleanups: list[Callable[[], Any]] = []  # then these

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.services.request(method, path, self.token, self.project, **kwargs)

    def snapshot(self, full: bool = False) -> str:
        params = {"full": "1"} if full else {}
        return self.api("POST", f"/workloads/{self.workload}", params=params, json={"snapshot": {}})[
            "snapshot"
        ]["id"]

    def wait(self, kind: str, job_id: str) -> dict[str, Any]:
        return self.services.wait_job(kind, job_id, self.token, self.project)


def checkpoints(devcloud: Devcloud, server_id: str) -> list[str]:
    import libvirt

    conn = libvirt.open(devcloud.libvirt_uri)
    try:
        return sorted(c.getName() for c in conn.lookupByUUIDString(server_id).listAllCheckpoints(0))
    finally:
        conn.close()


@pytest.fixture(scope="module")
def ctx(devcloud: Devcloud, t4o_services: T4OServices) -> Iterator[Ctx]:
    conn = devcloud.connection("devcloud-demo")
    flavor = conn.compute.find_flavor("devcloud.tiny", ignore_missing=False)
    image = conn.image.find_image("devcloud-tiny", ignore_missing=False)
    ctx = None
    srv = conn.compute.create_server(
        name=f"t4o-it-fail-{uuid.uuid4().hex[:6]}", flavor_id=flavor.id, image_id=image.id, networks="none"
    )
    try:
        conn.compute.wait_for_server(srv, wait=300)
        # enough incompressible data that a full snapshot runs for a few seconds
        write_guest(devcloud.libvirt_uri, srv.id, 0, 512 * MiB, 7)
        wl = t4o_services.request(
            "POST", "/workloads", conn.auth_token, conn.current_project_id,
            json={"workload": {"name": "it-fail", "instances": [{"instance-id": srv.id}]}},
        )["workload"]  # fmt: skip
        ctx = Ctx(t4o_services, conn, srv.id, wl["id"])
        yield ctx
    finally:
        conn.compute.delete_server(srv.id, ignore_missing=True)
        with contextlib.suppress(Exception):
            conn.compute.wait_for_delete(conn.compute.get_server(srv.id), wait=120)
        for vid in ctx.volumes if ctx else []:
            with contextlib.suppress(Exception):
                conn.block_storage.wait_for_status(conn.block_storage.get_volume(vid), "available", wait=120)
            conn.block_storage.delete_volume(vid, ignore_missing=True)
        for cleanup in ctx.cleanups if ctx else []:
            with contextlib.suppress(Exception):
                cleanup()


def test_agent_killed_mid_transfer(devcloud: Devcloud, ctx: Ctx) -> None:
    services = ctx.services
    sid = ctx.snapshot(full=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = ctx.api("GET", f"/snapshots/{sid}")["snapshot"]
        if "disks:" in job["progress_msg"] or (job["status"] != "executing" and job["status"] != "queued"):
            break
        time.sleep(0.2)
    assert job["status"] == "executing", job
    services.kill("datamover")
    try:
        job = ctx.wait("snapshot", sid)
        assert job["status"] == "error"
        assert "datamover agent on host devcloud did not answer" in job["error_msg"], job["error_msg"]
        repo = open_repository(services.vault_url, create=False)
        assert repo.list_disks(sid) == []  # no partial snapshot in the vault
    finally:
        services.start_one("datamover")
        services.wait_ready(only="datamover")
    nxt = ctx.wait("snapshot", ctx.snapshot())
    assert nxt["status"] == "available", nxt["error_msg"]
    # the interrupted backup's job and checkpoint are gone, and the domain carries no checkpoint metadata
    # between snapshots (Nova could not delete it otherwise); the new one's bitmap stays in the disk
    assert checkpoints(devcloud, ctx.server) == []


def test_backup_target_unavailable(ctx: Ctx) -> None:
    vault = Path(ctx.services.vault_url)
    aside = vault.with_name(vault.name + ".aside")
    vault.rename(aside)
    vault.write_text("not a directory")
    try:
        job = ctx.wait("snapshot", ctx.snapshot())
        assert job["status"] == "error"
        assert f"the backup target {vault} is unavailable" in job["error_msg"], job["error_msg"]
    finally:
        vault.unlink()
        aside.rename(vault)
    job = ctx.wait("snapshot", ctx.snapshot())
    assert job["status"] == "available", job["error_msg"]


def test_target_without_a_vault_is_not_created(ctx: Ctx) -> None:
    """An unmounted NFS share looks like an empty directory: the snapshot fails, and writes nothing there."""
    vault = Path(ctx.services.vault_url)
    aside = vault.with_name(vault.name + ".aside")
    vault.rename(aside)
    vault.mkdir()
    try:
        job = ctx.wait("snapshot", ctx.snapshot())
        assert job["status"] == "error"
        assert f"the backup target {vault} is unavailable: it holds no vault" in job["error_msg"], job
        assert "t4o-vault init" in job["error_msg"]
        assert list(vault.iterdir()) == []
    finally:
        vault.rmdir()
        aside.rename(vault)
    job = ctx.wait("snapshot", ctx.snapshot())
    assert job["status"] == "available", job["error_msg"]


def test_cinder_error_on_volume_create_during_restore(devcloud: Devcloud, ctx: Ctx) -> None:
    admin = devcloud.connection("devcloud-admin")
    vtype = admin.block_storage.create_type(
        name=f"t4o-it-nobackend-{uuid.uuid4().hex[:6]}", extra_specs={"volume_backend_name": "nowhere"}
    )
    volume = ctx.conn.block_storage.create_volume(size=1, name=f"t4o-it-fail-vol-{uuid.uuid4().hex[:6]}")
    ctx.volumes.append(volume.id)
    try:
        ctx.conn.block_storage.wait_for_status(volume, "available", wait=120)
        ctx.conn.compute.create_volume_attachment(ctx.server, volume_id=volume.id)
        ctx.conn.block_storage.wait_for_status(volume, "in-use", wait=120)
        snap = ctx.wait("snapshot", ctx.snapshot())
        assert snap["status"] == "available", snap["error_msg"]
        name = f"t4o-it-restore-{uuid.uuid4().hex[:6]}"
        options = {
            "restore_type": "selective",
            "openstack": {
                "instances": [
                    {
                        "id": ctx.server,
                        "name": name,
                        "vdisks": [{"id": volume.id, "new_volume_type": vtype.name}],
                    }
                ]
            },
        }
        restore = ctx.api("POST", f"/snapshots/{snap['id']}", json={"restore": {"options": options}})[
            "restore"
        ]
        job = ctx.wait("restore", restore["id"])
        assert job["status"] == "error"
        assert "went to error" in job["error_msg"] and "volume" in job["error_msg"], job["error_msg"]
        # nothing orphaned: neither the new server nor any volume of the restore
        assert [s for s in ctx.conn.compute.servers() if s.name == name] == []
        left = [v for v in ctx.conn.block_storage.volumes() if v.volume_type == vtype.name]
        assert left == [], [(v.id, v.status) for v in left]
        assert ctx.wait("snapshot", ctx.snapshot())["status"] == "available"
    finally:
        # no live detach (an OS-less guest never answers the unplug: minutes of retries); the volume is
        # detached when the module's teardown deletes the server
        ctx.cleanups.append(lambda: admin.block_storage.delete_type(vtype, ignore_missing=True))
