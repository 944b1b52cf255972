"""The main job: T4O end to end against a running devcloud (``scripts/demo``, ``python -m demo``).

Starts the six T4O services as separate processes over RabbitMQ (workloadmgr-api on 8780, -scheduler,
-workloads, -cron, datamover-api on 8784, the datamover agent of the compute host), with
keystonemiddleware against devcloud's Keystone; creates a demo VM with data on its disk, a workload of
it, a full and an incremental snapshot, and a one-click restore verified by checksum; prints a short
report. Then it deletes what it created and stops the services, saying so; with ``--keep`` it leaves the
servers, the services and the Horizon dashboard running on loopback and prints how to use them
(``--stop`` stops them). Exits non-zero on any failure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import openstack.config
import openstack.exceptions
import yaml
from openstack.connection import Connection
from oslo_utils import units

from demo import dashboard
from demo.guest import write_guest
from demo.services import (
    ALL_SERVICES,
    APIS,
    ROOT,
    T4OServices,
    create_database,
    devcloud_state,
    drop_database,
    libvirt_uri,
)
from t4o.common.sizes import format_bytes

STATE = Path(os.environ.get("T4O_DEMO_STATE", ROOT / "demo" / "state")).resolve()  # of a kept demo
KEPT = STATE / "kept.json"
KEPT_DATABASE = "t4o_demo"


def wait_for_devcloud() -> Path:
    """devcloud's clouds.yaml once ``devcloud status`` reports it up (it may be restarting)."""
    clouds_yaml = devcloud_state() / "clouds.yaml"
    deadline = time.monotonic() + 300
    while True:
        status = subprocess.run(
            [str(ROOT / "devcloud" / "devcloud"), "status"], capture_output=True, text=True
        )
        if status.returncode == 0 and clouds_yaml.exists():
            return clouds_yaml
        if time.monotonic() > deadline:
            raise RuntimeError(f"devcloud is not up (run devcloud/devcloud up):\n{status.stdout[-1500:]}")
        time.sleep(5)


def connect(clouds_yaml: Path, cloud: str) -> Connection:
    config = openstack.config.OpenStackConfig(config_files=[str(clouds_yaml)])
    return Connection(config=config.get_one(cloud=cloud))


def protect_and_restore(services: T4OServices, demo: Connection, servers: dict[str, str]) -> list[str]:
    """The demo proper: a VM with known data, its workload, a full and an incremental snapshot, a
    one-click restore checked against the snapshot. Every server it creates goes into ``servers``."""
    token, project = str(demo.auth_token), str(demo.current_project_id)
    report: list[str] = []
    flavor = demo.compute.find_flavor("devcloud.tiny", ignore_missing=False)
    image = demo.image.find_image("devcloud-tiny", ignore_missing=False)
    server = demo.compute.create_server(
        name=f"t4o-demo-{services.tag}", flavor_id=flavor.id, image_id=image.id, networks="none"
    )
    servers[server.id] = f"server {server.name}"
    demo.compute.wait_for_server(server, wait=300)
    write_guest(services.libvirt_uri, server.id, 64 * units.Mi, 32 * units.Mi, 0x5A)
    wl = services.request(
        "POST", "/workloads", token, project,
        json={"workload": {"name": "t4o-demo", "instances": [{"instance-id": server.id}]}},
    )["workload"]  # fmt: skip
    report.append(f"workload t4o-demo ({wl['id']}) protects server {server.name} ({server.id})")
    snaps = []
    for full in (True, False):
        if not full:
            write_guest(services.libvirt_uri, server.id, 200 * units.Mi, 4 * units.Mi, 0xA5)
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
            f"disk size {format_bytes(job['size'])}, stored {format_bytes(job['uploaded_size'])}; "
            f"{job['progress_msg']}"
        )
    t = time.monotonic()
    restore = services.request(
        "POST", f"/snapshots/{snaps[-1]['id']}", token, project,
        json={"restore": {"name": "demo", "options": {"restore_type": "oneclick"}}},
    )["restore"]  # fmt: skip
    job = services.wait_job("restore", restore["id"], token, project)
    for inst in job.get("instances") or []:
        servers[inst["id"]] = f"restored server {inst['name']}"
    if job["status"] != "available":
        raise RuntimeError(f"restore {restore['id']} ended {job['status']}: {job.get('error_msg')}")
    for inst in job["instances"]:
        for disk in inst["disks"]:
            if not disk["verified"] or disk["restored_checksum"] != disk["expected_checksum"]:
                raise RuntimeError(f"restored disk {disk['target']} of {inst['id']} does not match")
            report.append(
                f"restored {inst['name']} ({inst['id']}) disk {disk['target']}: "
                f"checksum {disk['restored_checksum'][:28]}... equals the snapshot's"
            )
    report.append(f"one-click restore in {time.monotonic() - t:.1f} s: {job['progress_msg']}")
    return report


def delete_servers(conn: Connection, servers: dict[str, str]) -> list[str]:
    lines = []
    for sid, name in servers.items():
        try:
            server = conn.compute.get_server(sid)
            conn.compute.delete_server(server)
            conn.compute.wait_for_delete(server, wait=180)
            lines.append(f"deleted the {name} ({sid})")
        except openstack.exceptions.NotFoundException:
            lines.append(f"the {name} ({sid}) was gone already")
        except Exception as exc:
            lines.append(f"could not delete the {name} ({sid}): {exc}")
    return lines


def stop_process(pid: int, name: str, grace: float = 20.0) -> bool:
    """SIGTERM the process group of ``pid`` (SIGKILL after ``grace`` s) if ``pid`` is still ``name``."""
    try:
        if name.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return False  # gone, and the pid belongs to another process now
    except FileNotFoundError:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while alive(pid):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            deadline = time.monotonic() + grace
        time.sleep(0.2)
    return True


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def stop_kept() -> list[str]:
    """Stop what ``--keep`` left: the services and Horizon, the servers, the database, the state."""
    if not KEPT.exists():
        return []
    kept = json.loads(KEPT.read_text())
    lines = []
    stopped = [name for name, pid in kept["services"].items() if stop_process(pid, name)]
    lines.append(f"stopped the T4O services ({', '.join(stopped) or 'none was still running'})")
    if kept.get("dashboard") and stop_process(kept["dashboard"], "django-admin"):
        lines.append(f"stopped the dashboard ({kept['dashboard_url']})")
    try:
        lines += delete_servers(connect(wait_for_devcloud(), "devcloud-demo"), kept["servers"])
    except Exception as exc:
        lines.append(f"could not delete the demo's servers {', '.join(kept['servers'])}: {exc}")
    drop_database(kept["database"])
    lines.append(f"dropped the T4O database {kept['database']}")
    shutil.rmtree(STATE, ignore_errors=True)
    lines.append(f"removed {STATE} (configuration, logs and the vault)")
    return lines


def run(keep: bool) -> tuple[list[str], list[str]]:
    """The demo's report and what it cleaned up (or, with ``keep``, how to use what it left running)."""
    clouds_yaml = wait_for_devcloud()
    demo = connect(clouds_yaml, "devcloud-demo")
    if before := stop_kept():  # a kept demo holds the ports and the database
        print("stopped the demo kept before:\n" + "\n".join(f"  - {line}" for line in before))
    cleanup: list[str] = []
    if keep:
        workdir, database = STATE, KEPT_DATABASE
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        drop_database(database)  # left by a kept demo whose state was removed by hand
    else:
        workdir, database = Path(tempfile.mkdtemp(prefix="t4o-demo-")), f"t4o_{uuid.uuid4().hex[:10]}"
    services = T4OServices(
        workdir,
        clouds_yaml,
        libvirt_uri(devcloud_state()),
        database_url=create_database(database),
        binaries=ALL_SERVICES,
    )
    servers: dict[str, str] = {}
    failed = True
    try:
        t = time.monotonic()
        services.start()
        report = [
            f"services up ({len(services.procs)} processes over RabbitMQ) in {time.monotonic() - t:.1f} s"
        ]
        report += protect_and_restore(services, demo, servers)
        failed = False
    except BaseException:
        for binary in services.procs:
            print(f"--- {binary} log tail ---\n{services.log(binary)[-1500:]}", file=sys.stderr)
        raise
    finally:
        if keep and not failed:
            pids = {name: proc.pid for name, proc in services.procs.items()}
            kept = {"services": pids, "database": database, "servers": servers}
            KEPT.write_text(json.dumps(kept, indent=2))
        else:
            cleanup += delete_servers(demo, servers)
            if started := list(services.procs):
                services.stop()
                cleanup.append(f"stopped the T4O services ({', '.join(started)})")
            drop_database(database)
            cleanup.append(f"dropped the T4O database {database}")
            shutil.rmtree(workdir, ignore_errors=True)
            cleanup.append(f"removed the work directory {workdir} (configuration, logs and the vault)")
            if failed:
                print("cleaned up:\n" + "\n".join(f"  - {line}" for line in cleanup), file=sys.stderr)
    if keep:
        cleanup += keep_dashboard(clouds_yaml, services, servers)
    return report, cleanup


def keep_dashboard(clouds_yaml: Path, services: T4OServices, servers: dict[str, str]) -> list[str]:
    """Start Horizon beside the kept services; returns how to use what runs."""
    clouds = yaml.safe_load(clouds_yaml.read_text())["clouds"]
    demo, admin = clouds["devcloud-demo"]["auth"], clouds["devcloud-admin"]["auth"]
    pid, url = dashboard.start(STATE / "dashboard.log", demo["auth_url"])
    kept = json.loads(KEPT.read_text())
    KEPT.write_text(json.dumps({**kept, "dashboard": pid, "dashboard_url": url}, indent=2))
    return usage(clouds_yaml, url, demo, admin, services, servers)


def usage(
    clouds_yaml: Path,
    url: str,
    demo: dict[str, Any],
    admin: dict[str, Any],
    services: T4OServices,
    servers: dict[str, str],
) -> list[str]:
    apis = ", ".join(f"{name} http://127.0.0.1:{port}" for name, port in APIS.items())
    return [
        f"kept in project demo: the {' and the '.join(f'{n} ({i})' for i, n in servers.items())}; "
        "the workload t4o-demo with its snapshots and restore",
        f"T4O services running: {', '.join(services.binaries)} ({apis})",
        f"CLI: export OS_CLIENT_CONFIG_FILE={clouds_yaml} OS_CLOUD=devcloud-demo",
        "     .venv/bin/openstack workload list   (or .venv/bin/workloadmgr workload-list;"
        " OS_CLOUD=devcloud-admin for admin)",
        f"dashboard: {url} (Project > Backups): user {demo['username']} / password {demo['password']}; "
        f"admin {admin['username']} / {admin['password']}",
        f"logs: {STATE}/<service>.log (Horizon: dashboard.log); configuration {services.config_file}; "
        f"vault {services.vault_url}",
        "stop: scripts/demo --stop (T4O, the dashboard, the demo's servers and database); "
        "devcloud/devcloud down (devcloud)",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/demo", description=(__doc__ or "").splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--keep", action="store_true", help="leave the servers, the T4O services and the dashboard running"
    )
    mode.add_argument("--stop", action="store_true", help="stop what --keep left running")
    args = parser.parse_args(argv)
    started = time.monotonic()
    if args.stop:
        lines = stop_kept() or ["no kept demo was running"]
        print("\n".join(f"  - {line}" for line in lines))
        print("devcloud is still up: devcloud/devcloud down stops it")
        return 0
    try:
        report, after = run(args.keep)
    except Exception as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        if KEPT.exists():
            print("what it kept running is stopped by: scripts/demo --stop", file=sys.stderr)
        return 1
    print("T4O demo report")
    print("\n".join(f"  - {line}" for line in report))
    print(f"  total {time.monotonic() - started:.1f} s")
    if args.keep:
        print("\nLeft running on 127.0.0.1, with devcloud:")
        print("\n".join(f"  {line}" for line in after))
    else:
        print("\nCleaned up:")
        print("\n".join(f"  - {line}" for line in after))
        print("devcloud is left up (devcloud/devcloud status; devcloud/devcloud down stops it);")
        print("scripts/demo --keep leaves T4O and its dashboard running on it too.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
