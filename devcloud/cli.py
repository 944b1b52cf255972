"""devcloud up [--computes N] | down | status | env [cloud] | purge: a small real OpenStack on 127.0.0.1."""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from devcloud import confgen, infra, ovn, procs, services
from devcloud import layout as L

CLOUDS = {
    "devcloud-admin": ("admin", L.ADMIN_PASSWORD, "admin"),
    "devcloud-demo": ("demo", "devcloud-demo", "demo"),
    "devcloud-other": ("other", "devcloud-other", "other"),
    "devcloud-t4o": ("t4o", "devcloud-t4o", "service"),
}
START_TIMEOUT = 180.0


class StartError(RuntimeError):
    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"{service}: {reason}")
        self.service = service
        self.reason = reason


_T0 = time.monotonic()


def log(msg: str) -> None:
    # One write per line: database migrations log from several threads.
    sys.stdout.write(f"devcloud [{time.monotonic() - _T0:4.0f} s]: {msg}\n")
    sys.stdout.flush()


def _digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()


def _tables(db: str) -> int:
    sql = f"SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='{L.DB_PREFIX}{db}';"
    out = subprocess.run(
        ["mysql", "-u", L.DB_USER, f"-p{L.DB_PASSWORD}", "-h", L.HOST, "-N", "-e", sql],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        # Never guess "empty": an empty database makes `up` drop the files that belonged to it.
        raise infra.InfraError(f"cannot count the tables of {L.DB_PREFIX}{db}: {out.stderr.strip()}")
    return int(out.stdout.strip() or 0)


def _run_logged(name: str, argv: list[str], ok_codes: tuple[int, ...] = (0,)) -> None:
    with open(procs.log_file(name), "ab") as out:
        out.write(f"\n==== devcloud: {' '.join(argv)}\n".encode())
        out.flush()
        proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env=L.service_env(), cwd=L.STATE)
    if proc.returncode not in ok_codes:
        raise StartError(
            name,
            f"`{' '.join(Path(a).name if a.startswith('/') else a for a in argv[:4])} ...` "
            f"exited {proc.returncode}",
        )


# Files that only mean something next to their database rows: an empty database starts without them.
_FILES_OF_DB = {
    "nova": [
        L.INSTANCES_DIR,
        *[L.libvirt_state(h) / sub for h in L.compute_hosts() for sub in ("etc/qemu", "lib/qemu")],
    ],
    "cinder": [L.VOLUMES_DIR, L.DATA / "cinder-backups"],
    "glance": [L.DATA / "glance" / "images"],
    # OVN's northbound database mirrors Neutron's: a new neutron database starts with empty OVN ones.
    "neutron": [ovn.OVN_DIR],
}


def _forget_stale_files() -> None:
    """Before anything starts (libvirtd reads its domain definitions at start)."""
    for name, paths in _FILES_OF_DB.items():
        if _tables(name) == 0:
            _forget_files(paths, name)


def _forget_files(paths: list[Path], name: str) -> None:
    for path in paths:
        if path.exists() and any(path.iterdir()):
            log(f"new {name} database: removing the old {path.relative_to(L.STATE)}")
            for child in path.iterdir():
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()


def _db_sync(only: set[str] | None = None, skip: set[str] | None = None) -> None:
    stamp_key = _digest(L.HERE / "constraints.txt", L.HERE / "services.py")
    first_db = {
        "keystone": "keystone",
        "glance": "glance",
        "placement": "placement",
        "nova": "nova",
        "cinder": "cinder",
        "neutron": "neutron",
        "barbican": "barbican",
    }

    def sync(name: str, steps: list[list[str]]) -> None:
        stamp = L.DATA / name / ".db-synced"
        if stamp.exists() and stamp.read_text() == stamp_key and _tables(first_db[name]) > 0:
            return
        log(f"preparing the {name} database")
        for argv in steps:
            _run_logged(f"{name}-manage", argv, ok_codes=(0, 2) if "create_cell" in argv else (0,))
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(stamp_key)

    steps = [
        (n, s) for n, s in services.db_sync_steps() if (only is None or n in only) and n not in (skip or ())
    ]
    with ThreadPoolExecutor(max_workers=len(steps) or 1) as pool:
        for f in [pool.submit(sync, n, s) for n, s in steps]:
            f.result()


def _start(svc: services.Service) -> bool:
    """Start the service unless it runs; True when it was started now."""
    if procs.running_pid(svc.name) is not None:
        return False
    if svc.port is not None and infra.port_open(svc.port):
        raise StartError(
            svc.name, f"port {svc.port} on {L.HOST} is already taken by a program devcloud did not start"
        )
    procs.start(svc.name, svc.argv, {**L.service_env(), **svc.env})
    return True


def _wait_healthy(svcs: list[services.Service], timeout: float, just_started: bool) -> None:
    deadline = time.monotonic() + timeout
    pending = list(svcs)
    # Workers that crash at import do so within seconds: watch freshly started ones that long.
    settle = time.monotonic() + (5 if just_started else 0)
    while pending or time.monotonic() < settle:
        for svc in list(pending) + [s for s in svcs if s not in pending]:
            if procs.running_pid(svc.name) is None:
                raise StartError(svc.name, "exited during start")
        pending = [s for s in pending if not services.healthy(s)]
        if time.monotonic() > deadline:
            raise StartError(pending[0].name, f"no answer on port {pending[0].port} after {timeout:.0f} s")
        time.sleep(0.5)


def _configure_switch() -> None:
    try:
        ovn.configure_switch()
    except (infra.InfraError, subprocess.TimeoutExpired) as err:
        raise StartError("ovsdb-server", f"cannot configure the switch database: {err}") from err


def _wait_switch() -> None:
    try:
        ovn.wait_switch()
    except (infra.InfraError, subprocess.TimeoutExpired) as err:
        raise StartError("ovs-vswitchd", f"did not apply its database: {err}") from err


def _seed(step: str, arg: str) -> None:
    argv = [str(L.VENV_PY), str(L.HERE / "seed.py"), step, arg, L.ADMIN_PASSWORD]
    _run_logged("seed", argv)


def _seed_identity() -> None:
    seed_key = _digest(L.HERE / "seed.py")
    stamp = L.DATA / ".seeded-identity"
    if not (stamp.exists() and stamp.read_text() == seed_key):
        log("seeding projects, users and the service catalog")
        _seed("identity", L.SERVICE_PASSWORD)
        stamp.write_text(seed_key)


def _make_image() -> Path:
    """A 64 MiB qcow2 with known bytes (0x5a in its first MiB): small, and recognisable on a restore."""
    image = L.DATA / "devcloud-tiny.qcow2"
    if not image.exists():
        tmp = image.with_suffix(".tmp")
        infra.run(["qemu-img", "create", "-f", "qcow2", str(tmp), "64M"])
        infra.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 1M", str(tmp)])
        tmp.rename(image)
    return image


def write_clouds_yaml() -> None:
    lines = ["# Written by `devcloud up`: the clouds of devcloud (openstacksdk / openstack CLI).", "clouds:"]
    for cloud, (user, password, project) in CLOUDS.items():
        lines += [
            f"  {cloud}:",
            "    auth:",
            f"      auth_url: http://{L.HOST}:5000/v3",
            f"      username: {user}",
            f"      password: {password}",
            f"      project_name: {project}",
            "      user_domain_name: Default",
            "      project_domain_name: Default",
            f"    region_name: {L.REGION}",
            "    identity_api_version: 3",
            "    interface: public",
        ]
    L.CLOUDS_YAML.write_text("\n".join(lines) + "\n")


def _set_computes(count: int | None) -> None:
    """Keep the number of compute hosts for this and later commands; stop the hosts beyond it."""
    before = L.compute_hosts()
    if count is not None:
        L.COMPUTES_FILE.write_text(f"{count}\n")
    for host in before[len(L.compute_hosts()) :]:
        log(f"stopping the compute host {host}")
        infra.stop_domains([host])
        for name in (f"nova-compute{L.host_suffix(host)}", f"libvirtd{L.host_suffix(host)}"):
            procs.stop(name)


def _computes_script(step: str, hosts: list[str], arg: str) -> None:
    argv = [str(L.VENV_PY), str(L.HERE / "computes.py"), step, ",".join(hosts), arg, L.ADMIN_PASSWORD]
    _run_logged("seed", argv)


def _ready_extra_computes(started: list[str]) -> None:
    """Wait for the extra compute hosts, map them into cell1, and keep the ones started now disabled."""
    extra = L.compute_hosts()[1:]
    if not extra:
        return
    t0 = time.monotonic()
    try:
        _computes_script("wait", extra, "120")
    except StartError as err:
        raise StartError(f"nova-compute{L.host_suffix(extra[0])}", procs.tail("seed", 1)) from err
    fresh = [h for h in extra if f"nova-compute{L.host_suffix(h)}" in started]
    if fresh:
        nova_manage = [str(L.VENV_BIN / "nova-manage"), "--config-file", str(L.ETC / "nova" / "nova.conf")]
        _run_logged("nova-manage", [*nova_manage, "cell_v2", "discover_hosts"])
        _computes_script("disable", fresh, "-")
    log(
        f"compute hosts {', '.join(extra)} ready in {time.monotonic() - t0:.0f} s"
        + (" (disabled)" if fresh else "")
    )


def up(computes: int | None = None) -> int:
    t0 = time.monotonic()
    L.STATE.mkdir(parents=True, exist_ok=True)
    L.LOGS.mkdir(parents=True, exist_ok=True)
    L.RUN.mkdir(parents=True, exist_ok=True)
    stage = "prerequisites"
    try:
        _set_computes(computes)
        hosts = L.compute_hosts()
        infra.ensure_venv(log)
        infra.ensure_mariadb(log)
        infra.ensure_rabbitmq(log)
        if L.COMPUTE_DRIVER == "libvirt":
            infra.prepare_libvirt(hosts)
        confgen.write_all()
        infra.ensure_share_mounted()
        stage = "databases"
        neutron_had_rows = _tables("neutron") > 0
        _forget_stale_files()
        ovn.prepare()
        # Set once OVN's northbound database holds what Neutron's holds (a new cloud: from the start).
        ovn_synced = ovn.OVN_DIR / ".neutron-synced"
        # Keystone first; the other databases migrate while keystone starts and is seeded.
        _db_sync(only={"keystone"})
        with ThreadPoolExecutor(max_workers=1) as pool:
            others = pool.submit(_db_sync, None, {"keystone"})
            all_svcs = services.all_services()
            first = [s for s in all_svcs if s.stage == 1]
            rest = [s for s in all_svcs if s.stage == 2]
            first_started = []
            for svc in first:
                if _start(svc):
                    first_started.append(svc.name)
                if svc.name == "ovsdb-server":
                    _configure_switch()
            _wait_healthy(first, 90, bool(first_started))
            _wait_switch()
            late = infra.wait_libvirt(30, hosts) if L.COMPUTE_DRIVER == "libvirt" else None
            if late is not None:
                raise StartError(f"libvirtd{L.host_suffix(late)}", "no answer on its socket after 30 s")
            _seed_identity()
            others.result()
        if neutron_had_rows and not ovn_synced.exists():
            # A state directory from before OVN (or whose OVN databases were deleted): copy Neutron's
            # networks, subnets, ports and routers into OVN before the Neutron API serves them.
            log("copying Neutron's networks into the new OVN northbound database")
            _run_logged(
                "neutron-ovn-db-sync", [*services.neutron_sync_argv(), "--ovn-neutron_sync_mode", "repair"]
            )
        ovn_synced.touch()
        waiting = [svc.name for svc in rest if procs.running_pid(svc.name) is None]
        if waiting:
            log(f"starting {len(waiting)} services: {', '.join(waiting)}")
        started = [svc.name for svc in rest if _start(svc)]
        _wait_healthy(rest, START_TIMEOUT, bool(started))
        seed_key = _digest(L.HERE / "seed.py")
        stamp = L.DATA / ".seeded-resources"
        if started or not (stamp.exists() and stamp.read_text() == seed_key):
            _seed("resources", str(_make_image()))
            # Map the compute host into cell1 now rather than at the scheduler's next periodic discovery.
            nova_manage = [
                str(L.VENV_BIN / "nova-manage"),
                "--config-file",
                str(L.ETC / "nova" / "nova.conf"),
            ]
            _run_logged("nova-manage", [*nova_manage, "cell_v2", "discover_hosts"])
            stamp.write_text(seed_key)
        try:
            _seed("wait", "120")
        except StartError as err:
            # Name the service that is not ready, so its log tail is the one printed.
            last = procs.tail("seed", 1)
            culprit = next((n for n in ("nova-compute", "cinder-volume") if n in last), "nova-compute")
            raise StartError(culprit, last) from err
        _ready_extra_computes(started)
        write_clouds_yaml()
    except StartError as err:
        print(f"devcloud: FAILED to start {err.service}: {err.reason}", file=sys.stderr)
        print(f"---- last lines of {procs.log_file(err.service)}", file=sys.stderr)
        print(procs.tail(err.service), file=sys.stderr)
        return 1
    except infra.InfraError as err:
        print(f"devcloud: FAILED during {stage}: {err}", file=sys.stderr)
        return 1
    status(quiet_ok=False)
    log(f"up in {time.monotonic() - t0:.0f} s; clouds: {L.CLOUDS_YAML}")
    return 0


def _infra_rows() -> list[tuple[str, str, str, str]]:
    rows = [
        ("mariadb", "3306", "-", "ok" if infra.port_open(3306) else "DOWN"),
        ("rabbitmq", "5672", "-", "ok" if infra.port_open(5672) else "DOWN"),
    ]
    return rows


def status(quiet_ok: bool = False) -> int:
    rows = _infra_rows()
    for svc in services.all_services():
        pid = procs.running_pid(svc.name)
        if pid is None:
            health = "DOWN"
        elif svc.port is not None:
            health = "ok" if services.healthy(svc) else "NOT ANSWERING"
        else:
            health = "ok"
        rows.append((svc.name, str(svc.port or "-"), str(pid or "-"), health))
    bad = [r for r in rows if r[3] != "ok"]
    if not (quiet_ok and not bad):
        print(f"{'SERVICE':20} {'PORT':6} {'PID':8} HEALTH")
        for name, port, pid, health in rows:
            print(f"{name:20} {port:6} {pid:8} {health}")
        print(f"compute driver: {L.COMPUTE_DRIVER}; logs: {L.LOGS}; clouds: {L.CLOUDS_YAML}")
        hosts = ", ".join(L.compute_hosts())
        print(f"compute hosts: {hosts} (the extra ones disabled in Nova unless a test uses them)")
        mounts = infra.our_mounts()
        print(f"mounts: {', '.join(mounts) if mounts else 'none'}")
        ours = procs.pss_mib(procs.strays(procs.service_groups()))
        shared = procs.pss_mib(procs.pids_of_programs("mariadbd", "mysqld", "beam.smp", "epmd"))
        print(f"memory (PSS): devcloud processes {ours:.0f} MiB; MariaDB + RabbitMQ {shared:.0f} MiB")
    return 3 if bad else 0


def down() -> int:
    sids = procs.service_groups()
    infra.stop_domains(L.compute_hosts())
    procs.terminate([p for s in services.all_services() if (p := procs.running_pid(s.name)) is not None])
    for svc in services.all_services():
        procs.pid_file(svc.name).unlink(missing_ok=True)
    strays = procs.strays(sids)
    if strays:
        procs.terminate(strays, timeout=10)
    infra.unmount_all()
    infra.stop_rabbitmq_if_owned()
    infra.stop_mariadb_if_owned()
    left = procs.strays(sids)
    mounts = infra.our_mounts()
    if left or mounts:
        print(f"devcloud: down left processes {left} and mounts {mounts}", file=sys.stderr)
        return 1
    log("down: no devcloud process or mount left")
    return 0


def purge() -> int:
    """down, then forget everything but the installed venv (databases, volumes, images, keys)."""
    rc = down()
    if infra.port_open(3306):
        infra.drop_databases()
    infra.delete_vhost()
    for child in L.STATE.iterdir() if L.STATE.exists() else []:
        if child != L.VENV:
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    log("purged state (kept the venv)")
    return rc


def env(cloud: str) -> int:
    if cloud not in CLOUDS:
        print(f"devcloud: unknown cloud {cloud!r}; one of {', '.join(CLOUDS)}", file=sys.stderr)
        return 2
    print(f"export OS_CLOUD={cloud}")
    print(f"export OS_CLIENT_CONFIG_FILE={L.CLOUDS_YAML}")
    return 0


def _lock() -> None:
    """One up/down/purge at a time: several test runs may share one devcloud."""
    L.STATE.mkdir(parents=True, exist_ok=True)
    handle = open(L.STATE / ".lock", "w")  # noqa: SIM115 - held until the process exits
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        log("waiting for another devcloud command to finish")
        fcntl.flock(handle, fcntl.LOCK_EX)
    _LOCKS.append(handle)


_LOCKS: list[object] = []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devcloud", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_up = sub.add_parser("up", help="install what is missing and start everything (idempotent)")
    p_up.add_argument(
        "--computes",
        type=int,
        choices=range(1, 10),
        metavar="N",
        help="compute hosts (devcloud, devcloud-c2, ...), kept for later commands (default: as before, 1 "
        "at first); the extra hosts start disabled in Nova",
    )
    sub.add_parser("down", help="stop every devcloud process and unmount its shares")
    sub.add_parser("status", help="every service with its port, pid and health")
    p_env = sub.add_parser("env", help="shell lines that select a devcloud cloud")
    p_env.add_argument("cloud", nargs="?", default="devcloud-demo")
    sub.add_parser("purge", help="down, then delete databases and state (keeps the installed venv)")
    args = parser.parse_args(argv)
    if args.cmd in ("up", "down", "purge"):
        _lock()
    if args.cmd == "up":
        return up(args.computes)
    if args.cmd == "down":
        return down()
    if args.cmd == "status":
        return status()
    if args.cmd == "purge":
        return purge()
    return env(args.cloud)


if __name__ == "__main__":
    sys.exit(main())
