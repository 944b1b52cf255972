"""Console script workloadmgr-api: the REST API under gunicorn (gthread workers)."""

from __future__ import annotations

import sys
from typing import Any

from t4o.api.app import create_app
from t4o.cmd import common
from t4o.cmd.gunicorn_app import GunicornApp, options
from t4o.common.config import CONF
from t4o.db import session


def _post_fork(_server: Any, _worker: Any) -> None:
    # Connections must not be shared across processes.
    session.dispose_all()


def main() -> None:
    common.setup(sys.argv[1:], "workloadmgr-api")
    common.check_noauth_binding()
    api = CONF.api
    settings = options(api.bind_host, api.bind_port, api.workers, api.threads, "workloadmgr-api")
    GunicornApp({**settings, "post_fork": _post_fork}, lambda: create_app(CONF)).run()
