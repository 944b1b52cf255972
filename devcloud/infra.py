"""What the OpenStack services stand on: their venv, MariaDB, RabbitMQ, libvirt and the volume mounts."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from devcloud import confgen
from devcloud import layout as L

Log = Callable[[str], None]


class InfraError(RuntimeError):
    """A prerequisite could not be provided; the message says which and why."""


def run(argv: list[str], env: dict[str, str] | None = None, check: bool = True, timeout: float = 600) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
    if check and proc.returncode != 0:
        raise InfraError(
            f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        )
    return proc.stdout


def port_open(port: int, host: str = L.HOST) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def wait_port(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return True
        time.sleep(0.5)
    return False


def owned_flag(name: str) -> Path:
    """Marks a shared daemon (MariaDB, RabbitMQ, libvirtd) that devcloud started, so `down` stops it too."""
    return L.RUN / f"{name}.owned"


# ---- the OpenStack virtualenv -------------------------------------------------------------------------


def _venv_digest() -> str:
    text = (L.HERE / "requirements.txt").read_bytes() + (L.HERE / "constraints.txt").read_bytes()
    return hashlib.sha256(text).hexdigest()


def ensure_venv(log: Log) -> None:
    stamp = L.VENV / ".devcloud-installed"
    want = _venv_digest()
    if stamp.exists() and stamp.read_text().strip() == want and L.VENV_PY.exists():
        return
    python = os.environ.get("DEVCLOUD_PYTHON") or shutil.which("python3.11") or "python3"
    log(f"installing OpenStack into {L.VENV} (pinned by devcloud/constraints.txt)")
    if not L.VENV_PY.exists():
        run([python, "-m", "venv", str(L.VENV)])
    pip = [str(L.VENV_BIN / "pip"), "install", "-q", "--disable-pip-version-check"]
    run([*pip, "--upgrade", "pip"])
    run([*pip, "-c", str(L.HERE / "constraints.txt"), "-r", str(L.HERE / "requirements.txt")])
    stamp.write_text(want + "\n")


# ---- MariaDB ----------------------------------------------------------------------------------------


def _mysql_root(sql: str) -> str:
    # Root over the unix socket first (Debian's default auth), then over TCP (this machine's setup).
    last = ""
    for extra in ([], ["-h", L.HOST]):
        proc = subprocess.run(["mysql", "-uroot", *extra, "-N", "-e", sql], capture_output=True, text=True)
        if proc.returncode == 0:
            return proc.stdout
        last = proc.stderr
    raise InfraError(f"mysql as root failed: {last.strip()}")


def _apt_install(*packages: str) -> None:
    missing = [p for p in packages if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode != 0]
    if missing:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], env=env)


def ensure_mariadb(log: Log) -> None:
    if not port_open(3306):
        _apt_install("mariadb-server")
        log("starting MariaDB on 127.0.0.1:3306")
        Path("/run/mysqld").mkdir(exist_ok=True)
        shutil.chown("/run/mysqld", "mysql", "mysql")
        with open(L.LOGS / "mariadb.log", "ab") as out:
            subprocess.Popen(
                ["mysqld_safe", "--bind-address=127.0.0.1", "--port=3306"],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        owned_flag("mariadb").touch()
        if not wait_port(3306, 60):
            raise InfraError("MariaDB did not open 127.0.0.1:3306 within 60 s (see logs/mariadb.log)")
    names = [
        "keystone",
        "glance",
        "placement",
        "nova_api",
        "nova",
        "nova_cell0",
        "cinder",
        "neutron",
        "barbican",
    ]
    sql = [f"CREATE DATABASE IF NOT EXISTS {L.DB_PREFIX}{n} CHARACTER SET utf8mb3;" for n in names]
    for host in (L.HOST, "localhost"):
        sql.append(f"CREATE USER IF NOT EXISTS '{L.DB_USER}'@'{host}' IDENTIFIED BY '{L.DB_PASSWORD}';")
        sql.append(f"GRANT ALL PRIVILEGES ON `devcloud\\_%`.* TO '{L.DB_USER}'@'{host}';")
    _mysql_root(" ".join(sql))


def _db_pattern() -> str:
    """A LIKE pattern of devcloud's databases (the underscore escaped)."""
    return L.DB_PREFIX.replace("_", "\\_") + "%"


def drop_databases() -> None:
    rows = _mysql_root(f"SHOW DATABASES LIKE '{_db_pattern()}';").split()
    if rows:
        _mysql_root(" ".join(f"DROP DATABASE `{r}`;" for r in rows))


def stop_mariadb_if_owned() -> None:
    if owned_flag("mariadb").exists():
        subprocess.run(["mysqladmin", "-uroot", "shutdown"], capture_output=True)
        owned_flag("mariadb").unlink()


# ---- RabbitMQ ---------------------------------------------------------------------------------------


def _rabbit_env() -> dict[str, str]:
    return {
        **os.environ,
        "RABBITMQ_NODE_IP_ADDRESS": L.HOST,
        "ERL_EPMD_ADDRESS": L.HOST,
        "RABBITMQ_DIST_PORT": "25672",
    }


def ensure_rabbitmq(log: Log) -> None:
    if not port_open(5672):
        _apt_install("rabbitmq-server")
        log("starting RabbitMQ on 127.0.0.1:5672")
        run(["rabbitmq-server", "-detached"], env=_rabbit_env())
        owned_flag("rabbitmq").touch()
        run(["rabbitmqctl", "await_startup", "--timeout", "90"], env=_rabbit_env(), timeout=120)
    vhosts = run(["rabbitmqctl", "-q", "list_vhosts"]).split()
    if L.RABBIT_VHOST not in vhosts:
        run(["rabbitmqctl", "-q", "add_vhost", L.RABBIT_VHOST])
        run(["rabbitmqctl", "-q", "set_permissions", "-p", L.RABBIT_VHOST, "guest", ".*", ".*", ".*"])


def delete_vhost() -> None:
    if port_open(5672):
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", L.RABBIT_VHOST], capture_output=True)


def stop_rabbitmq_if_owned() -> None:
    if owned_flag("rabbitmq").exists():
        subprocess.run(["rabbitmqctl", "stop"], capture_output=True, env=_rabbit_env())
        subprocess.run(["epmd", "-kill"], capture_output=True)
        owned_flag("rabbitmq").unlink()


# ---- libvirt ----------------------------------------------------------------------------------------
# devcloud runs its own libvirtd in a private mount namespace, with /etc/libvirt, /run/libvirt,
# /var/lib/libvirt, /var/cache/libvirt and /var/log/libvirt bound from state/libvirt: nova then sees
# only its own domains, and a libvirtd of the machine (with other domains) is left alone. Mounts made
# on the machine (nova's volume shares) propagate into the namespace (slave propagation).

LIBVIRT_STATE = L.libvirt_state()
LIBVIRT_SOCKET = LIBVIRT_STATE / "run" / "libvirt-sock"
LIBVIRT_URI = L.libvirt_uri()
_LIBVIRT_BINDS = {
    "etc": "/etc/libvirt",
    "run": "/run/libvirt",
    "lib": "/var/lib/libvirt",
    "cache": "/var/cache/libvirt",
    "log": "/var/log/libvirt",
}


def _socket(host: str) -> Path:
    return L.libvirt_state(host) / "run" / "libvirt-sock"


def virsh(*args: str, check: bool = False, host: str = L.FIRST_COMPUTE) -> str:
    return run(["virsh", "-c", L.libvirt_uri(host), *args], check=check)


def libvirt_argv(host: str = L.FIRST_COMPUTE) -> list[str]:
    """The command that starts the libvirtd of a compute host (a devcloud service like the OpenStack
    ones); each compute's libvirtd has its own namespace, sockets and domain definitions. An extra host's
    libvirtd also gets its own host name (UTS namespace): Nova names a compute node and its resource
    provider after libvirt's host name, which must differ between the hosts. libvirtd runs under
    reaper.py, which reaps its QEMUs as soon as they exit (see there)."""
    state = L.libvirt_state(host)
    binds = " ".join(f"{state / k}:{v}" for k, v in _LIBVIRT_BINDS.items())
    extra = host != L.FIRST_COMPUTE
    script = (
        (f"hostname {host} || exit 1; " if extra else "") + f"for b in {binds}; do "
        'mkdir -p "${b#*:}" && mount --bind "${b%%:*}" "${b#*:}" || exit 1; done; '
        f"exec {sys.executable} {Path(__file__).with_name('reaper.py')} "
        f"libvirtd --pid-file {state / 'libvirtd.pid'}"
    )
    uts = ["--uts"] if extra else []
    return ["unshare", "--mount", *uts, "--propagation", "slave", "--", "/bin/sh", "-c", script]


def prepare_libvirt(hosts: list[str]) -> None:
    _apt_install("libvirt-daemon-system", "qemu-system-x86", "qemu-utils")
    share_nova_mounts()
    for host in hosts:
        _prepare_libvirt_state(L.libvirt_state(host))


def _prepare_libvirt_state(state: Path) -> None:
    for key in _LIBVIRT_BINDS:
        (state / key).mkdir(parents=True, exist_ok=True)
    etc = state / "etc"
    (etc / "libvirt.conf").write_text("# devcloud's libvirtd\n")
    (etc / "libvirtd.conf").write_text(
        "# devcloud's libvirtd: unix socket only, logs in its state folder.\n"
        'unix_sock_group = "root"\nunix_sock_rw_perms = "0770"\n'
        'auth_unix_rw = "none"\nauth_unix_ro = "none"\n'
        'log_outputs = "3:file:/var/log/libvirt/libvirtd.log"\n'
    )
    (etc / "qemu.conf").write_text(
        "# devcloud: QEMU as root without a security driver, console output to files (no virtlogd).\n"
        'user = "root"\ngroup = "root"\nsecurity_driver = "none"\nstdio_handler = "file"\n'
    )


def share_nova_mounts() -> None:
    """Make nova's volume mount base a shared mount, so the shares nova mounts there on the machine also
    appear inside libvirtd's namespace (the machine's root mount is private)."""
    L.NOVA_MNT_BASE.mkdir(parents=True, exist_ok=True)
    if str(L.NOVA_MNT_BASE) not in our_mounts():
        run(["/bin/mount", "--bind", str(L.NOVA_MNT_BASE), str(L.NOVA_MNT_BASE)])
    run(["/bin/mount", "--make-rshared", str(L.NOVA_MNT_BASE)])


def wait_libvirt(timeout: float, hosts: list[str]) -> str | None:
    """None once every host's libvirtd answers, else the first host whose libvirtd did not in time."""
    deadline = time.monotonic() + timeout
    for host in hosts:
        while subprocess.run(["virsh", "-c", L.libvirt_uri(host), "version"], capture_output=True).returncode:
            if time.monotonic() > deadline:
                return host
            time.sleep(0.5)
    return None


def our_domains(host: str = L.FIRST_COMPUTE) -> list[str]:
    """Domains of a compute host's libvirtd (empty when it is not running)."""
    if not _socket(host).exists():
        return []
    return virsh("list", "--all", "--name", host=host).split()


def stop_domains(hosts: list[str]) -> None:
    for host in hosts:
        for name in virsh("list", "--name", host=host).split() if _socket(host).exists() else []:
            virsh("destroy", name, host=host)


# ---- the pretend NFS share --------------------------------------------------------------------------


def our_mounts() -> list[str]:
    mounts = []
    for line in Path("/proc/mounts").read_text().splitlines():
        target = line.split()[1].replace("\\040", " ")
        if target.startswith(str(L.STATE) + "/"):
            mounts.append(target)
    return mounts


def ensure_share_mounted() -> None:
    """Bind-mount the volumes directory where cinder's NFS driver expects the share to be mounted."""
    target = confgen.mount_point(L.CINDER_MNT_BASE, L.NFS_SHARE)
    target.mkdir(parents=True, exist_ok=True)
    L.VOLUMES_DIR.mkdir(parents=True, exist_ok=True)
    if str(target) not in our_mounts():
        run(["/bin/mount", "--bind", str(L.VOLUMES_DIR), str(target)])


def unmount_all() -> None:
    # Deepest and latest first; a bind mount may be stacked several times on one directory.
    for _ in range(20):
        mounts = our_mounts()
        if not mounts:
            return
        for target in sorted(mounts, key=len, reverse=True):
            subprocess.run(["/bin/umount", target], capture_output=True)
    left = our_mounts()
    if left:
        for target in left:
            subprocess.run(["/bin/umount", "-l", target], capture_output=True)
