"""A long-running service: an RPC server on its topic plus a periodic heartbeat.

The heartbeat is given by whoever assembles the service (the console scripts record it as a row in the
database), so this module stays below the database layer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from oslo_config import cfg

from t4o.common import rpc
from t4o.common.log import get_logger

LOG = get_logger(__name__)

# heartbeat(host, binary, topic): records that the service is alive, every ``report_interval`` seconds.
Heartbeat = Callable[[str, str, str], None]


class Service:
    def __init__(
        self,
        conf: cfg.ConfigOpts,
        binary: str,
        topic: str,
        endpoints: list[Any],
        heartbeat: Heartbeat,
    ) -> None:
        self.conf = conf
        self.binary = binary
        self.topic = topic
        self.host = conf.host
        self.endpoints = endpoints
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._server: Any = None
        self._heartbeat = heartbeat

    def start(self) -> None:
        self.heartbeat()
        for endpoint in self.endpoints:
            init = getattr(endpoint, "init_host", None)
            if init is not None:
                init()
        self._server = rpc.get_server(self.conf, self.topic, self.host, self.endpoints)
        self._server.start()
        self.add_periodic(self.conf.report_interval, self.heartbeat)
        for endpoint in self.endpoints:
            for interval, task in getattr(endpoint, "periodic_tasks", lambda: [])():
                self.add_periodic(interval, task)
        LOG.info("%s started on host %s, topic %s", self.binary, self.host, self.topic)

    def heartbeat(self) -> None:
        try:
            self._heartbeat(self.host, self.binary, self.topic)
        except Exception:  # a database hiccup must not kill the service; the next beat retries
            LOG.exception("Heartbeat of %s failed", self.binary)

    def add_periodic(self, interval: float, task: Any) -> None:
        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    task()
                except Exception:
                    LOG.exception("Periodic task %s failed", getattr(task, "__name__", task))

        thread = threading.Thread(target=loop, name=f"{self.binary}-periodic", daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        """Stop taking work, then wait a bounded time for running calls: SIGTERM must end the process."""
        self._stop.set()
        if self._server is not None:
            self._server.stop()
            waiter = threading.Thread(target=self._server.wait, name=f"{self.binary}-drain", daemon=True)
            waiter.start()
            waiter.join(self.conf.graceful_shutdown_timeout)
            if waiter.is_alive():
                LOG.warning(
                    "%s: running jobs did not finish within %s s; exiting anyway. They are failed when this "
                    "host's worker starts again, or resolved with reset.",
                    self.binary,
                    self.conf.graceful_shutdown_timeout,
                )
            self._server = None
        LOG.info("%s stopped", self.binary)
