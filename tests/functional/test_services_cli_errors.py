"""The console scripts fail with one line on stderr, not a traceback, when they cannot start."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.control_plane import VENV_BIN, free_port


def run(tmp_path: Path, *argv: str, conf: str = "") -> subprocess.CompletedProcess[str]:
    config = tmp_path / "t4o.conf"
    config.write_text(conf)
    return subprocess.run(
        [str(VENV_BIN / argv[0]), *argv[1:], "--config-file", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], text: str) -> None:
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and text in lines[0], result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_all_in_one_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run(tmp_path, "t4o", "all-in-one", "--state-dir", str(tmp_path), "--port", str(port))
    assert_one_line_error(result, f"cannot listen on 127.0.0.1:{port}")


def test_noauth_refused_on_a_public_address(tmp_path: Path) -> None:
    conf = f"[api]\nbind_host = 0.0.0.0\nbind_port = {free_port()}\n"
    result = run(tmp_path, "t4o", "all-in-one", "--state-dir", str(tmp_path), conf=conf)
    assert_one_line_error(result, "only allowed on a loopback address")


def test_db_sync_against_an_unreachable_database(tmp_path: Path) -> None:
    conf = f"[database]\nconnection = mysql+mysqldb://root@127.0.0.1:{free_port()}/nothing\n"
    result = run(tmp_path, "workloadmgr-manage", "db", "sync", conf=conf)
    assert_one_line_error(result, "database sync failed")


def test_bad_option_value(tmp_path: Path) -> None:
    conf = f"[DEFAULT]\nauth_strategy = magic\n[database]\nconnection = sqlite:///{tmp_path}/t.sqlite\n"
    result = run(tmp_path, "workloadmgr-manage", "db", "version", conf=conf)
    assert_one_line_error(result, "auth_strategy")


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("cloud_driver = fake", "cloud_driver = fake: no entry point fake in t4o.clouds (installed: nova)"),
        (
            "workflow_driver = placeholder",
            "workflow_driver = placeholder: no entry point placeholder.snapshot",
        ),
    ],
)
def test_a_driver_that_is_not_installed(tmp_path: Path, option: str, expected: str) -> None:
    conf = f"[DEFAULT]\n{option}\n[api]\nbind_port = {free_port()}\n"
    result = run(tmp_path, "t4o", "all-in-one", "--state-dir", str(tmp_path), conf=conf)
    assert_one_line_error(result, expected)
