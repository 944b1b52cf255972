"""Service.heartbeat calls the heartbeat its assembler gave, and a failing beat does not stop the service."""

from __future__ import annotations

import pytest
from oslo_config import cfg

from t4o.common import config
from t4o.common.service import Heartbeat, Service


def make_service(heartbeat: Heartbeat) -> Service:
    conf = cfg.ConfigOpts()
    config.register_opts(conf)
    conf([], project="t4o-test")
    conf.set_override("host", "node-1")
    return Service(conf, "workloadmgr-workloads", "workloads", [], heartbeat=heartbeat)


def test_the_heartbeat_names_host_binary_and_topic() -> None:
    beats: list[tuple[str, str, str]] = []
    make_service(lambda host, binary, topic: beats.append((host, binary, topic))).heartbeat()
    assert beats == [("node-1", "workloadmgr-workloads", "workloads")]


def test_a_failing_heartbeat_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    def down(host: str, binary: str, topic: str) -> None:
        raise ConnectionError("database unreachable")

    make_service(down).heartbeat()
    assert "Heartbeat of workloadmgr-workloads failed" in caplog.text
