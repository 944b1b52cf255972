"""A real `t4o all-in-one` (the shared ControlPlane) for the CLI tests, and a runner of the CLI programs."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.control_plane import VENV_BIN, ControlPlane

# Slow enough that a running job can be watched and cancelled, fast enough for the suite.
STEP_SECONDS = 0.3
PAGE_SIZE = 2


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without OS_* variables, and a HOME without a clouds.yaml."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(COLUMNS="200", **extra)
    return env


@dataclass
class Cli:
    """Runs `openstack` or `workloadmgr` as a project member (or admin) of the all-in-one API."""

    cp: ControlPlane
    project: str
    home: Path

    def auth(self, admin: bool = False) -> list[str]:
        roles = "admin,member,reader" if admin else "member,reader"
        return [
            "--os-endpoint",
            f"{self.cp.url}/v1/{self.project}",
            "--os-token",
            f"alice:{self.project}:{roles}",
        ]

    def run(
        self,
        *args: str,
        tool: str = "openstack",
        admin: bool = False,
        auth: bool = True,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        argv = [str(VENV_BIN / tool), *(self.auth(admin) if auth else []), *args]
        return subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=clean_env(HOME=str(self.home)),
            cwd=self.home,
        )

    def ok(self, *args: str, **kwargs: Any) -> str:
        proc = self.run(*args, **kwargs)
        assert proc.returncode == 0, f"{args} exited {proc.returncode}:\n{proc.stderr}"
        assert "Traceback" not in proc.stderr
        return proc.stdout

    def json(self, *args: str, **kwargs: Any) -> Any:
        return json.loads(self.ok(*args, "-f", "json", **kwargs))

    def fails(self, *args: str, **kwargs: Any) -> str:
        """Runs a command that must fail with a one-line error and no traceback; returns that line."""
        proc = self.run(*args, **kwargs)
        assert proc.returncode != 0, f"{args} succeeded:\n{proc.stdout}"
        assert "Traceback" not in proc.stderr, proc.stderr
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert lines, f"{args} failed without a message"
        return lines[-1]


@pytest.fixture(scope="session")
def cli_control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    cp = ControlPlane(
        tmp_path_factory.mktemp("cli-aio"),
        # Pages of 2: every list the CLI shows (of 3 or more items) is read across pages.
        {"stub_workflows": {"step_seconds": STEP_SECONDS}, "api": {"default_page_size": PAGE_SIZE}},
    )
    try:
        cp.start_all_in_one()
        yield cp
    finally:
        cp.stop()


@pytest.fixture
def cli(cli_control_plane: ControlPlane, tmp_path: Path) -> Cli:
    """A CLI runner in a project of its own."""
    return Cli(cli_control_plane, "p" + uuid.uuid4().hex[:12], tmp_path)
