"""Service.stop waits for running RPC calls at most graceful_shutdown_timeout seconds."""

from __future__ import annotations

import threading
import time

from oslo_config import cfg

from t4o.common import config
from t4o.common.service import Service


class FakeServer:
    def __init__(self, busy_seconds: float) -> None:
        self.stopped = False
        self.busy_seconds = busy_seconds
        self.drained = threading.Event()

    def stop(self) -> None:
        self.stopped = True

    def wait(self) -> None:
        time.sleep(self.busy_seconds)
        self.drained.set()


def make_service(timeout: int) -> Service:
    conf = cfg.ConfigOpts()
    config.register_opts(conf)
    conf([], project="t4o-test")
    conf.set_override("graceful_shutdown_timeout", timeout)
    return Service(conf, "workloadmgr-workloads", "topic", [], heartbeat=lambda host, binary, topic: None)


def stop_with(server: FakeServer, timeout: int) -> float:
    svc = make_service(timeout)
    svc._server = server
    started = time.monotonic()
    svc.stop()
    return time.monotonic() - started


def test_stop_returns_after_the_timeout_when_jobs_keep_running() -> None:
    server = FakeServer(busy_seconds=30)
    took = stop_with(server, timeout=1)
    assert server.stopped
    assert 0.9 <= took < 5
    assert not server.drained.is_set()


def test_stop_waits_for_jobs_that_finish_in_time() -> None:
    server = FakeServer(busy_seconds=0.3)
    took = stop_with(server, timeout=10)
    assert server.drained.is_set()
    assert took < 5
