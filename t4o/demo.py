"""The main job: T4O end to end against a running devcloud (``python -m t4o.demo``).

Starts the T4O services as separate processes over RabbitMQ (workloadmgr-api on 8780, -scheduler,
-workloads, datamover-api on 8784, the datamover agent of the compute host), with keystonemiddleware
against devcloud's Keystone; creates a demo VM with data on its disk, a workload of it, a full and an
incremental snapshot, and a one-click restore verified by checksum; prints a short report; removes what
it created and stops the services. Exits non-zero on any failure.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

from t4o.common.processes import ProcessGroup, write_ini
from t4o.datamover.vault_io import open_repository

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WORKLOADS_PORT, DATAMOVER_PORT = 8780, 8784
SERVICES = (
    ("workloadmgr-api", "api"),
    ("workloadmgr-scheduler", None),
    ("workloadmgr-workloads", None),
    ("datamover-api", "datamover"),
    ("datamover", None),
)


def devcloud_state() -> Path:
    return Path(os.environ.get("DEVCLOUD_STATE", ROOT / "devcloud" / "state")).resolve()


@dataclass
class T4OServices(ProcessGroup):
    """The T4O services as separate processes sharing one config file, over RabbitMQ and MariaDB."""

    clouds_yaml: Path
    libvirt_uri: str
    compute_host: str = "devcloud"
    database_url: str = ""
    vault_url: str = ""
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    _starts: dict[str, int] = field(default_factory=dict)  # "started" lines in a log before a (re)start

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{WORKLOADS_PORT}"

    def write_config(self) -> Path:
        service = yaml.safe_load(self.clouds_yaml.read_text())["clouds"]["devcloud-t4o"]["auth"]
        self.vault_url = self.vault_url or str(self.workdir / "vault")
        open_repository(self.vault_url)  # the one-time 't4o-vault init' of a new backup target
        keystone = {
            "www_authenticate_uri": service["auth_url"],
            "auth_url": service["auth_url"],
            "auth_type": "password",
            "username": service["username"],
            "password": service["password"],
            "project_name": service["project_name"],
            "user_domain_name": service["user_domain_name"],
            "project_domain_name": service["project_domain_name"],
        }
        conf: dict[str, dict[str, Any]] = {
            "DEFAULT": {
                "host": self.compute_host,
                "auth_strategy": "keystone",
                "cloud_driver": "nova",
                "transport_url": "rabbit://guest:guest@127.0.0.1:5672/",
                "control_exchange": f"t4o_{self.tag}",
                "scheduler_topic": f"t4o-{self.tag}-scheduler",
                "workloads_topic": f"t4o-{self.tag}-workloads",
                "report_interval": 2,
                "service_down_time": 20,
                "log_file": "",
            },
            "api": {"bind_host": "127.0.0.1", "bind_port": WORKLOADS_PORT, "workers": 1, "threads": 8},
            "datamover_api": {"bind_host": "127.0.0.1", "bind_port": DATAMOVER_PORT},
            "database": {"connection": self.database_url},
            "keystone_authtoken": keystone,
            "datamover_client": {k: v for k, v in keystone.items() if k != "www_authenticate_uri"},
            "datamover": {
                "topic": f"t4o-{self.tag}-datamover",
                "libvirt_uri": self.libvirt_uri,
                # where devcloud's Cinder mounts its NFS share: detached volumes are read there
                "volume_dirs": str(self.clouds_yaml.parent / "data" / "cinder-mnt"),
            },
            "backup_target": {"url": self.vault_url},
            "oslo_messaging_rabbit": {"heartbeat_timeout_threshold": 0},
            # The service user is the trustee of the trusts scheduled jobs run with (API, cron, workers).
            "trustee": {
                "auth_url": service["auth_url"],
                "username": service["username"],
                "password": service["password"],
                "user_domain_name": service["user_domain_name"],
            },
            "global_job_scheduler": {"tick_interval": 2},
        }
        return write_ini(self.workdir / "t4o.conf", conf)

    def start(self, timeout: float = 90.0) -> None:
        for port in (WORKLOADS_PORT, DATAMOVER_PORT):
            if port_in_use(port):
                raise RuntimeError(
                    f"127.0.0.1:{port} is in use by another process; the T4O services listen on the ports "
                    "of devcloud's catalog (workloads 8780, datamover 8784)"
                )
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.write_config()
        sync = subprocess.run(
            [str(BIN / "workloadmgr-manage"), "--config-file", str(conf), "db", "sync"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        if sync.returncode != 0:
            raise RuntimeError(f"workloadmgr-manage db sync failed: {sync.stderr[-2000:]}")
        for binary, _ in SERVICES:
            self.start_one(binary)
        self.wait_ready(timeout)

    def start_one(self, binary: str) -> subprocess.Popen[bytes]:
        self._starts[binary] = self.log(binary).count(f"{binary} started on host")
        return self.spawn(binary, [str(BIN / binary), "--config-file", str(self.workdir / "t4o.conf")])

    def wait_ready(self, timeout: float = 90.0, only: str | None = None) -> None:
        deadline = time.monotonic() + timeout
        pending = {b for b, _ in SERVICES if only in (None, b)}
        while pending and time.monotonic() < deadline:
            self.raise_if_exited(pending)
            for binary in sorted(pending):
                if binary in ("workloadmgr-api", "datamover-api"):
                    port = WORKLOADS_PORT if binary == "workloadmgr-api" else DATAMOVER_PORT
                    with contextlib.suppress(requests.RequestException):
                        if requests.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                            pending.discard(binary)
                elif self.log(binary).count(f"{binary} started on host") > self._starts.get(binary, 0):
                    pending.discard(binary)
            time.sleep(0.3)
        if pending:
            raise RuntimeError(f"not ready after {timeout:.0f} s: {', '.join(sorted(pending))}")

    # the workloadmgr API, as a user of devcloud
    def request(self, method: str, path: str, token: str, project: str, **kwargs: Any) -> Any:
        resp = requests.request(
            method, f"{self.url}/v1/{project}{path}", headers={"X-Auth-Token": token}, timeout=60, **kwargs
        )
        if resp.status_code >= 400:
            raise RuntimeError(f"{method} {path} answered {resp.status_code}: {resp.text[:500]}")
        return resp.json() if resp.content else None

    def wait_job(self, kind: str, job_id: str, token: str, project: str, timeout: float = 900) -> dict:
        deadline = time.monotonic() + timeout
        job: dict[str, Any] = {}
        while time.monotonic() < deadline:
            job = self.request("GET", f"/{kind}s/{job_id}", token, project)[kind]
            if job["status"] in ("available", "error", "cancelled"):
                return job
            time.sleep(1.0)
        raise RuntimeError(f"{kind} {job_id} did not finish in {timeout:.0f} s: {job.get('progress_msg')}")


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def mariadb_database() -> Iterator[str]:
    import pymysql

    name = f"t4o_{uuid.uuid4().hex[:10]}"
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    try:
        yield f"mysql+pymysql://root@127.0.0.1:3306/{name}?charset=utf8mb4"
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.close()


def libvirt_uri(state: Path) -> str:
    return f"qemu+unix:///system?socket={state / 'libvirt' / 'run' / 'libvirt-sock'}"


def disk_alias(xml: str, dev: str) -> str:
    """QEMU's device id of a domain disk: its libvirt alias (Nova names volumes ``ua-<volume id>``)."""
    import xml.etree.ElementTree as ET

    for disk in ET.fromstring(xml).findall("./devices/disk"):
        target, alias = disk.find("target"), disk.find("alias")
        if target is not None and target.get("dev") == dev and alias is not None:
            return str(alias.get("name"))
    raise RuntimeError(f"the domain has no disk {dev} with an alias")


def write_guest(uri: str, server_id: str, offset: int, length: int, seed: int, dev: str = "vda") -> bytes:
    """Write ``length`` pseudo-random bytes (from ``seed``: incompressible, so stored sizes mean
    something) into a running server's disk through QEMU's block layer, as a guest would (so the disk's
    dirty bitmap records it). Returns the bytes written."""
    import random

    import libvirt
    import libvirt_qemu

    rng = random.Random(seed)
    data = b"".join(rng.randbytes(min(1 << 20, length - i)) for i in range(0, length, 1 << 20))
    with tempfile.NamedTemporaryFile(prefix="t4o-guest-", suffix=".bin", delete=False) as f:
        f.write(data)
    os.chmod(f.name, 0o644)  # QEMU runs as its own user
    conn = libvirt.open(uri)
    try:
        dom = conn.lookupByUUIDString(server_id)
        device = f"/machine/peripheral/{disk_alias(dom.XMLDesc(0), dev)}/virtio-backend"
        cmd = f'qemu-io -d {device} "write -s {f.name} {offset} {length}"'
        out = libvirt_qemu.qemuMonitorCommand(dom, cmd, libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP)
        if "error" in out.lower() or "conflict" in out.lower() or "invalid" in out.lower():
            raise RuntimeError(f"writing into {server_id}:{dev} failed: {out}")
    finally:
        conn.close()
        os.unlink(f.name)
    return data


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def run(keep: bool) -> list[str]:
    import openstack.config
    from openstack.connection import Connection

    state = devcloud_state()
    clouds_yaml = state / "clouds.yaml"
    deadline = time.monotonic() + 300  # devcloud may be restarting: give it a few minutes
    while True:
        status = subprocess.run(
            [str(ROOT / "devcloud" / "devcloud"), "status"], capture_output=True, text=True
        )
        if (status.returncode == 0 and clouds_yaml.exists()) or time.monotonic() > deadline:
            break
        time.sleep(5)
    if status.returncode != 0 or not clouds_yaml.exists():
        raise RuntimeError(f"devcloud is not up (run devcloud/devcloud up):\n{status.stdout[-1500:]}")
    config = openstack.config.OpenStackConfig(config_files=[str(clouds_yaml)])
    demo = Connection(config=config.get_one(cloud="devcloud-demo"))
    token, project = demo.auth_token, demo.current_project_id
    report: list[str] = []
    workdir = Path(tempfile.mkdtemp(prefix="t4o-demo-"))
    uri = libvirt_uri(state)
    server_ids: list[str] = []
    with mariadb_database() as db_url:
        services = T4OServices(workdir, clouds_yaml, uri, database_url=db_url)
        try:
            t = time.monotonic()
            services.start()
            report.append(f"services up (5 processes over RabbitMQ) in {time.monotonic() - t:.1f} s")
            flavor = demo.compute.find_flavor("devcloud.tiny", ignore_missing=False)
            image = demo.image.find_image("devcloud-tiny", ignore_missing=False)
            server = demo.compute.create_server(
                name=f"t4o-demo-{services.tag}", flavor_id=flavor.id, image_id=image.id, networks="none"
            )
            server_ids.append(server.id)
            demo.compute.wait_for_server(server, wait=300)
            write_guest(uri, server.id, 64 << 20, 32 << 20, 0x5A)
            wl = services.request(
                "POST", "/workloads", token, project,
                json={"workload": {"name": "t4o-demo", "instances": [{"instance-id": server.id}]}},
            )["workload"]  # fmt: skip
            snaps = []
            for full in (True, False):
                if not full:
                    write_guest(uri, server.id, 200 << 20, 4 << 20, 0xA5)
                t = time.monotonic()
                snap = services.request(
                    "POST", f"/workloads/{wl['id']}", token, project,
                    params={"full": "1"} if full else {}, json={"snapshot": {"name": "demo"}},
                )["snapshot"]  # fmt: skip
                job = services.wait_job("snapshot", snap["id"], token, project)
                if job["status"] != "available":
                    raise RuntimeError(f"snapshot {snap['id']} ended {job['status']}: {job.get('error_msg')}")
                snaps.append(job)
                report.append(
                    f"{job['snapshot_type']} snapshot in {time.monotonic() - t:.1f} s: "
                    f"disk size {human(job['size'])}, stored {human(job['uploaded_size'])}; "
                    f"{job['progress_msg']}"
                )
            t = time.monotonic()
            restore = services.request(
                "POST", f"/snapshots/{snaps[-1]['id']}", token, project,
                json={"restore": {"name": "demo", "options": {"restore_type": "oneclick"}}},
            )["restore"]  # fmt: skip
            job = services.wait_job("restore", restore["id"], token, project)
            if job["status"] != "available":
                raise RuntimeError(f"restore {restore['id']} ended {job['status']}: {job.get('error_msg')}")
            for inst in job["instances"]:
                server_ids.append(inst["id"])
                for disk in inst["disks"]:
                    if not disk["verified"] or disk["restored_checksum"] != disk["expected_checksum"]:
                        raise RuntimeError(f"restored disk {disk['target']} of {inst['id']} does not match")
                    report.append(
                        f"restored {inst['name']} ({inst['id']}) disk {disk['target']}: "
                        f"checksum {disk['restored_checksum'][:28]}... equals the snapshot's"
                    )
            report.append(f"one-click restore in {time.monotonic() - t:.1f} s: {job['progress_msg']}")
        except BaseException:
            for binary in services.procs:
                tail = services.log(binary)[-1500:]
                print(f"--- {binary} log tail ---\n{tail}", file=sys.stderr)
            raise
        finally:
            if not keep:
                for sid in server_ids:
                    with contextlib.suppress(Exception):
                        demo.compute.delete_server(sid)
            services.stop()
            if not keep:
                shutil.rmtree(workdir, ignore_errors=True)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m t4o.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the servers and the work directory")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        report = run(args.keep)
    except Exception as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    print("T4O demo report")
    for line in report:
        print(f"  - {line}")
    print(f"  total {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
