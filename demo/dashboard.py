"""Horizon with the T4O plugin (``dashboard/``), served by Django on loopback for a kept demo."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import requests

from demo.services import ROOT

DASHBOARD = ROOT / "dashboard"
PORT = 8000


def start(log: Path, keystone_url: str, port: int = PORT, timeout: float = 300.0) -> tuple[int, str]:
    """Install Horizon if needed (``dashboard/install``), start it in its own session and wait until its
    login page answers; returns its pid and URL. The first page compiles the stylesheets: minutes."""
    install = subprocess.run([str(DASHBOARD / "install")], capture_output=True, text=True, check=False)
    if install.returncode != 0:
        raise RuntimeError(f"dashboard/install failed:\n{install.stdout[-2000:]}\n{install.stderr[-3000:]}")
    state = Path(os.environ.get("T4O_DASHBOARD_STATE", DASHBOARD / ".state"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "openstack_dashboard.settings",
        "T4O_DASHBOARD_STATE": str(state),
        "T4O_KEYSTONE_URL": keystone_url,
    }
    argv = [str(state / "venv" / "bin" / "django-admin"), "runserver", "--noreload", "--insecure"]
    with open(log, "ab") as out:  # the server keeps its own descriptor
        proc = subprocess.Popen(
            [*argv, f"127.0.0.1:{port}"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Horizon exited with {proc.returncode}: {log.read_text()[-3000:]}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url + "/auth/login/", timeout=60).status_code == 200:
                return proc.pid, url
        time.sleep(1.0)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    raise RuntimeError(f"Horizon did not answer on {url} in {timeout:.0f} s (log: {log})")
