"""Console script ``t4o``: ``t4o all-in-one`` runs the API and every service in one process.

All-in-one defaults (each can be overridden in the config file): SQLite and the backup target (a vault
to initialise with ``t4o-vault init``) under --state-dir, oslo.messaging's in-process ``fake://``
transport and ``auth_strategy = noauth`` (loopback only). The cloud and the workflows are the configured
ones, as in the separate services (``cloud_driver = nova``: the callers' Nova, which needs their Keystone
tokens, so ``auth_strategy = keystone``; snapshots and restores need the datamover). docs/architecture.md
says what each setting needs.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading

from t4o import vault
from t4o.api.app import create_app
from t4o.cmd import common, cron, scheduler, workloads
from t4o.common.config import CONF
from t4o.common.log import get_logger
from t4o.db import session

LOG = get_logger(__name__)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="t4o", description="T4O backup and recovery for OpenStack")
    sub = p.add_subparsers(dest="command", required=True)
    aio = sub.add_parser(
        "all-in-one", help="run the API, scheduler, workloads and cron services in one process"
    )
    aio.add_argument("--config-file", action="append", default=[], help="oslo.config file (repeatable)")
    aio.add_argument(
        "--state-dir",
        default=os.path.join(os.path.expanduser("~"), ".local", "state", "t4o"),
        help="where the SQLite database and the backup target live (default: ~/.local/state/t4o)",
    )
    aio.add_argument("--port", type=int, default=None, help="API port (default: [api] bind_port, 8780)")
    return p


def all_in_one(args: argparse.Namespace) -> None:
    from werkzeug.serving import make_server

    state_dir = os.path.abspath(args.state_dir)
    vault.register_opts(CONF)  # so that the target's url gets a default before the files are read
    defaults = {
        ("database", "connection"): f"sqlite:///{state_dir}/t4o.sqlite",
        ("backup_target", "url"): os.path.join(state_dir, "vault"),
        (None, "transport_url"): "fake://",
        (None, "auth_strategy"): "noauth",
    }
    conf_args = [a for f in args.config_file for a in ("--config-file", f)]
    common.setup(conf_args, "t4o", defaults)
    if args.port is not None:
        CONF.set_override("bind_port", args.port, group="api")
    common.check_noauth_binding()
    try:
        session.sync()
    except Exception as exc:
        common.fail(f"database sync failed: {exc}")

    where = f"{CONF.api.bind_host}:{CONF.api.bind_port}"
    try:
        server = make_server(CONF.api.bind_host, CONF.api.bind_port, create_app(CONF), threaded=True)
    except OSError as exc:
        common.fail(f"cannot listen on {where}: {exc}")
    except SystemExit:  # werkzeug prints its own advice and exits when the port is taken
        common.fail(f"cannot listen on {where}: address already in use")
    services = [scheduler.build(), workloads.build(), cron.build()]
    for svc in services:
        svc.start()
    # Our own request log line says more (request id, user, project); werkzeug's would repeat it.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    thread = threading.Thread(target=server.serve_forever, name="api", daemon=True)
    thread.start()
    LOG.info("t4o all-in-one serving on http://%s:%s", CONF.api.bind_host, CONF.api.bind_port)
    print(f"t4o all-in-one: API on http://{CONF.api.bind_host}:{CONF.api.bind_port}/", flush=True)

    def stop() -> None:
        server.shutdown()
        for svc in reversed(services):
            svc.stop()
        LOG.info("t4o all-in-one stopped")

    common.wait_for_signal(stop)


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "all-in-one":
        all_in_one(args)
