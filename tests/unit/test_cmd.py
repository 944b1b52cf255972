"""t4o.cmd: start-up checks and the manage command's output."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml

from t4o.cmd import common, manage
from t4o.cmd import t4o as t4o_cmd


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


class _Stop(BaseException):  # all-in-one turns an Exception of the sync into its own exit
    pass


def test_all_in_one_defaults(t4o_conf: Any, tmp_path: Path) -> None:
    """SQLite, the backup target under --state-dir, in-process messaging, noauth; the product's cloud and
    workflows (the same as the separate services', never a stand-in)."""
    seen: dict[str, Any] = {}

    def sync() -> None:  # the first step after the configuration is read: look at it, then stop
        conf = t4o_conf
        seen.update(
            database=conf.database.connection,
            target=conf.backup_target.url,
            transport=conf.transport_url,
            auth=conf.auth_strategy,
            cloud=conf.cloud_driver,
            workflows=conf.workflow_driver,
        )
        raise _Stop

    t4o_conf.clear_override("connection", group="database")  # the fixture's database: not a default
    with mock.patch.object(t4o_cmd.session, "sync", sync), pytest.raises(_Stop):
        t4o_cmd.main(["all-in-one", "--state-dir", str(tmp_path), "--config-file", os.devnull])
    assert seen == {
        "database": f"sqlite:///{tmp_path}/t4o.sqlite",
        "target": str(tmp_path / "vault"),
        "transport": "fake://",
        "auth": "noauth",
        "cloud": "nova",
        "workflows": "datamover",
    }
