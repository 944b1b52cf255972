#!/usr/bin/env python3
"""A 2-VM workload's snapshots and restore through T4O, next to cinder-backup of the same volume, in one run.

One command (devcloud must be running; the benchmark never starts or stops it, and it listens on the ports
of devcloud's catalog, 8780 and 8784, so it holds the devcloud lock like the integration tests)::

    DEVCLOUD_KEEP=1 flock /tmp/t4o-devcloud.lock .venv/bin/python bench/workload_bench.py

What it does, as devcloud's demo user:

1. Starts the T4O services as separate processes over RabbitMQ (``demo.services.T4OServices``, a MariaDB
   database and a vault of their own).
2. Boots two ``devcloud.tiny`` VMs, creates a 1 GiB Cinder volume and fills it with known data: in each
   64 MiB of the volume, 24 MiB of random bytes, 16 MiB of written zeros and 24 MiB never written (a hole):
   37.5% random, 25% zeros, 37.5% holes. The volume is attached to the second VM. Each root disk gets
   32 MiB of random bytes, written through QEMU's block layer as a guest would.
3. ``qemu-img convert`` of the volume's file to a sparse raw file: a plain copy, the floor.
4. T4O: full snapshot of the workload; a known change (4 MiB in each root disk, 8 MiB in the volume:
   4 MiB over random data, 4 MiB into a hole); incremental snapshot; one-click restore of the incremental
   (two new VMs and a new volume; the product checks each restored disk's checksum against the
   snapshot's).
5. cinder-backup of the same volume, still attached (``force``): full backup; the same amount changed
   at the same places; incremental backup; restore of the incremental into a new volume, compared here
   byte for byte with the volume's known data. cinder-backup runs after T4O because its path for an
   attached NFS volume takes a temporary Cinder snapshot through Nova (the running domain switches to
   a qcow2 overlay that is merged back afterwards): in the middle of T4O's chain that would replace the
   disk under T4O's checkpoint.
6. Deletes everything it created (servers, volumes, backups and their container, the workload and its
   snapshots, the services' database and work directory), also when a step fails.

Reported per step: wall time (from the request to the result being usable, polled every 0.5 s), bytes
read and bytes stored; then the ratios T4O / cinder-backup. T4O's "read" is what the datamover read
from the disks (snapshots) or fetched from the vault (restore); cinder-backup's "read" is the read I/O
(``rchar``) of the cinder-backup process. "stored" is the growth of the vault's directory and of the
backup container's directory (blocks allocated). Exits non-zero on any failure.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from demo.guest import write_guest  # noqa: E402  (the repository root is on the path only from here)
from demo.services import T4OServices, devcloud_state, libvirt_uri, mariadb_database  # noqa: E402

MiB = 1 << 20
GiB = 1 << 30
POLL = 0.5
# The volume's fill, per 64 MiB region: random bytes, then written zeros, then a hole.
REGION, RANDOM_PART, ZERO_PART = 64 * MiB, 24 * MiB, 16 * MiB
ROOT_FILL = (64 * MiB, 32 * MiB)  # offset, length of the random bytes in each root disk
ROOT_CHANGE = (300 * MiB, 4 * MiB)
T4O, T4O_VOLUME, CINDER = "T4O (workload)", "T4O (the volume's disk)", "cinder-backup"
VOLUME_CHANGES = ((8 * MiB, 4 * MiB), (REGION + 40 * MiB, 4 * MiB))  # over random data; into a hole


# -- results and their tables (pure) ----------------------------------------------------------------------


@dataclass
class Step:
    step: str  # "full", "incremental", "restore"
    tool: str
    seconds: float | None  # None: not timed on its own (one disk of a workload step)
    read: int | None  # bytes
    stored: int | None  # bytes
    note: str = ""


def human(n: float | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.2f} GiB"


def ratio(ours: float | None, theirs: float | None) -> str:
    """``ours / theirs`` as ``0.25x``; ``-`` when either is unknown or theirs is zero."""
    if ours is None or theirs is None or theirs == 0:
        return "-"
    return f"{ours / theirs:.2f}x"


def steps_table(steps: list[Step]) -> str:
    lines = [
        "| step | tool | wall time | read | stored | notes |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for s in steps:
        secs = "-" if s.seconds is None else f"{s.seconds:.1f} s"
        lines.append(f"| {s.step} | {s.tool} | {secs} | {human(s.read)} | {human(s.stored)} | {s.note} |")
    return "\n".join(lines)


def ratios_table(steps: list[Step], timed: str, disk: str, theirs: str) -> str:
    """One row per step that both sides ran: the time of ``timed`` (the whole workload) over ``theirs``,
    and the bytes of ``disk`` (the same volume's disk inside it) over ``theirs``."""
    by = {(s.step, s.tool): s for s in steps}
    lines = [
        f"| step | time: {timed} / {theirs} | read: {disk} / {theirs} | stored: {disk} / {theirs} |",
        "| --- | ---: | ---: | ---: |",
    ]
    for step in dict.fromkeys(s.step for s in steps):
        a, d, b = by.get((step, timed)), by.get((step, disk)), by.get((step, theirs))
        if b is None or (a is None and d is None):
            continue
        cells = (
            ratio(a.seconds if a else None, b.seconds),
            ratio(d.read if d else None, b.read),
            ratio(d.stored if d else None, b.stored),
        )
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# -- measuring ---------------------------------------------------------------------------------------------


def dir_usage(path: Path) -> int:
    """Bytes allocated under ``path``, a file or a directory tree (what ``du`` counts)."""
    if path.is_file():
        return path.stat().st_blocks * 512
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
    return total


def process_rchar(pid: int) -> int:
    """Bytes a process and its live children passed through read calls (``/proc/<pid>/io`` rchar)."""
    pids = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    pids.append(int(entry.name))
    total = 0
    for p in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/io").read_text().splitlines():
                if line.startswith("rchar:"):
                    total += int(line.split()[1])
    return total


def compare_with_expected(restored: Path, expected: Path) -> str:
    """Compare a restored volume's file with the expected image byte for byte. Beyond the end of a
    shorter file only zeros may be expected (they are then missing from the file, which is noted).
    Raises on any difference in the data."""
    size, have = expected.stat().st_size, restored.stat().st_size
    if have > size:
        raise RuntimeError(f"{restored}: {have} bytes, more than the volume's {size}")
    with open(restored, "rb") as r, open(expected, "rb") as e:
        for offset in range(0, size, 8 * MiB):
            want, got = e.read(8 * MiB), r.read(8 * MiB)
            if got != want[: len(got)] or want[len(got) :] != bytes(len(want) - len(got)):
                raise RuntimeError(
                    f"{restored}: differs from the expected bytes in [{offset}, {offset + 8 * MiB})"
                )
    if have < size:
        return (
            f"equal to the expected bytes, but the file ends at {human(have)} of {human(size)} (zeros follow)"
        )
    return "equal to the expected bytes"


def wait_until(what: str, check: Callable[[], bool], timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not done after {timeout:.0f} s")
        time.sleep(POLL)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# -- the cloud -------------------------------------------------------------------------------------------


class Cleanup:
    """Undo steps, run newest first; each failure is reported and the rest still run."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, Callable[[], None]]] = []

    def add(self, what: str, fn: Callable[[], None]) -> None:
        self.steps.append((what, fn))

    def run(self) -> list[str]:
        problems = []
        while self.steps:
            what, fn = self.steps.pop()
            try:
                fn()
            except Exception as exc:
                problems.append(f"{what}: {exc}")
        return problems


def devcloud_up() -> None:
    status = subprocess.run(
        [str(ROOT / "devcloud" / "devcloud"), "status"], capture_output=True, text=True, timeout=120
    )
    if status.returncode != 0 or not (devcloud_state() / "clouds.yaml").exists():
        raise SystemExit(
            "workload_bench: devcloud is not running (devcloud/devcloud up starts it; the benchmark "
            f"never does):\n{status.stdout[-2000:]}"
        )


def clone_seconds(backup_id: str, started: dt.datetime) -> float | None:
    """How long cinder-volume took to hand an attached volume's temporary clone to cinder-backup: from
    ``started`` to its "continue_backup" log line for this backup (the log's times are UTC here)."""
    log = devcloud_state() / "logs" / "cinder-volume.log"
    with contextlib.suppress(OSError):
        for line in log.read_text(errors="replace").splitlines():
            if "continue_backup" in line and f"id={backup_id}," in line:
                stamp = dt.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=dt.UTC)
                return (stamp - started).total_seconds()
    return None


def cinder_backup_pid() -> int:
    pid_file = devcloud_state() / "run" / "cinder-backup.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError) as exc:
        raise RuntimeError(f"no cinder-backup pid in {pid_file}: is cinder-backup running?") from exc
    if not Path(f"/proc/{pid}").exists():
        raise RuntimeError(f"cinder-backup (pid {pid}) is not running")
    return pid


@dataclass
class Bench:
    conn: Any  # openstack.connection.Connection as the demo user
    services: T4OServices
    uri: str
    cleanup: Cleanup
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    steps: list[Step] = field(default_factory=list)

    @property
    def token(self) -> str:
        return str(self.conn.auth_token)

    @property
    def project(self) -> str:
        return str(self.conn.current_project_id)

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.services.request(method, path, self.token, self.project, **kwargs)

    def volume_file(self, volume_id: str) -> Path:
        """The file a Cinder NFS volume's bytes are in now: after a snapshot the driver's ``.info`` file
        names the active one of the chain."""
        base = devcloud_state() / "data" / "cinder-volumes" / f"volume-{volume_id}"
        info = base.with_name(base.name + ".info")
        if info.exists():
            return base.with_name(json.loads(info.read_text())["active"])
        return base

    # -- creating and removing cloud resources
    def server(self, name: str) -> str:
        flavor = self.conn.compute.find_flavor("devcloud.tiny", ignore_missing=False)
        image = self.conn.image.find_image("devcloud-tiny", ignore_missing=False)
        srv = self.conn.compute.create_server(
            name=name, flavor_id=flavor.id, image_id=image.id, networks="none"
        )
        self.cleanup.add(f"server {srv.id}", lambda: self.delete_server(srv.id))
        return str(srv.id)

    def delete_server(self, server_id: str) -> None:
        self.conn.compute.delete_server(server_id, ignore_missing=True)
        self.conn.compute.wait_for_delete(self.conn.compute.get_server(server_id), wait=180)

    def volume(self, name: str) -> str:
        vol = self.conn.block_storage.create_volume(size=1, name=name)
        self.cleanup.add(f"volume {vol.id}", lambda: self.delete_volume(vol.id))
        self.conn.block_storage.wait_for_status(vol, "available", failures=["error"], wait=180)
        return str(vol.id)

    def delete_volume(self, volume_id: str) -> None:
        bs = self.conn.block_storage
        vol = bs.find_volume(volume_id, ignore_missing=True)
        if vol is None:
            return
        # A volume is deleted once whatever held it (a server being deleted, a backup) let it go.
        bs.wait_for_status(vol, "available", failures=["error"], wait=180)
        bs.delete_volume(volume_id)
        bs.wait_for_delete(vol, wait=180)

    def delete_backup(self, backup_id: str) -> None:
        bs = self.conn.block_storage
        backup = bs.find_backup(backup_id, ignore_missing=True)
        if backup is None:
            return
        bs.wait_for_status(backup, "available", failures=["error"], wait=300)
        bs.delete_backup(backup_id)
        bs.wait_for_delete(backup, wait=300)


def fill_volume_file(path: Path, size: int, seed: int) -> None:
    """Known data straight into a detached volume's file: per region random bytes, written zeros, a hole."""
    rng = random.Random(seed)
    fd = os.open(path, os.O_WRONLY)
    try:
        for base in range(0, size, REGION):
            os.pwrite(fd, rng.randbytes(RANDOM_PART), base)
            os.pwrite(fd, bytes(ZERO_PART), base + RANDOM_PART)
        os.fsync(fd)
    finally:
        os.close(fd)


# -- the steps ---------------------------------------------------------------------------------------------


def t4o_snapshot(b: Bench, workload_id: str, full: bool) -> dict[str, Any]:
    vault = Path(b.services.vault_url)
    before = dir_usage(vault)
    started = time.monotonic()
    snap = b.api(
        "POST", f"/workloads/{workload_id}",
        params={"full": "1"} if full else {}, json={"snapshot": {"name": "full" if full else "incr"}},
    )["snapshot"]  # fmt: skip
    job = wait_job(b, "snapshot", snap["id"])
    seconds = time.monotonic() - started
    kind = "full" if full else "incremental"
    if job["snapshot_type"] != kind:
        raise RuntimeError(
            f"snapshot {snap['id']} is {job['snapshot_type']}, not {kind}: {job['warning_msg']}"
        )
    snap = b.api("GET", f"/snapshots/{snap['id']}")["snapshot"]
    disks = [d for inst in snap["instances"] for d in inst["vdisks"]]
    volume = next(d for d in disks if d.get("volume_id"))
    b.steps.append(
        Step(
            kind, T4O, seconds, sum(d["read_bytes"] for d in disks), dir_usage(vault) - before,
            f"2 VMs, {len(disks)} disks; the job's own time {job['time_taken']:.1f} s; new chunks "
            f"{human(snap['uploaded_size'])}, the rest is manifests and documents"
            + (f"; {job['warning_msg']}" if job.get("warning_msg") else ""),
        )
    )  # fmt: skip
    b.steps.append(
        Step(kind, T4O_VOLUME, None, volume["read_bytes"], volume["new_bytes"],
             "inside the step above; stored: its new chunks (compressed)")
    )  # fmt: skip
    return snap


def wait_job(b: Bench, kind: str, job_id: str) -> dict[str, Any]:
    job: dict[str, Any] = {}

    def finished() -> bool:
        nonlocal job
        job = b.api("GET", f"/{kind}s/{job_id}")[kind]
        return job["status"] in ("available", "error", "cancelled")

    wait_until(f"{kind} {job_id}", finished)
    if job["status"] != "available":
        raise RuntimeError(f"{kind} {job_id} ended {job['status']}: {job.get('error_msg')}")
    return job


def t4o_restore(b: Bench, snapshot: dict[str, Any]) -> None:
    from t4o.vault import open_repository

    started = time.monotonic()
    restore = b.api(
        "POST", f"/snapshots/{snapshot['id']}",
        json={"restore": {"name": "bench", "options": {"restore_type": "oneclick"}}},
    )["restore"]  # fmt: skip
    try:
        job = wait_job(b, "restore", restore["id"])
    finally:
        with contextlib.suppress(Exception):
            for inst in b.api("GET", f"/restores/{restore['id']}")["restore"].get("instances") or []:
                vols = [v["id"] for v in inst.get("volumes") or []]
                b.cleanup.add(
                    f"restored volumes {vols}", lambda vols=vols: [b.delete_volume(v) for v in vols]
                )
                b.cleanup.add(f"restored server {inst['id']}", lambda sid=inst["id"]: b.delete_server(sid))
    seconds = time.monotonic() - started
    disks = [d for inst in job["instances"] for d in inst["disks"]]
    bad = [
        d["target"] for d in disks if not (d["verified"] and d["restored_checksum"] == d["expected_checksum"])
    ]
    if bad:
        raise RuntimeError(f"restore {restore['id']}: disks {bad} do not match the snapshot's checksums")
    # What the restore fetched: every stored block of every disk, as the vault holds it (compressed).
    repo = open_repository(b.services.vault_url, create=False)
    fetched: dict[str, int] = {}
    for d in disks:
        blobs = repo.get_manifest(d["ref"]).blob_ids()
        fetched[d["ref"]] = sum(repo.stored_size(cid) or 0 for cid in blobs)
    volume_ref = next(d["ref"] for i in snapshot["instances"] for d in i["vdisks"] if d.get("volume_id"))
    b.steps.append(
        Step(
            "restore", T4O, seconds, sum(fetched.values()), None,
            f"one-click of the incremental: {len(job['instances'])} new VMs, {len(disks)} disks "
            f"({human(job['size'])} of virtual disk written) verified by checksum; "
            f"the job's own time {job['time_taken']:.1f} s",
        )
    )  # fmt: skip
    b.steps.append(
        Step("restore", T4O_VOLUME, None, fetched[volume_ref], None,
             "inside the step above; read: its blocks as the vault stores them")
    )  # fmt: skip


def cinder_backup(b: Bench, volume_id: str, container: Path, incremental: bool) -> str:
    bs = b.conn.block_storage
    pid = cinder_backup_pid()
    before, rchar = dir_usage(container), process_rchar(pid)
    started, wall = time.monotonic(), dt.datetime.now(dt.UTC)
    backup = bs.create_backup(
        volume_id=volume_id, name=f"t4o-bench-{b.tag}", container=container.name,
        is_incremental=incremental, force=True,
    )  # fmt: skip
    b.cleanup.add(f"backup {backup.id}", lambda: b.delete_backup(backup.id))
    backup = bs.wait_for_status(backup, "available", failures=["error"], interval=POLL, wait=900)
    seconds = time.monotonic() - started
    if bool(backup.is_incremental) != incremental:
        raise RuntimeError(f"backup {backup.id} is_incremental={backup.is_incremental}, asked {incremental}")
    # The volume goes back to in-use once the backup's temporary resources are gone.
    wait_until(f"volume {volume_id} after the backup", lambda: bs.get_volume(volume_id).status == "in-use")
    b.steps.append(
        Step(
            "incremental" if incremental else "full", CINDER, seconds,
            process_rchar(pid) - rchar, dir_usage(container) - before,
            f"the volume only, attached: through a temporary clone, ready after "
            f"{clone_seconds(backup.id, wall) or float('nan'):.1f} s; {backup.object_count} objects",
        )
    )  # fmt: skip
    return str(backup.id)


def cinder_restore(b: Bench, backup_id: str, expected: Path) -> None:
    bs = b.conn.block_storage
    pid = cinder_backup_pid()
    rchar = process_rchar(pid)
    started = time.monotonic()
    answer = bs.restore_backup(backup_id, name=f"t4o-bench-{b.tag}-restored")
    volume_id = str(answer.volume_id)
    b.cleanup.add(f"restored volume {volume_id}", lambda: b.delete_volume(volume_id))
    bs.wait_for_status(bs.get_volume(volume_id), "available", failures=["error", "error_restoring"],
                       interval=POLL, wait=900)  # fmt: skip
    bs.wait_for_status(bs.get_backup(backup_id), "available", failures=["error"], interval=POLL, wait=300)
    seconds = time.monotonic() - started
    read = process_rchar(pid) - rchar
    checked = compare_with_expected(b.volume_file(volume_id), expected)
    b.steps.append(
        Step("restore", CINDER, seconds, read, None,
             f"the incremental into a new volume; checked here (not timed) against the known data: {checked}")
    )  # fmt: skip


def qemu_img_copy(b: Bench, volume_id: str, work: Path) -> None:
    source, target = b.volume_file(volume_id), work / "volume-copy.raw"
    started = time.monotonic()
    subprocess.run(
        ["qemu-img", "convert", "-U", "-f", "raw", "-O", "raw", str(source), str(target)],
        check=True, timeout=600,
    )  # fmt: skip
    seconds = time.monotonic() - started
    b.steps.append(
        Step("full", "qemu-img convert", seconds, dir_usage(source), dir_usage(target),
             "the volume's file to a sparse raw file: a plain copy, no compression, no sync; "
             "read: the file's allocated bytes")
    )  # fmt: skip
    target.unlink()


def run(b: Bench, work: Path) -> None:
    conn = b.conn
    # The volume first: the cleanup runs newest first, and a volume is deleted once its server is gone.
    volume = b.volume(f"t4o-bench-{b.tag}-data")
    vms = [b.server(f"t4o-bench-{b.tag}-vm{i}") for i in range(2)]
    for sid in vms:
        conn.compute.wait_for_server(conn.compute.get_server(sid), wait=300)
    # The volume's expected bytes are kept beside it: restores are checked against them.
    expected = work / "volume-expected.raw"
    expected.touch()
    os.truncate(expected, GiB)
    for path in (b.volume_file(volume), expected):
        fill_volume_file(path, GiB, seed=7)
    conn.compute.create_volume_attachment(vms[1], volume_id=volume)
    conn.block_storage.wait_for_status(conn.block_storage.get_volume(volume), "in-use", wait=180)
    for i, sid in enumerate(vms):
        write_guest(b.uri, sid, *ROOT_FILL, seed=0x10 + i)
    wl = b.api(
        "POST", "/workloads",
        json={"workload": {"name": f"bench-{b.tag}", "instances": [{"instance-id": s} for s in vms]}},
    )["workload"]  # fmt: skip
    b.cleanup.add(f"workload {wl['id']}", lambda: delete_workload(b, wl["id"]))
    container = devcloud_state() / "data" / "cinder-backups" / f"t4o-bench-{b.tag}"
    b.cleanup.add(f"backup container {container}", lambda: shutil.rmtree(container, ignore_errors=True))

    # The raw-copy floor first, while the volume is still one raw file.
    qemu_img_copy(b, volume, work)

    # T4O, all steps; then cinder-backup. cinder-backup backs an attached NFS volume up through a
    # temporary Cinder snapshot, which Nova takes and merges on the running domain (the volume becomes
    # a qcow2 file): done in the middle of T4O's chain, that would change the disk under T4O's checkpoint.
    t4o_snapshot(b, wl["id"], full=True)
    change(b, vms, expected, volume_only=False, seed=0x20)
    incr = t4o_snapshot(b, wl["id"], full=False)
    t4o_restore(b, incr)

    cinder_backup(b, volume, container, incremental=False)
    change(b, vms, expected, volume_only=True, seed=0x40)
    incr_backup = cinder_backup(b, volume, container, incremental=True)
    cinder_restore(b, incr_backup, expected)


def change(b: Bench, vms: list[str], expected: Path, volume_only: bool, seed: int) -> None:
    """The known change between a full and an incremental: 4 MiB per root disk, 8 MiB in the volume
    (written into the volume's expected image too)."""
    if not volume_only:
        for i, sid in enumerate(vms):
            write_guest(b.uri, sid, *ROOT_CHANGE, seed=seed + i)
    fd = os.open(expected, os.O_WRONLY)
    try:
        for j, (offset, length) in enumerate(VOLUME_CHANGES):
            os.pwrite(fd, write_guest(b.uri, vms[1], offset, length, seed=seed + 0x10 + j, dev="vdb"), offset)
    finally:
        os.close(fd)


def delete_workload(b: Bench, workload_id: str) -> None:
    """A full delete: the workload and its snapshots, in the database and on the backup target."""
    b.api("DELETE", f"/workloads/{workload_id}")


@contextlib.contextmanager
def t4o_services(clouds_yaml: Path, uri: str, keep: bool) -> Iterator[T4OServices]:
    workdir = Path(tempfile.mkdtemp(prefix="t4o-workload-bench-"))
    with mariadb_database() as db_url:
        services = T4OServices(workdir, clouds_yaml, uri, database_url=db_url)
        try:
            services.start()
            yield services
        except BaseException:
            for binary in services.procs:
                print(f"--- {binary} log tail ---\n{services.log(binary)[-1500:]}", file=sys.stderr)
            raise
        finally:
            services.stop()
            if not keep:
                shutil.rmtree(workdir, ignore_errors=True)


def report(steps: list[Step], load_start: str) -> str:
    nproc = os.cpu_count()
    return "\n".join(
        [
            f"date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; {nproc} cores; Python "
            f"{platform.python_version()}; load average {load_start} at the start, {loadavg()} at the end",
            "",
            steps_table(steps),
            "",
            ratios_table(steps, T4O, T4O_VOLUME, CINDER),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/workload_bench.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--keep-workdir", action="store_true", help="keep the services' logs and vault")
    args = parser.parse_args(argv)
    devcloud_up()
    import openstack.config
    from openstack.connection import Connection

    state = devcloud_state()
    config = openstack.config.OpenStackConfig(config_files=[str(state / "clouds.yaml")])
    conn = Connection(config=config.get_one(cloud="devcloud-demo"))
    cinder_backup_pid()  # fail early, before anything is created
    load_start = loadavg()
    uri = libvirt_uri(state)
    failed = False
    with (
        tempfile.TemporaryDirectory(prefix="t4o-workload-bench-copy-") as work,
        t4o_services(state / "clouds.yaml", uri, args.keep_workdir) as services,
    ):
        bench = Bench(conn, services, uri, Cleanup())
        try:
            run(bench, Path(work))
        except Exception:
            traceback.print_exc()
            failed = True
        finally:
            problems = bench.cleanup.run()
            for problem in problems:
                print(f"workload_bench: cleanup: {problem}", file=sys.stderr)
    print(report(bench.steps, load_start))
    if failed or problems:
        print("workload_bench: FAILED (see above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
