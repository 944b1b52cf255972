#!/usr/bin/env python3
"""Disaster-recovery import at scale: N workloads x M snapshots on a posix and an S3 target, imported into
an empty SQLite and an empty MariaDB database.

One command (no devcloud; MariaDB on 127.0.0.1 as root without a password, SeaweedFS from the dev extra)::

    .venv/bin/python bench/import_bench.py                      # 1000 x 10, posix and S3
    .venv/bin/python bench/import_bench.py --workloads 50 --snapshots 3 --no-s3

What it does:

1. Writes a target the way a snapshot does (``documents.workload_document``/``snapshot_document``, then
   ``Repository.put_workload``/``put_snapshot_metadata``), with three disk manifests per snapshot (two VMs:
   a root disk each, and a Cinder volume on the second) and VM records shaped like
   ``t4o.openstack.definitions.capture_server``'s (server, flavor, image, keypair, security groups with rules,
   ports, the project's networks, subnets and router, volumes). Manifests hold no chunk: every block reads
   as zeros; import lists manifests and never reads them. The S3 target lives on a SeaweedFS the bench
   starts on 127.0.0.1 and stops at the end.
2. For each target and database: a fresh migrated database, then, through ``ImportAPI`` as an
   administrator (what the REST handlers call), timed: the list of import candidates
   (``GET /workloads/get_list/import_workloads``), the import of everything (``POST
   /workloads/import_workloads``), and a second import, which must change nothing.
3. Prints a table with the ratio of each import to its target (issue 13: 60 s posix, 120 s S3).

Exits non-zero when a step fails or an import does not give the expected rows.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from t4o.common import config, policy  # noqa: E402  (the repository root is on the path only from here)
from t4o.common.context import RequestContext  # noqa: E402
from t4o.db import session  # noqa: E402
from t4o.vault import Manifest, Repository, open_target  # noqa: E402
from t4o.workloads import documents  # noqa: E402
from t4o.workloads.importer import ImportAPI  # noqa: E402

GiB = 1 << 30
SERIAL = "f82ce76f-17fe-438b-aa37-7a023058e50d"
# Issue 13: the import of 1,000 workloads x 10 snapshots, per target kind.
TARGET_SECONDS = {"posix": 60.0, "s3": 120.0}
ADMIN = RequestContext(user_id="bench", project_id="admin", roles=["admin", "member"])
WRITERS = 8  # threads writing the target (building it is not what is measured)
# (VM, disk target, size, kind): two VMs, a root disk each, and a volume attached to the second.
DISKS = ((0, "vda", 1 * GiB, "instance"), (1, "vda", 1 * GiB, "instance"), (1, "vdb", 2 * GiB, "volume"))
COUNTED = ("workloads", "workload_vms", "snapshots", "snapshot_vms")


# -- the target ----------------------------------------------------------------------------------------


def vm_definition(
    project: str, vm_id: str, name: str, net: dict[str, Any], volume: dict[str, Any] | None
) -> Any:
    """A VM record's definition in the shape ``definitions.capture_server`` gives it."""
    port_id = str(uuid.uuid4())
    sg_id = net["security_group"]
    volumes = [volume] if volume else []
    return {
        "server": {
            "id": vm_id,
            "name": name,
            "status": "ACTIVE",
            "availability_zone": "nova",
            "key_name": "bench-key",
            "metadata": {"role": "web", "owner": project},
            "description": None,
            "project_id": project,
            "image_id": net["image_id"],
        },
        "flavor": {
            "id": "m1.small",
            "name": "m1.small",
            "vcpus": 1,
            "ram": 2048,
            "disk": 1,
            "ephemeral": 0,
            "swap": 0,
            "extra_specs": {"hw:cpu_policy": "shared"},
        },
        "image": {
            "id": net["image_id"],
            "name": "debian-12",
            "disk_format": "qcow2",
            "container_format": "bare",
            "min_disk": 1,
            "min_ram": 0,
            "properties": {"os_distro": "debian", "hw_disk_bus": "virtio"},
        },
        "boot": {"source": "image", "image_id": net["image_id"]},
        "server_group": None,
        "keypair": {"name": "bench-key", "type": "ssh", "public_key": "ssh-ed25519 AAAAC3Nza" + "x" * 60},
        "security_groups": [
            {
                "id": sg_id,
                "name": "web",
                "description": "web servers",
                "rules": [
                    {
                        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{sg_id}/{i}")),
                        "direction": "ingress",
                        "ethertype": "IPv4",
                        "protocol": "tcp",
                        "port_range_min": port,
                        "port_range_max": port,
                        "remote_ip_prefix": "0.0.0.0/0",
                        "remote_group_id": None,
                    }
                    for i, port in enumerate((22, 80, 443))
                ],
            }
        ],
        "ports": [
            {
                "id": port_id,
                "name": "",
                "network_id": net["network"]["id"],
                "mac_address": "fa:16:3e:" + ":".join(f"{b:02x}" for b in uuid.UUID(port_id).bytes[:3]),
                "fixed_ips": [{"subnet_id": net["subnet"]["id"], "ip_address": "10.0.0.11"}],
                "security_group_ids": [sg_id],
                "device_owner": "compute:nova",
                "binding:vnic_type": "normal",
                "port_security_enabled": True,
                "allowed_address_pairs": [],
            }
        ],
        "topology": {"networks": [net["network"]], "subnets": [net["subnet"]], "routers": [net["router"]]},
        "volumes": volumes,
        "detached_volumes": [],
        "consistency": "crash",
        "consistency_reason": "no guest agent",
        "checkpoint": f"t4o-{uuid.uuid4().hex[:12]}",
        "checkpoint_xml": None,
        "host": "compute-1",
        "transfer": {"id": str(uuid.uuid4()), "started_at": None, "finished_at": None},
    }


def network_of(project: str) -> dict[str, Any]:
    network = {
        "id": str(uuid.uuid4()),
        "name": "private",
        "admin_state_up": True,
        "mtu": 1442,
        "shared": False,
        "router:external": False,
        "provider:network_type": "geneve",
    }
    subnet = {
        "id": str(uuid.uuid4()),
        "name": "private-v4",
        "network_id": network["id"],
        "cidr": "10.0.0.0/24",
        "ip_version": 4,
        "gateway_ip": "10.0.0.1",
        "enable_dhcp": True,
        "dns_nameservers": ["10.0.0.2"],
        "allocation_pools": [{"start": "10.0.0.10", "end": "10.0.0.250"}],
        "host_routes": [],
    }
    router = {
        "id": str(uuid.uuid4()),
        "name": "router1",
        "admin_state_up": True,
        "external_gateway_info": {"network_id": str(uuid.uuid4()), "enable_snat": True},
        "interfaces": [{"subnet_id": subnet["id"], "ip_address": "10.0.0.1"}],
        "routes": [],
        "project_id": project,
    }
    return {
        "network": network,
        "subnet": subnet,
        "router": router,
        "security_group": str(uuid.uuid4()),
        "image_id": str(uuid.uuid4()),
    }


def zero_manifest(
    repo: Repository,
    snapshot_id: str,
    disk_id: str,
    workload_id: str,
    size: int,
    parent: str | None,
    checksums: dict[int, str],
) -> Manifest:
    """A disk manifest whose blocks are all zeros (no chunk stored), as a backup of an empty disk writes."""
    from t4o.vault.manifest import block_count, tree_checksum

    blocks = block_count(size, repo.chunk_size)
    if size not in checksums:
        checksums[size] = tree_checksum([None] * blocks, size, repo.chunk_size, repo.keys.id_key)
    return Manifest(
        snapshot_id=snapshot_id,
        disk_id=disk_id,
        workload_id=workload_id,
        size=size,
        chunk_size=repo.chunk_size,
        chunks=[None] * blocks,
        checksum=checksums[size],
        encrypted=False,
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        parent=parent,
        stats={"read_bytes": 0, "new_bytes": 0},
    )


def write_workload(repo: Repository, index: int, snapshots: int, checksums: dict[int, str]) -> int:
    """One workload with ``snapshots`` snapshots, written as the snapshot flow writes them; returns the
    number of objects written."""
    project = f"project-{index % 50:03d}"
    user = f"user-{index % 200:03d}"
    created = dt.datetime(2026, 1, 1) + dt.timedelta(minutes=index)
    net = network_of(project)
    vm_ids = [str(uuid.uuid4()), str(uuid.uuid4())]
    names = [f"wl{index:05d}-web", f"wl{index:05d}-db"]
    volume = {
        "id": str(uuid.uuid4()),
        "name": f"wl{index:05d}-data",
        "size": 2,
        "volume_type": "lvmdriver-1",
        "bootable": False,
        "target": "vdb",
        "attachments": [{"server_id": vm_ids[1], "device": "/dev/vdb"}],
        "metadata": {},
    }
    wl = SimpleNamespace(
        id=str(uuid.uuid4()),
        name=f"workload-{index:05d}",
        description=f"benchmark workload {index}",
        project_id=project,
        user_id=user,
        workload_type_id=SERIAL,
        source_platform="openstack",
        jobschedule={
            "enabled": True,
            "interval": "24hr",
            "start_time": "01:00",
            "retention_policy_value": 30,
        },
        metadata_={"bench": "import"},
        encryption=False,
        secret_uuid=None,
        created_at=created,
        vms=[
            SimpleNamespace(vm_id=vm_ids[0], vm_name=names[0], volume_count=0),
            SimpleNamespace(vm_id=vm_ids[1], vm_name=names[1], volume_count=1),
        ],
    )
    written = 0
    parent_id: str | None = None
    for j in range(snapshots):
        snap = SimpleNamespace(
            id=str(uuid.uuid4()),
            name=f"snapshot-{j}",
            description="",
            project_id=project,
            user_id=user,
            host="worker-1",
            created_at=created + dt.timedelta(days=j + 1),
            started_at=created + dt.timedelta(days=j + 1, seconds=1),
            metadata_={},
        )
        incremental = parent_id is not None
        records = []
        for vm in (0, 1):
            disks = []
            for owner, target, size, kind in DISKS:
                if owner != vm:
                    continue
                disk_id = f"{vm_ids[vm]}-{target}"
                m = zero_manifest(
                    repo,
                    snap.id,
                    disk_id,
                    wl.id,
                    size,
                    f"{parent_id}/{disk_id}" if parent_id else None,
                    checksums,
                )
                repo.archive.put_manifest(m)
                written += 1
                new = 64 << 20 if incremental else size // 4
                disks.append(
                    {
                        "target": target,
                        "ref": m.ref,
                        "size": size,
                        "incremental": incremental,
                        "read_bytes": new,
                        "new_bytes": new,
                        "kind": kind,
                        "volume_id": volume["id"] if kind == "volume" else None,
                        "checksum": m.checksum,
                        "format": "raw",
                    }
                )
            definition = vm_definition(project, vm_ids[vm], names[vm], net, volume if vm == 1 else None)
            records.append(
                {
                    "vm_id": vm_ids[vm],
                    "vm_name": names[vm],
                    "definition": definition,
                    "disks": disks,
                    "size": sum(d["size"] for d in disks),
                    "status": "available",
                }
            )
        kind = "incremental" if incremental else "full"
        repo.put_workload(wl.id, documents.workload_document(wl))
        repo.put_snapshot_metadata(
            snap.id, documents.snapshot_document(snap, records, [], kind, parent_id), workload_id=wl.id
        )
        written += 2
        parent_id = snap.id
    return written


def build_target(repo: Repository, workloads: int, snapshots: int) -> int:
    checksums: dict[int, str] = {}
    with ThreadPoolExecutor(WRITERS, thread_name_prefix="bench-write") as pool:
        return sum(pool.map(lambda i: write_workload(repo, i, snapshots, checksums), range(workloads)))


# -- databases -----------------------------------------------------------------------------------------


@contextlib.contextmanager
def sqlite_database(work: Path) -> Iterator[str]:
    path = work / f"import-{uuid.uuid4().hex[:8]}.sqlite"
    try:
        yield f"sqlite:///{path}"
    finally:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{path}{suffix}")


@contextlib.contextmanager
def use_database(url: str) -> Iterator[None]:
    """The process's configured database is ``url``, migrated; engines are closed afterwards."""
    config.CONF.set_override("connection", url, group="database")
    session.sync(url)
    try:
        yield
    finally:
        session.dispose_all()
        config.CONF.clear_override("connection", group="database")


def row_counts() -> dict[str, int]:
    from sqlalchemy import text

    with session.session_scope() as s:
        return {t: int(s.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()) for t in COUNTED}


# -- measuring -----------------------------------------------------------------------------------------


@dataclass
class Row:
    target: str  # posix | s3
    database: str  # SQLite | MariaDB
    step: str  # list | import | second import
    seconds: float
    detail: str = ""


@dataclass
class Bench:
    workloads: int
    snapshots: int
    rows: list[Row] = field(default_factory=list)
    builds: dict[str, float] = field(default_factory=dict)

    def say(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


class BenchFailed(RuntimeError):
    pass


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def measure_import(b: Bench, kind: str, database: str, opener: Callable[[], Repository]) -> None:
    api = ImportAPI(open_target=opener)
    n, m = b.workloads, b.snapshots
    seconds, listed = timed(lambda: api.importable(ADMIN))
    if len(listed) != n or any(w["in_database"] for w in listed):
        raise BenchFailed(f"{kind}/{database}: {len(listed)} candidates listed, {n} expected, none imported")
    b.rows.append(Row(kind, database, "list", seconds, f"{len(listed)} workloads"))
    b.say(f"{kind} {database}: listed {len(listed)} workloads in {seconds:.1f} s")

    seconds, report = timed(lambda: api.import_workloads(ADMIN, None))
    counts = row_counts()
    want = {"workloads": n, "workload_vms": 2 * n, "snapshots": n * m, "snapshot_vms": 2 * n * m}
    if report["failed"] or len(report["imported"]) != n or counts != want:
        raise BenchFailed(
            f"{kind}/{database}: import gave {counts}, {want} expected; failed: {report['failed'][:3]}"
        )
    b.rows.append(Row(kind, database, "import", seconds, f"{n} workloads, {n * m} snapshots"))
    b.say(f"{kind} {database}: imported {n} x {m} in {seconds:.1f} s")

    seconds, again = timed(lambda: api.import_workloads(ADMIN, None))
    if len(again["unchanged"]) != n or again["imported"] or again["updated"] or row_counts() != want:
        raise BenchFailed(f"{kind}/{database}: the second import changed something: {row_counts()}")
    b.rows.append(Row(kind, database, "second import", seconds, "nothing changed"))
    b.say(f"{kind} {database}: second import (nothing changed) in {seconds:.1f} s")


def measure_target(b: Bench, kind: str, url: str, work: Path, mariadb: bool) -> None:
    repo = open_target(url, create_if_missing=True)
    try:
        b.say(f"{kind}: writing {b.workloads} workloads x {b.snapshots} snapshots to {url}")
        seconds, objects = timed(lambda: build_target(repo, b.workloads, b.snapshots))
        b.builds[kind] = seconds
        b.say(f"{kind}: {objects} documents and manifests written in {seconds:.1f} s")
    finally:
        repo.backend.close()

    def opener() -> Repository:
        return open_target(url)

    with sqlite_database(work) as db_url, use_database(db_url):
        measure_import(b, kind, "SQLite", opener)
    if mariadb:
        from demo.services import mariadb_database

        with mariadb_database() as db_url, use_database(db_url):
            measure_import(b, kind, "MariaDB", opener)


@contextlib.contextmanager
def s3_target(work: Path) -> Iterator[str]:
    """A bucket on a SeaweedFS started here (tests.fixtures.s3, as the tests start it), stopped after."""
    from tests.fixtures.s3 import new_bucket, run_seaweedfs

    with run_seaweedfs(work / "seaweedfs") as (server, _proc):
        bucket = new_bucket(server)
        os.environ["AWS_ACCESS_KEY_ID"] = server.access_key  # how S3Backend finds its credentials
        os.environ["AWS_SECRET_ACCESS_KEY"] = server.secret_key
        os.environ["AWS_REGION"] = server.region
        yield bucket.url


# -- report --------------------------------------------------------------------------------------------


def ratio(seconds: float, target: float) -> str:
    return f"{seconds / target:.2f}x"


def table(b: Bench) -> str:
    """The figures, each import with its ratio to the issue's target (scaled to the run's size)."""
    scale = (b.workloads * b.snapshots) / 10_000
    lines = [
        "| target | database | step | time | of the target | what |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in b.rows:
        limit = TARGET_SECONDS[r.target] * scale
        of = ratio(r.seconds, limit) if r.step == "import" else ""
        lines.append(f"| {r.target} | {r.database} | {r.step} | {r.seconds:.1f} s | {of} | {r.detail} |")
    return "\n".join(lines)


def verdicts(b: Bench) -> list[tuple[str, bool]]:
    scale = (b.workloads * b.snapshots) / 10_000
    return [
        (
            f"{r.target} import into {r.database}: {r.seconds:.1f} s, target "
            f"{TARGET_SECONDS[r.target] * scale:.1f} s",
            r.seconds < TARGET_SECONDS[r.target] * scale,
        )
        for r in b.rows
        if r.step == "import"
    ]


def machine() -> dict[str, str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "load": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
        "python": platform.python_version(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", type=int, default=1000, help="workloads on the target (1000)")
    parser.add_argument("--snapshots", type=int, default=10, help="snapshots per workload (10)")
    parser.add_argument("--no-s3", action="store_true", help="skip the S3 (SeaweedFS) target")
    parser.add_argument("--no-mariadb", action="store_true", help="import into SQLite only")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--work", type=Path, help="work directory (default: a new temporary one)")
    args = parser.parse_args(argv)

    config.ensure_registered()
    config.CONF([], project="t4o", default_config_files=[])
    policy.reset()
    b = Bench(args.workloads, args.snapshots)
    info = machine()
    work = Path(tempfile.mkdtemp(prefix="t4o-import-bench-", dir=args.work))
    try:
        measure_target(b, "posix", str(work / "vault"), work, not args.no_mariadb)
        if not args.no_s3:
            with s3_target(work) as url:
                measure_target(b, "s3", url, work, not args.no_mariadb)
    except BenchFailed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(
        f"{b.workloads} workloads x {b.snapshots} snapshots; {info['nproc']} CPU ({info['cpu']}), "
        f"load {info['load']}, {info['date']}"
    )
    print(
        "building the target (not measured against a target): "
        + ", ".join(f"{k} {v:.1f} s" for k, v in b.builds.items())
    )
    print(table(b))
    for text, ok in verdicts(b):
        print(("PASS " if ok else "MISS ") + text)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": info,
                    "workloads": b.workloads,
                    "snapshots": b.snapshots,
                    "builds": b.builds,
                    "rows": [r.__dict__ for r in b.rows],
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
