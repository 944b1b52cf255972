"""Starting, finding and stopping devcloud's processes (pid files under state/run, logs under state/logs)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from devcloud import layout as L


def pid_file(name: str) -> Path:
    return L.RUN / f"{name}.pid"


def log_file(name: str) -> Path:
    return L.LOGS / f"{name}.log"


def argv_of(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def is_ours(pid: int) -> bool:
    """A live process that this checkout's devcloud started: a program of its venv (gunicorn retitles its
    own, with the checkout's tag), a QEMU running one of its disks, a privsep daemon reading its
    configuration, or an Open vSwitch / OVN daemon on its databases."""
    argv = argv_of(pid)
    if not argv:
        return False
    joined = " ".join(argv)
    if argv[0].startswith("gunicorn:") and f"[devcloud-{L.STATE_TAG}-" in joined:
        return True
    if str(L.STATE) not in joined:
        return False
    if Path(argv[0]).name in _SWITCH_PROGRAMS:
        return True
    return argv[0].startswith(str(L.VENV)) or "qemu-system" in argv[0] or "privsep-helper" in joined


# Open vSwitch and OVN daemons: devcloud's own name its state folder (databases, sockets) in their argv.
_SWITCH_PROGRAMS = {"ovsdb-server", "ovs-vswitchd", "ovn-northd", "ovn-controller"}


def _stat(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def start_time(pid: int) -> str:
    fields = _stat(pid)
    return fields[19] if len(fields) > 19 else ""


def group_of(pid: int) -> int:
    fields = _stat(pid)
    return int(fields[3]) if len(fields) > 3 else -1


def running_pid(name: str) -> int | None:
    """The pid in the service's pid file, if that very process (same start time) still runs."""
    try:
        pid_text, started = pid_file(name).read_text().split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) and start_time(pid) == started else None


def start(name: str, argv: list[str], env: dict[str, str]) -> int:
    L.LOGS.mkdir(parents=True, exist_ok=True)
    L.RUN.mkdir(parents=True, exist_ok=True)
    with open(log_file(name), "ab") as log:
        log.write(f"\n==== devcloud: starting {name} at {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**env, "DEVCLOUD_STATE_TAG": L.STATE_TAG},
            cwd=L.STATE,
            start_new_session=True,
        )
    pid_file(name).write_text(f"{proc.pid} {start_time(proc.pid)}\n")
    return proc.pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    fields = _stat(pid)
    state = fields[0] if fields else "Z"
    return state != "Z"


def terminate(pids: list[int], timeout: float = 15.0) -> None:
    """SIGTERM each process group, then SIGKILL whatever is still there after the timeout."""
    for pid in pids:
        for kill in (os.killpg, os.kill):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.2)
    for pid in pids:
        if _alive(pid):
            for kill in (os.killpg, os.kill):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    kill(pid, signal.SIGKILL)


def stop(name: str) -> None:
    pid = running_pid(name)
    if pid is not None:
        terminate([pid])
    pid_file(name).unlink(missing_ok=True)


def service_groups() -> set[int]:
    """Process-group ids of the running services (each was started with setsid, as its group leader)."""
    found = set()
    for f in L.RUN.glob("*.pid") if L.RUN.exists() else []:
        pid = running_pid(f.stem)
        if pid is not None:
            found.add(pid)
    return found


def strays(groups: set[int] | None = None) -> list[int]:
    """Every live process of devcloud: recognised by its command line, or in one of its groups."""
    me = os.getpid()
    sids = groups or set()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        pid = int(entry.name)
        if (is_ours(pid) or group_of(pid) in sids) and _alive(pid):
            found.append(pid)
    return found


def pss_mib(pids: list[int]) -> float:
    """Proportional set size of the processes together (shared pages counted once), in MiB."""
    total_kib = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kib += int(line.split()[1])
        except (OSError, ValueError):
            continue
    return total_kib / 1024


def pids_of_programs(*names: str) -> list[int]:
    """Pids whose program (argv[0] base name) is one of names, e.g. the machine's MariaDB."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            argv = argv_of(int(entry.name))
            if argv and Path(argv[0]).name in names:
                found.append(int(entry.name))
    return found


def tail(name: str, lines: int = 40) -> str:
    try:
        text = log_file(name).read_text(errors="replace")
    except OSError:
        return f"(no log at {log_file(name)})"
    return "\n".join(text.splitlines()[-lines:])
