"""`devcloud down` leaves no process and no mount behind; `devcloud up` brings the same cloud back.

Marked disruptive, so it runs after every other test of the session; it leaves devcloud up.
"""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path

import pytest

from tests.fixtures.devcloud import Devcloud, devcloud_cmd

pytestmark = pytest.mark.disruptive

API_PORTS = (5000, 8774, 8776, 8778, 9292, 9696)


def _leftovers(state: Path) -> list[str]:
    """Processes that belong to this devcloud by any sign: working directory, command line or title (the
    gunicorn titles carry the checkout's tag, the hash of its state directory)."""
    title = f"[devcloud-{hashlib.sha256(str(state).encode()).hexdigest()[:8]}-"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd.startswith(str(state)) or title in cmd or ("qemu-system" in cmd and str(state) in cmd):
            found.append(f"{entry.name}: {cmd[:160]}")
    return found


def _mounts(state: Path) -> list[str]:
    return [line for line in Path("/proc/mounts").read_text().splitlines() if f" {state}/" in line]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_down_leaves_nothing_and_up_restores(devcloud: Devcloud) -> None:
    assert _leftovers(devcloud.state_dir), "devcloud should be running before this test"
    down = devcloud_cmd("down", timeout=300)
    assert down.returncode == 0, down.stdout + down.stderr
    assert _leftovers(devcloud.state_dir) == []
    assert _mounts(devcloud.state_dir) == []
    assert [p for p in API_PORTS if _listening(p)] == []

    up = devcloud_cmd("up")
    assert up.returncode == 0, up.stdout + up.stderr
    assert devcloud_cmd("status", timeout=60).returncode == 0
    demo = devcloud.connection("devcloud-demo")
    assert demo.compute.find_flavor("devcloud.tiny", ignore_missing=False).vcpus == 1
    assert demo.image.find_image("devcloud-tiny", ignore_missing=False).disk_format == "qcow2"
