"""t4o.cmd: start-up checks and the manage command's output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from t4o.cmd import common, manage


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False), ("10.1.2.3", False)],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert common.is_loopback(host) is loopback


def test_noauth_refused_off_loopback(t4o_conf: Any, capsys: pytest.CaptureFixture[str]) -> None:
    t4o_conf.set_override("auth_strategy", "noauth")
    t4o_conf.set_override("bind_host", "0.0.0.0", group="api")
    try:
        with pytest.raises(SystemExit):
            common.check_noauth_binding()
    finally:
        t4o_conf.clear_override("auth_strategy")
        t4o_conf.clear_override("bind_host", group="api")
    assert "only allowed on a loopback address" in capsys.readouterr().err


def test_manage_writes_the_openapi_document(tmp_path: Path) -> None:
    out = tmp_path / "openapi.yaml"
    manage.main(["openapi", "--output", str(out)])
    assert yaml.safe_load(out.read_text())["openapi"] == "3.1.0"


def test_manage_usage_error_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        manage.main(["db", "explode"])
    assert "invalid choice" in capsys.readouterr().err
