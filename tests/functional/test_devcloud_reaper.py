"""devcloud's reaper (devcloud/reaper.py), which libvirtd runs under: an orphan of the command it runs
(as QEMU is libvirtd's) becomes the reaper's child and is reaped as soon as it exits, and the reaper
exits with the command's status."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

REAPER = Path(__file__).resolve().parents[2] / "devcloud" / "reaper.py"


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return None


def test_an_orphan_is_reaped_by_the_reaper_and_the_commands_status_comes_back() -> None:
    # The subshell starts a sleep in the background and exits: the sleep is an orphan. The command
    # itself then waits for a line on its input before it exits with status 3.
    script = "(sleep 3 & echo $! >&2); read line; exit 3"
    proc = subprocess.Popen(
        [sys.executable, str(REAPER), "sh", "-c", script],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None and proc.stdin is not None
    orphan = int(proc.stderr.readline())
    # The subshell that started it exits a moment later: from then on its parent is the reaper.
    first = _stat(orphan)
    assert first is not None
    deadline = time.monotonic() + 30
    while (stat := _stat(orphan)) is not None and int(stat[1]) == int(first[1]) != proc.pid:
        assert time.monotonic() < deadline, "the subshell did not exit"
        time.sleep(0.01)
    assert stat is not None and int(stat[1]) == proc.pid, stat
    while (stat := _stat(orphan)) is not None:
        assert stat[0] != "Z" or time.monotonic() < deadline, "the orphan was left a zombie"
        time.sleep(0.05)
    assert proc.poll() is None  # reaped while the command still runs
    proc.stdin.write("done\n")
    proc.stdin.close()
    assert proc.wait(timeout=30) == 3


def test_a_command_killed_by_a_signal_exits_as_a_shell_says_and_usage() -> None:
    killed = subprocess.run([sys.executable, str(REAPER), "sh", "-c", "kill -TERM $$"], timeout=30)
    assert killed.returncode == 128 + 15
    usage = subprocess.run([sys.executable, str(REAPER)], capture_output=True, text=True, timeout=30)
    assert usage.returncode == 2 and "usage" in usage.stderr
