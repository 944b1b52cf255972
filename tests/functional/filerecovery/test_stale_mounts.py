"""A process killed while it has an NBD disk open leaves nbdfuse mounted and connected; the
cleanup a service runs at start removes such mounts, and only those."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from t4o.filerecovery import open_disk
from t4o.filerecovery.source import cleanup_stale_mounts
from tests.functional.filerecovery.conftest import Tree

ROOT = Path(__file__).resolve().parents[3]
CHILD = """
import sys, time
from t4o.filerecovery import open_disk
disk = open_disk(sys.argv[1])
disk.filesystem(2).list("/")
print(disk.image._mounts[0].dir, flush=True)
time.sleep(600)
"""


def _mounted(point: str) -> bool:
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == point for line in f)


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"


def test_mounts_of_a_killed_process_are_removed(
    images: dict[str, tuple[Path, Tree]], nbd_export: Callable[[Path], str]
) -> None:
    uri = nbd_export(images["ext4-gpt"][0])
    child = subprocess.Popen([sys.executable, "-c", CHILD, uri], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    point = child.stdout.readline().strip()
    nbdfuse = int(Path(point + ".pid").read_text())
    with open_disk(uri) as mine:  # a live process's mount is left alone
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        assert _mounted(point) and not _gone(nbdfuse)  # what the killed process left
        assert cleanup_stale_mounts() == [point]
        assert not _mounted(point) and not Path(point).exists()
        deadline = time.monotonic() + 10
        while not _gone(nbdfuse):
            assert time.monotonic() < deadline, "nbdfuse still runs after its mount was removed"
            time.sleep(0.05)
        assert mine.filesystem(2).stat("/etc/hosts").size == 20
        assert _mounted(mine.image._mounts[0].dir)
