"""Console script workloadmgr-api: the REST API under gunicorn (gthread workers)."""

from __future__ import annotations

import errno
import gc
import os
import socket
import sys
import threading
import time
from typing import Any

from oslo_log import log as logging

from t4o.api import gc_pauses
from t4o.api.app import create_app
from t4o.cmd import common
from t4o.cmd.gunicorn_app import GunicornApp, options
from t4o.common.config import CONF
from t4o.db import session

LOG = logging.getLogger(__name__)

# Requests a keep-alive connection carries before the API closes it (nginx's keepalive_requests): a
# connection stays with the worker that accepted it, so an uneven split of a client's connections between
# the workers would last as long as they do; reopened, they are spread again (see reuse_port below). One
# reconnect per this many requests costs about 1% of a request's CPU.
KEEPALIVE_REQUESTS = 50


def _post_fork(_server: Any, _worker: Any) -> None:
    # Connections must not be shared across processes.
    session.dispose_all()


def _post_worker_init(worker: Any) -> None:
    # What the worker holds once its app is loaded (modules, options, policy rules, routes: some 200,000
    # objects) lives as long as the worker: frozen, the collector no longer walks it, so a full
    # collection, which stops all of the worker's threads, walks only what the requests left behind.
    gc.freeze()
    # A young collection every 10,000 net allocations of containers instead of 700: a page of 1,000
    # workloads allocates some 5,000 (its rows and their views), so at 700 each such request ran five
    # young collections that walked the half-built page and promoted it towards the full collection.
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    gc_pauses.install()
    # With a socket per worker gunicorn's own "Listening at" line names no address: this line does,
    # with the arbiter's pid, so whoever started the API knows its workers hold the port.
    LOG.info(
        "workloadmgr-api worker %d of %d ready at %s: %d objects frozen",
        os.getpid(),
        os.getppid(),
        ", ".join(str(sock) for sock in worker.sockets),
        gc.get_freeze_count(),
    )


GC_THRESHOLD = 10_000

_connections = [0]  # connections this worker served: how its share of the clients came out
_connections_lock = threading.Lock()


def _pre_request(_worker: Any, req: Any) -> None:
    if req.req_number == 1:
        with _connections_lock:  # the worker's threads call this concurrently
            _connections[0] += 1
    if req.req_number >= KEEPALIVE_REQUESTS:  # the request's number on its connection (gunicorn's parser)
        req.must_close = True  # answered with Connection: close, then closed


def _worker_exit(_server: Any, worker: Any) -> None:
    if worker.pid != os.getpid():  # gunicorn calls this in the arbiter too, when it reaps a worker
        return
    LOG.info(
        "workloadmgr-api worker exiting: %d requests on %d connections; %s",
        worker.nr,
        _connections[0],
        gc_pauses.summary(),
    )


def _refuse_taken_port(host: str, port: int, tries: int = 5) -> None:
    # With SO_REUSEPORT a second API started on a port one already serves would bind beside it and take
    # half its connections; a bind without SO_REUSEPORT fails on any listener, so it is tried first.
    # SO_REUSEADDR: the connections a stopped API closed (TIME_WAIT) do not count. An API still stopping
    # gets the 5 s gunicorn itself waits for a port in use.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for attempt in range(1, tries + 1):
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
                return
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE or attempt == tries:
                    why = exc.strerror or exc
                    sys.exit(f"workloadmgr-api: cannot listen on {host}:{port}: {why} (another API running?)")
        LOG.warning("%s:%d is in use; trying again in 1 s", host, port)
        time.sleep(1)


def main() -> None:
    common.setup(sys.argv[1:], "workloadmgr-api")
    common.check_noauth_binding()
    api = CONF.api
    settings = options(api.bind_host, api.bind_port, api.workers, api.threads, "workloadmgr-api")
    # Each worker listens on a socket of its own (SO_REUSEPORT) and the kernel spreads new connections
    # over them (by a hash of the client's address and port: even on average). On one shared socket the
    # worker that happens to be awake accepts them: 20 connections opened at once came out 87/13 between
    # two workers, which then ran one core's worth of requests on one GIL while the other idled.
    _refuse_taken_port(api.bind_host, api.bind_port)
    settings["reuse_port"] = True
    hooks = {
        "post_fork": _post_fork,
        "post_worker_init": _post_worker_init,
        "pre_request": _pre_request,
        "worker_exit": _worker_exit,
    }
    GunicornApp({**settings, **hooks}, lambda: create_app(CONF)).run()
