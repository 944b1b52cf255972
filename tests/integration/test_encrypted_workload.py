"""An encrypted workload through the separate T4O services: a devcloud VM snapshotted with its own key
wrapped by demo's Barbican secret, restored; then the secret deleted, and both a snapshot and a restore
fail saying so. Neither the secret's payload nor the workload's key is in any RPC message, HTTP body
between the worker and datamover-api, service log or database row, and the VM's records are not in
clear on the target."""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kombu
import pytest
import requests

from demo.services import DATAMOVER_PORT, T4OServices
from t4o.vault import PosixBackend, Repository
from tests.fixtures.barbican import make_secret
from tests.fixtures.devcloud import Devcloud
from tests.fixtures.http_recorder import RecordingProxy
from tests.integration.disk_model import DiskModel, disk_sha256

TRACE_QUEUE = f"t4o-it-trace-{uuid.uuid4().hex[:8]}"


class RpcTrace:
    """Every message published on RabbitMQ's default vhost (where the T4O services talk) from ``start``
    to ``stop``, through RabbitMQ's firehose tracer."""

    def __init__(self) -> None:
        self.conn = kombu.Connection("amqp://guest:guest@127.0.0.1:5672//")
        exchange = kombu.Exchange("amq.rabbitmq.trace", type="topic", passive=True)
        self.queue = kombu.Queue(TRACE_QUEUE, exchange, routing_key="publish.#", durable=False)
        self.on = False

    def start(self) -> None:
        self.queue(self.conn.channel()).declare()
        subprocess.run(["rabbitmqctl", "trace_on", "-p", "/"], check=True, capture_output=True, timeout=60)
        self.on = True

    def stop(self) -> bytes:
        """Tracing off; every traced message's body, concatenated."""
        if self.on:
            subprocess.run(["rabbitmqctl", "trace_off", "-p", "/"], capture_output=True, timeout=60)
            self.on = False
        bodies: list[bytes] = []
        simple = self.conn.SimpleQueue(self.queue)
        with contextlib.suppress(simple.Empty):
            while True:
                msg = simple.get(timeout=1)
                bodies.append(msg.body if isinstance(msg.body, bytes) else str(msg.body).encode())
                msg.ack()
        return b"".join(bodies)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()
        with contextlib.suppress(Exception):
            self.queue(self.conn.channel()).delete()
        self.conn.release()


@pytest.fixture
def rpc_trace() -> Iterator[RpcTrace]:
    trace = RpcTrace()
    trace.start()
    try:
        yield trace
    finally:
        trace.close()


WORKER = "workloadmgr-workloads"


@pytest.fixture
def datamover_http(t4o_services: T4OServices) -> Iterator[RecordingProxy]:
    """The worker restarted to reach datamover-api through a recording proxy; put back afterwards."""
    services = t4o_services
    proxy = RecordingProxy(f"http://127.0.0.1:{DATAMOVER_PORT}")
    saved = services.overrides
    try:
        services.overrides = {**saved, "datamover_client": {"endpoint_override": f"{proxy.url}/v2"}}
        services.write_config()
        services.kill(WORKER, signal.SIGTERM)
        services.start_one(WORKER)
        services.wait_ready(only=WORKER)
        yield proxy
    finally:
        services.overrides = saved
        services.write_config()
        if WORKER in services.procs:
            services.kill(WORKER, signal.SIGTERM)
        services.start_one(WORKER)
        services.wait_ready(only=WORKER)
        proxy.close()


def forms(material: bytes) -> list[bytes]:
    """How key material would show in text: raw, hex, base64 (both alphabets)."""
    return [material, material.hex().encode(), base64.b64encode(material), base64.urlsafe_b64encode(material)]


def db_dump(database_url: str) -> bytes:
    url = urlsplit(database_url)
    out = subprocess.run(
        ["mysqldump", "-h", url.hostname or "127.0.0.1", "-u", url.username or "root",
         *([f"-p{url.password}"] if url.password else []), "--skip-extended-insert", url.path.lstrip("/")],
        capture_output=True, check=True, timeout=120,
    )  # fmt: skip
    return out.stdout


def domain_disk(devcloud: Devcloud, server_id: str) -> Path:
    import libvirt

    from t4o.datamover.disks.domain_xml import parse_disks

    conn = libvirt.open(devcloud.libvirt_uri)
    try:
        xml = conn.lookupByUUIDString(server_id).XMLDesc(0)
    finally:
        conn.close()
    return Path(next(d.source for d in parse_disks(xml) if d.target == "vda"))


def test_an_encrypted_workload_end_to_end(
    devcloud: Devcloud,
    t4o_services: T4OServices,
    rpc_trace: RpcTrace,
    datamover_http: RecordingProxy,
    tmp_path: Path,
) -> None:
    demo = devcloud.connection("devcloud-demo")
    token, project = demo.auth_token, demo.current_project_id
    tag = uuid.uuid4().hex[:8]
    # 32 bytes of the owner's key material each: the first secret, and the one the workload rotates to
    payload, new_payload = os.urandom(32), os.urandom(32)
    secret, new_secret = (make_secret(demo, p, f"t4o-enc-{tag}") for p in (payload, new_payload))
    flavor = demo.compute.find_flavor("devcloud.tiny", ignore_missing=False)
    image = demo.image.find_image("devcloud-tiny", ignore_missing=False)
    vm_name = f"t4o-enc-vm-{tag}"
    server = demo.compute.create_server(name=vm_name, flavor_id=flavor.id, image_id=image.id, networks="none")
    created: list[str] = [server.id]

    def api(method: str, path: str, **kw: Any) -> Any:
        return t4o_services.request(method, path, token, project, **kw)

    try:
        demo.compute.wait_for_server(server, wait=300)
        model = DiskModel.of(domain_disk(devcloud, server.id), tmp_path)  # the tiny image writes nothing
        wl = api(
            "POST", "/workloads",
            json={"workload": {"name": f"enc-{tag}", "instances": [{"instance-id": server.id}],
                               "encryption": True, "secret_uuid": secret}},
        )["workload"]  # fmt: skip
        snap = api("POST", f"/workloads/{wl['id']}", json={"snapshot": {"name": "enc"}})["snapshot"]
        job = t4o_services.wait_job("snapshot", snap["id"], token, project)
        assert job["status"] == "available", job["error_msg"]

        # On the target: the workload's own key, its disks encrypted with it, its records sealed.
        vault = Path(t4o_services.vault_url)
        assert (vault / "keys" / wl["id"]).is_file()
        manifests = list((vault / "snapshots" / snap["id"] / "disks").glob("*.json"))
        assert manifests and all(b'"keys":"workload"' in m.read_bytes() for m in manifests)
        for path in vault.rglob("*"):
            if path.is_file():
                assert vm_name.encode() not in path.read_bytes(), f"{path} holds the VM's name in clear"

        restore = api(
            "POST", f"/snapshots/{snap['id']}", json={"restore": {"options": {"restore_type": "oneclick"}}}
        )
        job = t4o_services.wait_job("restore", restore["restore"]["id"], token, project)
        assert job["status"] == "available", job["error_msg"]
        new_ids = [i["id"] for i in job.get("instances") or [] if i["id"] != server.id]
        created += new_ids
        assert new_ids and disk_sha256(domain_disk(devcloud, new_ids[0]), tmp_path) == model.sha256()

        # Its files through the API, which unlocks the key with the caller's token: the tiny image holds
        # no filesystem, so the disk is read and the answer is about its content, not about its key.
        browse = f"{t4o_services.url}/v1/{project}/snapshots/{snap['id']}/vms/{server.id}/disks/vda/browse"
        resp = requests.get(browse, headers={"X-Auth-Token": token}, timeout=120)
        assert resp.status_code in (400, 404, 409, 422) and "filesystem" in resp.text, resp.text
        assert "unlock" not in resp.text and "locked" not in resp.text, resp.text

        repo = Repository.open(PosixBackend(vault))
        repo.unlock_workload(wl["id"], payload)
        workload_key = repo.require_workload_key(wl["id"]).key

        # Rotation through the API: the key is re-wrapped by the new secret, no stored data changes, and
        # the old secret is no longer needed.
        before = {p: p.read_bytes() for p in vault.rglob("*") if p.is_file() and "keys" not in p.parts}
        wrapped = (vault / "keys" / wl["id"]).read_bytes()
        api("PUT", f"/workloads/{wl['id']}", json={"workload": {"secret_uuid": new_secret}})
        assert api("GET", f"/workloads/{wl['id']}")["workload"]["secret_uuid"] == new_secret
        assert (vault / "keys" / wl["id"]).read_bytes() != wrapped
        assert all(
            p.read_bytes() == data for p, data in before.items() if p.exists() and "locks" not in p.parts
        )
        demo.key_manager.delete_secret(secret)
        snap2 = api("POST", f"/workloads/{wl['id']}", json={"snapshot": {"name": "rotated"}})["snapshot"]
        job = t4o_services.wait_job("snapshot", snap2["id"], token, project)
        assert job["status"] == "available", job["error_msg"]

        # The secret deleted: the next snapshot and a restore fail, and say why.
        demo.key_manager.delete_secret(new_secret)
        snap3 = api("POST", f"/workloads/{wl['id']}", json={"snapshot": {"name": "after"}})["snapshot"]
        job = t4o_services.wait_job("snapshot", snap3["id"], token, project)
        assert job["status"] == "error" and "does not exist (deleted?)" in job["error_msg"], job["error_msg"]
        restore = api(
            "POST", f"/snapshots/{snap['id']}", json={"restore": {"options": {"restore_type": "oneclick"}}}
        )
        job = t4o_services.wait_job("restore", restore["restore"]["id"], token, project)
        assert job["status"] == "error" and "does not exist (deleted?)" in job["error_msg"], job["error_msg"]

        # No key material where it could leak: RPC messages, the worker's HTTP calls to datamover-api
        # (both ways), service logs, database rows.
        rpc = rpc_trace.stop()
        assert secret.encode() in rpc  # the trace saw the transfers' specs: the secret's id, not its payload
        http = datamover_http.recorded()
        posted = [path for method, path, _, _ in datamover_http.exchanges if method == "POST"]
        assert "/v2/transfers" in posted and secret.encode() in http  # the specs went through the proxy
        places = {
            "RPC messages": rpc,
            "worker <-> datamover-api HTTP bodies": http,
            "service logs": "".join(t4o_services.log(b) for b in t4o_services.procs).encode(),
            "database rows": db_dump(t4o_services.database_url),
        }
        for where, data in places.items():
            for material in (payload, new_payload, workload_key):
                assert not any(f in data for f in forms(material)), f"key material in {where}"
    finally:
        for sid in created:
            demo.compute.delete_server(sid, ignore_missing=True)
        for s in (secret, new_secret):
            demo.key_manager.delete_secret(s, ignore_missing=True)
