"""Each T4O service killed with SIGKILL in the middle of a job on devcloud.

One VM and one workload serve every case. Before a case the test writes the case's ``move`` bytes of new
random data into the VM's disk (and into the test's model of it, disk_model.py), starts a snapshot, waits
until the job reports bytes moved, and kills the process group of one service. The VM's disk is 2 GiB (a
flavor the test makes); the agent's bandwidth cap (``[datamover] max_bytes_per_second``) keeps each
transfer moving for several seconds, so "in the middle of moving data" is deterministic on a small machine:
the cap and the new data decide how long a transfer takes, not the disk's size (a backup reads the disk's
data extents, a restore writes no zeros). Two
``workloadmgr-workloads`` workers run (hosts ``devcloud`` and ``devcloud-w2``); the one running the job
is the one killed. Two ``workloadmgr-api`` processes (the catalog's port and a second one) and two
``workloadmgr-cron`` run too: with one killed, the job is followed through the other API, and the other
cron still runs. One process each of the scheduler, datamover-api and the agent runs. The services'
timeouts are short here (heartbeats every second, a service down after 10 s, datamover-api waiting 10 s
for an agent), so a dead service is noticed within seconds rather than a minute.

After each kill:
- the job reaches a final state within the case's bound: done by the services still running, or an
  error naming the dead one; never left queued or executing; the workload is unlocked;
- nothing is left: no T4O checkpoint or backup job on the domain, no backup directory (the NBD export's
  socket) of the agent, no Cinder snapshot or new volume, and a failed snapshot has no disk in the vault;
- where the kill could touch the vault (the worker, datamover-api or the agent: a transfer cancelled or cut
  short), the last snapshot completed before the kill restores to the bytes of the test's model;
- once the service runs again, the next snapshot succeeds.
Then a restore is killed the same way (its worker, its agent): it ends in error, nothing it created is
left (no server, volume or port with its ``t4o_restore_id``, no new port: with its worker killed, the
other worker removes them once the scheduler has failed the restore), and the workload's next snapshot
succeeds.
Last, ``t4o-vault verify --read-data`` reads every chunk of every snapshot the kills left (the vault only
grows, so one pass at the end sees what each kill wrote), and the newest snapshot restores to the model.
Each case wrote a region of the disk no other case rewrote, and an incremental snapshot keeps its parent's
chunks for what did not change, so that restore also checks what each snapshot completed through a kill
moved.

The time from each kill to the job's final state is printed (``-s``) and checked against its bound.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libvirt
import pytest
import requests
import sqlalchemy
from openstack.connection import Connection

from demo.guest import write_guest
from demo.services import ALL_SERVICES, BIN, T4OServices, port_in_use
from t4o.datamover.disks.domain_xml import parse_disks
from t4o.vault import open_repository
from tests.fixtures.control_plane import free_port
from tests.fixtures.devcloud import Devcloud
from tests.integration.disk_model import DiskModel, file_sha256

MiB = 1 << 20
GiB = 1 << 30
DISK = 2 * GiB  # the VM's root disk (its flavor's)
CAP = 4 * MiB  # bytes per second an agent moves
# A transfer of LONG takes 12 s: it still runs when the agent cancels it, UNWATCHED s after its worker's
# last poll. SHORT (6 s) is enough where the job completes anyway or the kill ends the transfer.
LONG, SHORT = 48 * MiB, 24 * MiB
SECOND_WORKER = "workloadmgr-workloads-2"
SECOND_HOST = "devcloud-w2"
SECOND_API = "workloadmgr-api-2"
SECOND_CRON = "workloadmgr-cron-2"
SECOND_CRON_HOST = "devcloud-cron2"
UNWATCHED = 6  # s: the agent cancels a transfer nobody polls for this long (its worker died)
REPORT_INTERVAL = 1  # s between heartbeats
DOWN_TIME = 10  # s without a heartbeat before a service is dead (the scheduler then fails its jobs)
RPC_TIMEOUT = 10  # s datamover-api waits for an agent's answer

#: service killed -> (final status, what the error says, seconds from the kill to the final state, bytes the
#: snapshot moves)
SNAPSHOT_CASES: dict[str, tuple[str, str, float, int]] = {
    "workloadmgr-api": ("available", "", 40, SHORT),
    "workloadmgr-scheduler": ("available", "", 40, SHORT),
    "workloadmgr-cron": ("available", "", 40, SHORT),
    # the scheduler's reaper: DOWN_TIME after the last heartbeat, every REPORT_INTERVAL
    "workloadmgr-workloads": (
        "error",
        "(workloadmgr-workloads) stopped sending heartbeats",
        DOWN_TIME + 15,
        LONG,
    ),
    # the worker's connection retries (about 3.5 s)
    "datamover-api": ("error", "datamover-api cannot be reached", 20, LONG),
    # datamover-api's [datamover] rpc_timeout
    "datamover": ("error", "datamover agent on host devcloud did not answer", RPC_TIMEOUT + 15, SHORT),
}
RESTORE_CASES: dict[str, tuple[str, float]] = {
    "workloadmgr-workloads": ("(workloadmgr-workloads) stopped sending heartbeats", DOWN_TIME + 15),
    "datamover": ("datamover agent on host devcloud did not answer", RPC_TIMEOUT + 15),
}
CLEANUP_BOUND = 120  # s from a restore's final state until what it created is gone (servers take a while)
MEASURED: dict[str, float] = {}


@dataclass
class Env:
    devcloud: Devcloud
    services: T4OServices
    conn: Connection
    server: str
    domain: str  # libvirt's name of the server's domain
    workload: str
    model: DiskModel
    tmp: Path
    # the project's volumes and Cinder snapshots before the test (a job must leave none of its own)
    volumes_before: set[str]
    cinder_snapshots_before: set[str]
    # last completed snapshot: id, vault ref of vda, the model's writes it holds (hashed when restored)
    good: tuple[str, str, int] = ("", "", 0)
    second_api: str = ""  # URL of the second workloadmgr-api
    next_offset: int = 64 * MiB
    seed: int = 100
    created_servers: list[str] = field(default_factory=list)
    network: str = ""  # the VM's network (demo-net), which a restore maps its port onto
    flavor: str = ""  # the 2 GiB flavor the test made

    @property
    def token(self) -> str:
        return str(self.conn.auth_token)

    @property
    def project(self) -> str:
        return str(self.conn.current_project_id)

    def api(self, method: str, path: str, base: str = "", **kwargs: Any) -> Any:
        """The workloadmgr API at ``base`` (default: the catalog's, port 8780) as the demo user."""
        url = f"{base or self.services.url}/v1/{self.project}{path}"
        resp = requests.request(method, url, headers={"X-Auth-Token": self.token}, timeout=60, **kwargs)
        if resp.status_code >= 400:
            raise RuntimeError(f"{method} {path} answered {resp.status_code}: {resp.text[:500]}")
        return resp.json() if resp.content else None

    def write_new_data(self, length: int) -> None:
        """Random bytes into a region no earlier case wrote: each snapshot has them to move."""
        self.seed += 1
        data = write_guest(self.devcloud.libvirt_uri, self.server, self.next_offset, length, self.seed)
        self.model.write(self.next_offset, data)
        self.next_offset += length

    def snapshot(self) -> str:
        return str(self.api("POST", f"/workloads/{self.workload}", json={"snapshot": {}})["snapshot"]["id"])

    def job(self, kind: str, job_id: str, base: str = "") -> dict[str, Any]:
        return dict(self.api("GET", f"/{kind}s/{job_id}", base)[kind])

    def completed(self, snapshot_id: str, writes: int) -> None:
        """``snapshot_id`` completed with the disk as the model's first ``writes`` writes left it."""
        snap = self.job("snapshot", snapshot_id)
        (vda,) = [d for inst in snap["instances"] for d in inst["vdisks"] if d["target"] == "vda"]
        self.good = (snapshot_id, vda["ref"], writes)


def moved_bytes(progress_msg: str) -> float:
    """The bytes a job's current transfer moved, from its progress message ("12.0 MiB of 48.0 MiB ...")."""
    units = {"B": 1, "KiB": 1 << 10, "MiB": MiB, "GiB": 1 << 30, "TiB": 1 << 40}
    found = re.search(r"([\d.]+) (B|KiB|MiB|GiB|TiB) of [\d.]+ (?:B|KiB|MiB|GiB|TiB) \(", progress_msg or "")
    return float(found.group(1)) * units[found.group(2)] if found else 0.0


def wait_moving(env: Env, kind: str, job_id: str, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = env.job(kind, job_id)
        assert job["status"] in ("queued", "executing"), job
        if job["status"] == "executing" and moved_bytes(job["progress_msg"]) > 0:
            return job
        time.sleep(0.2)
    raise AssertionError(f"{kind} {job_id} moved no data within {timeout:.0f} s: {job}")


def wait_final(env: Env, kind: str, job_id: str, bound: float, base: str = "") -> dict[str, Any]:
    """The job once final, read through the API at ``base``."""
    deadline = time.monotonic() + bound
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException, RuntimeError):
            job = env.job(kind, job_id, base)
            if job["status"] in ("available", "error", "cancelled"):
                return job
        time.sleep(0.5)
    raise AssertionError(f"{kind} {job_id} not final {bound:.0f} s after the kill: {job}")


def worker_process(host: str) -> str:
    return SECOND_WORKER if host == SECOND_HOST else "workloadmgr-workloads"


def start_second(services: T4OServices, name: str, api_port: int) -> Callable[[], None]:
    """Starts the second process of a service (SECOND_WORKER, SECOND_API, SECOND_CRON): the shared config
    with its own host (and for the API its own port). Returns what waits until it answers."""
    binary = name.removesuffix("-2")
    host = {SECOND_WORKER: SECOND_HOST, SECOND_API: "devcloud-api2", SECOND_CRON: SECOND_CRON_HOST}[name]
    extra = services.workdir / f"{name}.conf"
    extra.write_text(f"[DEFAULT]\nhost = {host}\n[api]\nbind_port = {api_port}\n")
    before = services.log(name).count(f"started on host {host}")
    args = [str(BIN / binary), "--config-file", str(services.config_file), "--config-file", str(extra)]
    proc = services.spawn(name, args)
    deadline = time.monotonic() + 60

    def wait() -> None:
        while True:
            services.raise_if_exited([name])
            log = services.log(name)
            if name == SECOND_API:
                # its own gunicorn holds the port and answers
                listening = f"of {proc.pid} ready at http://127.0.0.1:{api_port}" in log
                if listening and port_in_use(api_port):
                    with contextlib.suppress(requests.RequestException):
                        if requests.get(f"http://127.0.0.1:{api_port}/", timeout=2).status_code == 200:
                            return
            elif log.count(f"started on host {host}") > before:
                return
            assert time.monotonic() < deadline, log[-2000:]
            time.sleep(0.3)

    return wait


def heartbeat(env: Env, host: str, binary: str) -> Any:
    """The last heartbeat (``services.updated_at``) of a service process."""
    services = sqlalchemy.table(
        "services", sqlalchemy.column("host"), sqlalchemy.column("binary"), sqlalchemy.column("updated_at")
    )
    query = sqlalchemy.select(services.c.updated_at).where(
        services.c.host == host, services.c.binary == binary
    )
    engine = sqlalchemy.create_engine(env.services.database_url)
    try:
        with engine.connect() as db:
            return db.execute(query).scalar_one()
    finally:
        engine.dispose()


def restart(env: Env, proc: str) -> None:
    if proc.endswith("-2"):
        start_second(env.services, proc, int(env.second_api.rsplit(":", 1)[1]))()
        return
    env.services.start_one(proc)
    env.services.wait_ready(only=proc)


def leftovers(env: Env, servers: list[str] | None = None) -> list[str]:
    """What a job may leave behind, described; empty when nothing is."""
    found = []
    conn = libvirt.open(env.devcloud.libvirt_uri)
    try:
        dom = conn.lookupByUUIDString(env.server)
        found += [f"checkpoint {c.getName()}" for c in dom.listAllCheckpoints(0)]
        with contextlib.suppress(libvirt.libvirtError):  # raises when no backup job runs
            dom.backupGetXMLDesc(0)
            found.append("a backup job on the domain")
    finally:
        conn.close()
    found += [
        f"backup directory {d}" for d in glob.glob(f"{tempfile.gettempdir()}/t4o-backup-{env.domain}-*")
    ]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if "qemu-nbd" in cmd and any(s in cmd for s in [env.server, *(servers or [])]):
                found.append(f"NBD export {cmd.strip()}")
    volume_ids = {v.id for v in env.conn.block_storage.volumes()}
    found += [
        f"Cinder snapshot {s.id} of volume {s.volume_id}"
        for s in env.conn.block_storage.snapshots()
        if s.id not in env.cinder_snapshots_before
    ]
    found += [f"volume {v}" for v in sorted(volume_ids - env.volumes_before)]
    return found


def restore_leftovers(env: Env, restore_id: str, ports_before: set[str]) -> list[str]:
    """What a restore created that is still in the cloud: servers and volumes whose metadata name it, and
    ports made since it started."""
    key = "t4o_restore_id"
    found = [
        f"server {s.id} ({s.status})"
        for s in env.conn.compute.servers(details=True)
        if (s.metadata or {}).get(key) == restore_id
    ]
    found += [
        f"volume {v.id} ({v.status})"
        for v in env.conn.block_storage.volumes(details=True)
        if (v.metadata or {}).get(key) == restore_id
    ]
    found += [f"port {p.id}" for p in env.conn.network.ports() if p.id not in ports_before]
    return found


def wait_clean(env: Env, timeout: float = 30, servers: list[str] | None = None) -> None:
    """The agent cleans up asynchronously (an unwatched transfer is cancelled after UNWATCHED s)."""
    deadline = time.monotonic() + timeout
    while found := leftovers(env, servers):
        assert time.monotonic() < deadline, found
        time.sleep(0.5)


def vault_cmd(env: Env) -> list[str]:
    return [str(BIN / "t4o-vault"), "--repo", env.services.vault_url]


def check_restores(env: Env) -> None:
    """The last completed snapshot restores (every chunk it references read back) to the model's bytes."""
    vault = vault_cmd(env)
    snapshot_id, ref, writes = env.good
    sha = DiskModel(env.model.base, env.model.writes[:writes]).sha256()
    out = env.tmp / f"restored-{snapshot_id}.raw"
    restored = subprocess.run([*vault, "restore", ref, str(out)], capture_output=True, text=True, timeout=300)
    try:
        assert restored.returncode == 0, restored.stderr
        assert file_sha256(out) == sha, f"{ref} does not restore to the bytes the disk held at its snapshot"
    finally:
        out.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def env(
    devcloud: Devcloud, t4o_services: T4OServices, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Env]:
    services = t4o_services
    saved = (services.overrides, services.binaries)
    services.stop()
    services.overrides = {
        "DEFAULT": {"report_interval": REPORT_INTERVAL, "service_down_time": DOWN_TIME},
        "datamover": {
            "max_bytes_per_second": CAP,
            "unwatched_transfer_timeout": UNWATCHED,
            "rpc_timeout": RPC_TIMEOUT,
            "mount_detach_timeout": RPC_TIMEOUT // 2,  # kept below rpc_timeout, as its help asks
        },
    }
    services.binaries = ALL_SERVICES
    second_api = free_port()
    conn = devcloud.connection("devcloud-demo")
    admin = devcloud.connection("devcloud-admin")
    server = flavor = None
    made: Env | None = None
    try:
        services.start()
        # the second processes start while the VM boots
        starting = [
            start_second(services, name, second_api) for name in (SECOND_WORKER, SECOND_API, SECOND_CRON)
        ]
        # devcloud.tiny with a 2 GiB root disk: Nova grows the image's disk to the flavor's size
        flavor = admin.compute.create_flavor(
            name=f"t4o-it-kill-2g-{uuid.uuid4().hex[:6]}", ram=128, vcpus=1, disk=DISK // GiB, is_public=True
        ).id
        image = conn.image.find_image("devcloud-tiny", ignore_missing=False)
        network = conn.network.find_network("demo-net", ignore_missing=False)
        server = conn.compute.create_server(
            name=f"t4o-it-kill-{uuid.uuid4().hex[:6]}",
            flavor_id=flavor,
            image_id=image.id,
            networks=[{"uuid": network.id}],  # a port, so that a restore makes one too
        ).id
        conn.compute.wait_for_server(conn.compute.get_server(server), wait=300)
        for wait in starting:
            wait()
        lv = libvirt.open(devcloud.libvirt_uri)
        try:
            dom = lv.lookupByUUIDString(server)
            domain = dom.name()
            disk = Path(next(d.source for d in parse_disks(dom.XMLDesc(0)) if d.target == "vda"))
        finally:
            lv.close()
        tmp = tmp_path_factory.mktemp("kill")
        made = Env(
            devcloud, services, conn, server, domain, "", DiskModel.of(disk, tmp), tmp,
            {v.id for v in conn.block_storage.volumes()}, {s.id for s in conn.block_storage.snapshots()},
            second_api=f"http://127.0.0.1:{second_api}", flavor=flavor, network=network.id,
        )  # fmt: skip
        assert made.model.base.stat().st_size == DISK, "the VM's disk is not the flavor's 2 GiB"
        body = {"workload": {"name": "it-kill", "instances": [{"instance-id": server}]}}
        made.workload = made.api("POST", "/workloads", json=body)["workload"]["id"]
        made.write_new_data(32 * MiB)
        full = made.api("POST", f"/workloads/{made.workload}", params={"full": "1"}, json={"snapshot": {}})
        job = services.wait_job("snapshot", full["snapshot"]["id"], made.token, made.project, timeout=300)
        assert job["status"] == "available", job
        made.completed(job["id"], len(made.model.writes))
        yield made
    finally:
        if MEASURED:
            print("\nseconds from the kill to the job's final state:")
            for name, seconds in MEASURED.items():
                print(f"  {name}: {seconds:.1f}")
        for sid in [*(made.created_servers if made else []), *([server] if server else [])]:
            conn.compute.delete_server(sid, ignore_missing=True)
        for sid in [*(made.created_servers if made else []), *([server] if server else [])]:
            with contextlib.suppress(Exception):
                conn.compute.wait_for_delete(conn.compute.get_server(sid), wait=120)
        if flavor:
            admin.compute.delete_flavor(flavor, ignore_missing=True)
        services.stop()
        services.overrides, services.binaries = saved
        services.start()


@pytest.mark.parametrize("service", list(SNAPSHOT_CASES))
def test_service_killed_during_a_snapshot(env: Env, service: str) -> None:
    status, says, bound, move = SNAPSHOT_CASES[service]
    services = env.services
    env.write_new_data(move)
    writes = len(env.model.writes)  # what the snapshot holds if it completes
    sid = env.snapshot()
    job = wait_moving(env, "snapshot", sid)
    proc = worker_process(job["host"]) if service == "workloadmgr-workloads" else service
    other_cron = heartbeat(env, SECOND_CRON_HOST, "workloadmgr-cron")
    killed = time.monotonic()
    services.kill(proc)
    # with the API on 8780 killed, the second one serves (the job is read, the workload unlocked there)
    base = env.second_api if service == "workloadmgr-api" else ""
    job = wait_final(env, "snapshot", sid, bound, base)
    MEASURED[f"snapshot, {service}"] = time.monotonic() - killed
    assert job["status"] == status, job
    assert says in (job["error_msg"] or ""), job["error_msg"]
    assert env.api("GET", f"/workloads/{env.workload}", base)["workload"]["status"] == "available"
    if service == "workloadmgr-cron":  # the other cron still runs and reports
        services.raise_if_exited([SECOND_CRON])
        assert heartbeat(env, SECOND_CRON_HOST, "workloadmgr-cron") > other_cron
    if proc not in services.procs:
        restart(env, proc)
    wait_clean(env)
    if status == "available":
        env.completed(sid, writes)
    else:
        assert open_repository(env.services.vault_url, create=False).list_disks(sid) == []
        check_restores(env)
    nxt = env.snapshot()
    done = services.wait_job("snapshot", nxt, env.token, env.project, timeout=120)
    assert done["status"] == "available", done["error_msg"]
    env.completed(nxt, len(env.model.writes))
    wait_clean(env)


@pytest.mark.parametrize("service", list(RESTORE_CASES))
def test_service_killed_during_a_restore(env: Env, service: str) -> None:
    says, bound = RESTORE_CASES[service]
    services = env.services
    name = f"t4o-it-kill-restore-{uuid.uuid4().hex[:6]}"
    options = {
        "restore_type": "selective",
        "openstack": {
            "instances": [{"id": env.server, "include": True, "name": name}],
            "networks_mapping": {
                "networks": [{"snapshot_network": {"id": env.network}, "target_network": {"id": env.network}}]
            },
        },
    }
    ports_before = {p.id for p in env.conn.network.ports()}
    rid = env.api("POST", f"/snapshots/{env.good[0]}", json={"restore": {"options": options}})["restore"][
        "id"
    ]
    job = wait_moving(env, "restore", rid, timeout=300)
    assert restore_leftovers(env, rid, ports_before), "the restore created nothing before the kill"
    made = [s.id for s in env.conn.compute.servers() if s.name == name]
    env.created_servers += made
    proc = worker_process(job["host"]) if service == "workloadmgr-workloads" else service
    killed = time.monotonic()
    services.kill(proc)
    job = wait_final(env, "restore", rid, bound)
    MEASURED[f"restore, {service}"] = time.monotonic() - killed
    assert job["status"] == "error", job
    assert says in (job["error_msg"] or ""), job["error_msg"]
    assert not any(d.get("verified") for inst in job.get("instances") or [] for d in inst.get("disks") or [])
    assert env.api("GET", f"/workloads/{env.workload}")["workload"]["status"] == "available"
    restart(env, proc)
    wait_clean(env, servers=made)
    # Nothing the restore created is left: its worker removed it (the agent killed), or (the worker
    # killed) another worker did through the user's trust once the restore had failed.
    deadline = time.monotonic() + CLEANUP_BOUND
    while True:
        left = restore_leftovers(env, rid, ports_before)
        error = env.job("restore", rid)["error_msg"] or ""
        # with its worker killed, the cleaner says in the restore's error what it removed
        noted = service != "workloadmgr-workloads" or "Removed what it had created: " in error
        if not left and noted:
            break
        assert time.monotonic() < deadline, f"restore {rid}: left {left}; error: {error}"
        time.sleep(1)
    MEASURED[f"restore, {service}: until nothing it created is left"] = time.monotonic() - killed
    assert says in error, error
    env.write_new_data(4 * MiB)
    nxt = env.snapshot()
    done = services.wait_job("snapshot", nxt, env.token, env.project, timeout=120)
    assert done["status"] == "available", done["error_msg"]
    env.completed(nxt, len(env.model.writes))


def test_the_vault_reads_back_after_every_kill(env: Env) -> None:
    """Every chunk of every snapshot is there and intact, and the newest snapshot restores to the model.
    A restore's kill only reads the vault, so one pass after all the cases checks what each kill wrote."""
    verify = subprocess.run(
        [*vault_cmd(env), "verify", "--read-data"], capture_output=True, text=True, timeout=300
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    check_restores(env)
