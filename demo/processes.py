"""Service processes started by the demo and the test fixtures: one process group each, one log file each.

Each child gets its own session so a stop reaches its whole tree (gunicorn workers, qemu helpers), and
its output goes to ``<workdir>/<name>.log`` so a failure can quote what the service said.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def write_ini(path: Path, sections: Mapping[str, Mapping[str, Any]]) -> Path:
    """Write an oslo.config file; options whose value is None are left out (their defaults apply)."""
    path.write_text(
        "".join(
            f"[{section}]\n" + "".join(f"{k} = {v}\n" for k, v in values.items() if v is not None) + "\n"
            for section, values in sections.items()
        )
    )
    return path


@dataclass
class ProcessGroup:
    """Named child processes, each in its own process group, logging into ``workdir``."""

    workdir: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict, kw_only=True)

    def spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.workdir / f"{name}.log", "ab") as log:  # the child keeps its own descriptor
            proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir, start_new_session=True
            )
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def raise_if_exited(self, names: Iterable[str] | None = None) -> None:
        """A service that died while we wait for it: say so with the end of its log."""
        for name in self.procs if names is None else names:
            proc = self.procs[name]
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.log(name)[-3000:]}")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        proc.wait(timeout=30)

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM every group, SIGKILL what is still there after ``grace`` seconds."""
        for name in list(self.procs):
            proc = self.procs[name]
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    self.kill(name)
                    continue
            self.procs.pop(name)
