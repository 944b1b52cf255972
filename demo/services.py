"""The T4O services against a running devcloud, as the demo, the integration tests and the benchmarks run
them: separate processes over RabbitMQ and MariaDB, with keystonemiddleware on devcloud's Keystone and the
APIs on the ports of devcloud's catalog (workloads 8780, datamover 8784)."""

from __future__ import annotations

import configparser
import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import MySQLdb
import requests
import yaml

from demo.processes import ProcessGroup, write_ini
from t4o.vault import Repository, RepositoryNotFound, open_backend

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WORKLOADS_PORT, DATAMOVER_PORT = 8780, 8784
APIS = {"workloadmgr-api": WORKLOADS_PORT, "datamover-api": DATAMOVER_PORT}
# What a snapshot and a restore need; workloadmgr-cron (policies, scheduled runs, retention) is the sixth.
JOB_SERVICES = (
    "workloadmgr-api",
    "workloadmgr-scheduler",
    "workloadmgr-workloads",
    "datamover-api",
    "datamover",
)
ALL_SERVICES = (*JOB_SERVICES, "workloadmgr-cron")


def devcloud_state() -> Path:
    return Path(os.environ.get("DEVCLOUD_STATE", ROOT / "devcloud" / "state")).resolve()


def libvirt_uri(state: Path) -> str:
    return f"qemu+unix:///system?socket={state / 'libvirt' / 'run' / 'libvirt-sock'}"


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _mariadb(sql: str) -> None:
    conn = MySQLdb.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def create_database(name: str) -> str:
    """A new MariaDB database (root on the machine's MariaDB, as devcloud leaves it) and its URL."""
    _mariadb(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    return f"mysql+mysqldb://root@127.0.0.1:3306/{name}?charset=utf8mb4"


def drop_database(name: str) -> None:
    _mariadb(f"DROP DATABASE IF EXISTS {name}")


@contextlib.contextmanager
def mariadb_database() -> Iterator[str]:
    name = f"t4o_{uuid.uuid4().hex[:10]}"
    url = create_database(name)
    try:
        yield url
    finally:
        drop_database(name)


@dataclass
class T4OServices(ProcessGroup):
    """The T4O services as separate processes sharing one config file, over RabbitMQ and MariaDB."""

    clouds_yaml: Path
    libvirt_uri: str
    compute_host: str = "devcloud"
    database_url: str = ""
    vault_url: str = ""
    binaries: tuple[str, ...] = JOB_SERVICES
    #: options laid over the written config, by section (e.g. a test's bandwidth cap or short timeouts)
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    _starts: dict[str, int] = field(default_factory=dict)  # "started" lines in a log before a (re)start

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{WORKLOADS_PORT}"

    @property
    def config_file(self) -> Path:
        return self.workdir / "t4o.conf"

    def write_config(self) -> Path:
        service = yaml.safe_load(self.clouds_yaml.read_text())["clouds"]["devcloud-t4o"]["auth"]
        self.vault_url = self.vault_url or str(self.workdir / "vault")
        backend = open_backend(self.vault_url)
        try:
            Repository.open(backend)
        except RepositoryNotFound:
            Repository.init(backend)  # the one-time 't4o-vault init' of a new backup target
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
                # snapshot mounts' NBD sockets and state, beside this deployment's other files
                "mount_dir": str(self.workdir / "mounts"),
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
        for section, values in self.overrides.items():
            conf.setdefault(section, {}).update(values)
        return write_ini(self.config_file, conf)

    def start(self, timeout: float = 90.0) -> None:
        for port in APIS.values():
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
        for binary in self.binaries:
            self.start_one(binary)
        self.wait_ready(timeout)

    def start_one(self, binary: str) -> subprocess.Popen[bytes]:
        self._starts[binary] = self.log(binary).count(f"{binary} started on host")
        return self.spawn(binary, [str(BIN / binary), "--config-file", str(self.config_file)])

    def start_agent(self, host: str, libvirt_uri: str, timeout: float = 60.0) -> str:
        """The datamover agent of another compute host, beside this group's services: the same config
        but that host's name and libvirt connection (and its own mount directory). Returns its process
        name, ``datamover@<host>``, whose log is ``<workdir>/datamover@<host>.log``."""
        name = f"datamover@{host}"
        conf = configparser.ConfigParser(interpolation=None)
        conf.read(self.config_file)
        conf["DEFAULT"]["host"] = host
        conf["datamover"]["libvirt_uri"] = libvirt_uri
        conf["datamover"]["mount_dir"] = str(self.workdir / f"mounts@{host}")
        path = self.workdir / f"t4o@{host}.conf"
        with open(path, "w") as f:
            conf.write(f)
        self.spawn(name, [str(BIN / "datamover"), "--config-file", str(path)])
        deadline = time.monotonic() + timeout
        while f"datamover started on host {host}" not in self.log(name):
            self.raise_if_exited([name])
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} not ready after {timeout:.0f} s:\n{self.log(name)[-2000:]}")
            time.sleep(0.3)
        return name

    def wait_ready(self, timeout: float = 90.0, only: str | None = None) -> None:
        deadline = time.monotonic() + timeout
        pending = {b for b in self.procs if only in (None, b)}
        while pending and time.monotonic() < deadline:
            self.raise_if_exited(pending)
            for binary in sorted(pending):
                if binary in APIS:
                    # Its own gunicorn must hold the port: an answer alone may come from another T4O.
                    bound = f"of {self.procs[binary].pid} ready at http://127.0.0.1:{APIS[binary]}"
                    if binary != "workloadmgr-api":
                        bound = f"Listening at: http://127.0.0.1:{APIS[binary]} ({self.procs[binary].pid})"
                    with contextlib.suppress(requests.RequestException):
                        answered = requests.get(f"http://127.0.0.1:{APIS[binary]}/", timeout=2).status_code
                        if bound in self.log(binary) and answered == 200:
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
