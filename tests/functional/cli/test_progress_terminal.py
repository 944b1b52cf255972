"""A recorded terminal session: `openstack workload snapshot --wait` in tmux, its progress bar read back
with capture-pane while the snapshot runs."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from tests.fixtures.control_plane import VENV_BIN, missing_server
from tests.functional.cli.conftest import Cli, clean_env

DONE = re.compile(r"^EXIT=(\d+)", re.MULTILINE)
BAR = re.compile(r"Snapshot [0-9a-f]{8} \[([#.]{30})\]\s+(\d+)%")


def tmux(socket: str, *args: str) -> str:
    proc = subprocess.run(
        ["tmux", "-L", socket, *args], capture_output=True, text=True, timeout=30, check=True
    )
    return proc.stdout


def test_snapshot_wait_draws_a_live_progress_bar(cli: Cli, tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        missing_server("tmux is not installed (scripts/bootstrap installs it)")
    vms = cli.cp.add_servers(cli.project, 10)
    cli.json("workload", "create", "--name", "recorded", *[f"--instance={vm}" for vm in vms])
    command = shlex.join(
        [
            str(VENV_BIN / "openstack"),
            *cli.auth(),
            "workload",
            "snapshot",
            "recorded",
            "--full",
            "--wait",
            "--poll-interval",
            "0.2",
            "-c",
            "status",
            "-c",
            "progress_percent",
        ]
    )
    socket = f"t4o-cli-{uuid.uuid4().hex[:8]}"
    recording = tmp_path / "session.txt"
    frames: list[str] = []
    subprocess.run(
        [
            "tmux",
            "-L",
            socket,
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "rec",
            "-x",
            "150",
            "-y",
            "30",
            "bash --norc --noprofile",
        ],
        env=clean_env(HOME=str(tmp_path), PS1="$ "),
        check=True,
        timeout=30,
    )
    try:
        tmux(socket, "send-keys", "-t", "rec", f'{command}; echo "EXIT"=$?', "Enter")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            frame = tmux(socket, "capture-pane", "-p", "-t", "rec")
            if not frames or frame != frames[-1]:
                frames.append(frame)
            if DONE.search(frame):
                break
            time.sleep(0.05)
    finally:
        recording.write_text("\n----- frame -----\n".join(frames))
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, timeout=30, check=False)

    final = frames[-1]
    assert (done := DONE.search(final)) and done.group(1) == "0", final
    percents = [int(m.group(2)) for f in frames for m in BAR.finditer(f)]
    # The bar was seen part-way, growing, and finished at 100%.
    assert any(10 <= p < 100 for p in percents), f"no intermediate progress in {len(frames)} frames"
    assert percents == sorted(percents) and percents[-1] == 100
    partial = next(m for f in frames for m in BAR.finditer(f) if 10 <= int(m.group(2)) < 100)
    assert "#" in partial.group(1) and "." in partial.group(1)
    # Redrawn in place: the finished screen holds one bar line, followed by the command's table.
    assert len(BAR.findall(final)) == 1
    assert (
        "available" in final.split("100%")[1] and "| status" in final and "| progress_percent | 100" in final
    )
