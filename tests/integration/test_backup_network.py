"""A dedicated backup network on devcloud: the T4O services run with ``[backup_target] source_address =
127.0.0.2`` and an S3 backup target (SeaweedFS listening on 127.0.0.1 only). While a VM is snapshotted,
the kernel's socket table shows where every connection to the target comes from: those the datamover
agent process holds, and the server's side of all of them. The disk in the vault is then read back and
compared with the test's model of the bytes the guest held."""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from demo.guest import write_guest
from demo.services import T4OServices
from t4o.vault import open_repository
from tests.fixtures.devcloud import Devcloud
from tests.fixtures.proc_net import peers_of, socket_inodes, tcp_sockets
from tests.fixtures.s3 import S3Server, new_bucket
from tests.integration.disk_model import DiskModel, file_sha256
from tests.integration.test_snapshot_restore import domain_disk_path

BACKUP_ADDRESS = "127.0.0.2"
MiB = 1 << 20


@dataclass
class Watch:
    """From a thread: the local addresses of the agent's connections to ``port``, and the peers the
    server on ``port`` saw connect after the watch began."""

    port: int
    agent_session: int
    before: set[tuple[str, int]] = field(default_factory=set)
    agent: set[str] = field(default_factory=set)
    peers: set[tuple[str, int]] = field(default_factory=set)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.before = peers_of(self.port)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            agent = socket_inodes(self.agent_session)
            for s in tcp_sockets():
                if s.local[1] == self.port:
                    self.peers.add(s.remote)
                elif s.remote[1] == self.port and s.inode in agent:
                    self.agent.add(s.local[0])
            time.sleep(0.005)

    def done(self) -> set[str]:
        self.stop.set()
        self.thread.join()
        return {address for address, _ in self.peers - self.before}


@pytest.fixture(scope="module")
def bound_services(t4o_services: T4OServices, s3_server: S3Server) -> Iterator[tuple[T4OServices, str]]:
    """The session's services restarted on an S3 target with the backup network's source address."""
    services = t4o_services
    bucket = new_bucket(s3_server)
    url = f"s3://{bucket.name}/vault?endpoint={s3_server.endpoint}"
    saved = (services.vault_url, services.overrides)
    env = {"AWS_ACCESS_KEY_ID": s3_server.access_key, "AWS_SECRET_ACCESS_KEY": s3_server.secret_key}
    saved_env = {k: os.environ.get(k) for k in env}
    services.stop()
    os.environ.update(env)  # the services' S3 keys, as an operator's environment would give them
    try:
        services.vault_url = url
        services.overrides = {**services.overrides, "backup_target": {"source_address": BACKUP_ADDRESS}}
        services.start()
        yield services, url
    finally:
        services.stop()
        services.vault_url, services.overrides = saved
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        services.start()


def test_the_agent_moves_the_disk_from_the_backup_address(
    devcloud: Devcloud, bound_services: tuple[T4OServices, str], tmp_path: Path
) -> None:
    services, url = bound_services
    conn = devcloud.connection("devcloud-demo")
    token, project = str(conn.auth_token), str(conn.current_project_id)
    flavor = conn.compute.find_flavor("devcloud.tiny", ignore_missing=False)
    image = conn.image.find_image("devcloud-tiny", ignore_missing=False)
    server = conn.compute.create_server(
        name=f"t4o-it-net-{uuid.uuid4().hex[:6]}", flavor_id=flavor.id, image_id=image.id, networks="none"
    ).id
    try:
        conn.compute.wait_for_server(conn.compute.get_server(server), wait=300)
        model = DiskModel.of(domain_disk_path(devcloud, server, "vda"), tmp_path)
        model.write(3 * MiB, write_guest(devcloud.libvirt_uri, server, 3 * MiB, 4 * MiB, seed=15))
        expected = model.sha256()
        body = {"workload": {"name": "it-backup-network", "instances": [{"instance-id": server}]}}
        workload = services.request("POST", "/workloads", token, project, json=body)["workload"]["id"]

        port = urlsplit(url.split("endpoint=", 1)[1]).port
        assert port is not None
        watch = Watch(port, services.procs["datamover"].pid)
        try:
            snap = services.request(
                "POST", f"/workloads/{workload}", token, project,
                params={"full": "1"}, json={"snapshot": {"name": "net"}},
            )["snapshot"]  # fmt: skip
            job = services.wait_job("snapshot", snap["id"], token, project, timeout=600)
        finally:
            server_saw = watch.done()
        assert job["status"] == "available", job
        assert watch.agent == {BACKUP_ADDRESS}, "the agent's connections to the target"
        assert server_saw == {BACKUP_ADDRESS}, "the peers the S3 server saw"

        record = services.request("GET", f"/snapshots/{snap['id']}", token, project)["snapshot"]
        ref = next(d["ref"] for i in record["instances"] for d in i["vdisks"] if d["target"] == "vda")
        out = tmp_path / "vda.raw"
        repo = open_repository(url, create=False)
        try:
            repo.restore_disk(ref, out)
        finally:
            repo.backend.close()
        assert file_sha256(out) == expected
    finally:
        conn.compute.delete_server(server, ignore_missing=True)
        with contextlib.suppress(Exception):
            conn.compute.wait_for_delete(conn.compute.get_server(server), wait=120)
