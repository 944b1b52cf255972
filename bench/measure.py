"""Running one measured step: wall time and peak memory of a command (GNU time), bytes on disk."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

GNU_TIME = "/usr/bin/time"


@dataclass
class Measure:
    seconds: float
    peak_rss: int  # bytes, the largest resident set of the measured process
    cpu: float = 0.0  # user + system seconds: what the step costs when the cores are shared
    stored: int | None = None  # bytes on the target after the step, when it stores anything
    engine_seconds: float | None = None  # the vault's own time for the work, without process start
    flush_seconds: float | None = None  # a `sync` right after: what the tool left unwritten

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "seconds": round(self.seconds, 3),
            "cpu": round(self.cpu, 2),
            "peak_rss": self.peak_rss,
            "stored": self.stored,
            "engine_seconds": round(self.engine_seconds, 3) if self.engine_seconds is not None else None,
            "flush": round(self.flush_seconds, 3) if self.flush_seconds is not None else None,
        }


class StepFailed(RuntimeError):
    pass


def run(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None, log: Path) -> Measure:
    """Run ``cmd`` under GNU time; its output goes to ``log``. Raises StepFailed with the log's tail."""
    if not os.path.exists(GNU_TIME):
        raise StepFailed(f"{GNU_TIME} is missing: install the Debian package 'time' (scripts/bootstrap)")
    with tempfile.NamedTemporaryFile("r", suffix=".time") as timing, log.open("ab") as out:
        out.write(("\n$ " + " ".join(cmd) + "\n").encode())
        out.flush()
        started = time.monotonic()
        proc = subprocess.run(
            [GNU_TIME, "-f", "%M %U %S", "-o", timing.name, *cmd],
            env={**os.environ, **(env or {})},
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        seconds = time.monotonic() - started
        lines = [line for line in Path(timing.name).read_text().splitlines() if line.strip()]
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise StepFailed(f"{cmd[0]} exited with {proc.returncode}:\n{tail}")
    peak_kib, user, system = lines[-1].split()
    return Measure(seconds, int(peak_kib) * 1024, float(user) + float(system))


def disk_usage(path: Path) -> int:
    """Bytes allocated on disk under ``path`` (a file or a directory tree)."""
    if path.is_file():
        return path.stat().st_blocks * 512
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:
                continue
    return total


def same_content(a: Path, b: Path) -> bool:
    return subprocess.run(["cmp", "-s", str(a), str(b)]).returncode == 0


def python_speed_us() -> float:
    """Microseconds of ``sum(range(1000))``, best of five: how fast this machine runs Python, so that
    CPU-bound figures from different machines can be compared (about 10 on a 3 GHz desktop core)."""
    import timeit

    return min(timeit.repeat("sum(range(1000))", number=2000, repeat=5)) / 2000 * 1e6
