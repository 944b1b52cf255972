"""t4o.api.wsgi and t4o.datamover.api.wsgi: the ``application`` a WSGI server (uwsgi, mod_wsgi) imports,
configured from $OS_T4O_CONFIG_FILE. Each import runs in a fresh interpreter, as in a server's worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CALL = """
from werkzeug.test import Client
from {module} import application
resp = Client(application).get("/")
print(resp.status_code, resp.get_data(as_text=True))
"""


def serve_once(module: str, conf: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OS_T4O_CONFIG_FILE": str(conf), "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-c", CALL.format(module=module)],
        env=env, capture_output=True, text=True, timeout=120, check=False, cwd=conf.parent,
    )  # fmt: skip


def write_conf(tmp_path: Path, auth_strategy: str) -> Path:
    conf = tmp_path / "t4o.conf"
    conf.write_text(
        f"[DEFAULT]\nauth_strategy = {auth_strategy}\ntransport_url = fake://\n"
        f"[database]\nconnection = sqlite:///{tmp_path}/t4o.sqlite\n"
    )
    return conf


@pytest.mark.parametrize(
    ("module", "version"), [("t4o.api.wsgi", "v1.0"), ("t4o.datamover.api.wsgi", "v2.0")]
)
def test_application_serves_the_version_document(tmp_path: Path, module: str, version: str) -> None:
    run = serve_once(module, write_conf(tmp_path, "keystone"))
    assert run.returncode == 0, run.stderr[-3000:]
    status, _, body = run.stdout.strip().splitlines()[-1].partition(" ")
    assert status == "200"
    assert json.loads(body)["versions"][0]["id"] == version


@pytest.mark.parametrize("module", ["t4o.api.wsgi", "t4o.datamover.api.wsgi"])
def test_noauth_is_refused_under_a_wsgi_server(tmp_path: Path, module: str) -> None:
    run = serve_once(module, write_conf(tmp_path, "noauth"))
    assert run.returncode != 0
    # oslo.log, set up by then, logs the error on stdout
    assert "auth_strategy = noauth is for the loopback console script only" in run.stdout + run.stderr
