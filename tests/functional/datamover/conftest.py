"""Real libvirtd + QEMU (TCG) for the disk layer's tests: tiny domains with blank disks and no OS.

libvirtd (and virtlogd) are started here when qemu:///system does not answer, and stopped at the end of
the test run only if they were started here. A libvirtd that cannot start skips the tests with its error
(which fails the run unless it was asked to be partial).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import libvirt
import pytest

from t4o.datamover.disks import connect
from t4o.datamover.disks.errors import LibvirtUnavailable
from tests.fixtures.control_plane import missing_server
from tests.functional.datamover.scratch_domains import ScratchDomain, domain_xml

URI = "qemu:///system"
VIRTLOGD_SOCKET = "/run/libvirt/virtlogd-sock"


def _unavailable(message: str) -> NoReturn:
    missing_server(f"libvirtd not available: {message}")


def _try_connect() -> str:
    try:
        connect(URI).close()
        return ""
    except LibvirtUnavailable as exc:
        return str(exc)


@pytest.fixture(scope="session")
def libvirtd() -> Iterator[str]:
    """A libvirtd answering on qemu:///system; yields the URI."""
    error = _try_connect()
    if not error:
        yield URI
        return
    if os.geteuid() != 0:
        _unavailable(f"{error}; starting libvirtd needs root")
    missing = [b for b in ("libvirtd", "virtlogd", "qemu-system-x86_64") if not shutil.which(b)]
    if missing:
        _unavailable(f"{error}; not installed: {', '.join(missing)} (run scripts/bootstrap)")
    logdir = tempfile.mkdtemp(prefix="t4o-libvirtd-")
    started: list[subprocess.Popen[bytes]] = []
    # Decide by the sockets, not by process names: another libvirtd may run in its own mount namespace.
    for daemon in ("virtlogd", "libvirtd"):
        if daemon == "virtlogd" and _answers(VIRTLOGD_SOCKET):
            continue
        log = open(os.path.join(logdir, f"{daemon}.log"), "wb")  # noqa: SIM115 - lives as long as the daemon
        started.append(subprocess.Popen([daemon], stdout=log, stderr=subprocess.STDOUT))
    deadline = time.monotonic() + 60
    while error := _try_connect():
        dead = [p for p in started if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            logs = "".join(Path(logdir, f).read_text(errors="replace") for f in os.listdir(logdir))
            _stop(started)
            shutil.rmtree(logdir, ignore_errors=True)
            _unavailable(f"{error}; daemon output: {logs.strip()[-2000:] or 'none'}")
        time.sleep(0.5)
    yield URI
    _stop(started)
    shutil.rmtree(logdir, ignore_errors=True)


def _answers(path: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(path)
            return True
        except OSError:
            return False


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in reversed(procs):
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@pytest.fixture
def conn(libvirtd: str) -> Iterator[libvirt.virConnect]:
    c = connect(libvirtd)
    yield c
    c.close()


@pytest.fixture
def make_domain(conn: libvirt.virConnect) -> Iterator:
    """make_domain({"vda": ("qcow2", 64 * MiB)}, start=True) -> ScratchDomain (defined, persistent)."""
    made: list[ScratchDomain] = []

    def factory(spec: dict[str, tuple[str, int]], start: bool = True, agent: bool = False) -> ScratchDomain:
        name = f"t4o-test-{uuid.uuid4().hex[:8]}"
        workdir = tempfile.mkdtemp(prefix=f"{name}-")
        os.chmod(workdir, 0o755)  # QEMU runs as its own user and must reach the disk files
        disks = {}
        for target, (fmt, size) in spec.items():
            path = os.path.join(workdir, f"{target}.{fmt}")
            subprocess.run(["qemu-img", "create", "-q", "-f", fmt, path, str(size)], check=True)
            disks[target] = (path, fmt, size)
        td = ScratchDomain(conn, name, workdir, disks, {t: bytearray(s) for t, (_, _, s) in disks.items()})
        dom = conn.defineXML(domain_xml(name, disks, agent))
        made.append(td)
        if start:
            dom.create()
        return td

    yield factory
    for td in made:
        try:
            dom = conn.lookupByName(td.name)
            if dom.isActive():
                dom.destroy()
            dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA)
        except libvirt.libvirtError:
            pass
        shutil.rmtree(td.workdir, ignore_errors=True)
