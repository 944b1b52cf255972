"""Console script ``datamover-api``: the datamover REST API under gunicorn (gthread workers)."""

from __future__ import annotations

import sys

from t4o.cmd import common
from t4o.cmd.gunicorn_app import GunicornApp, options
from t4o.common.config import CONF
from t4o.datamover import config as dm_config
from t4o.datamover.api.app import create_app


def main() -> None:
    dm_config.register_opts(CONF)
    common.setup(sys.argv[1:], "datamover-api")
    api = CONF.datamover_api
    if CONF.auth_strategy == "noauth" and not common.is_loopback(api.bind_host):
        common.fail(f"auth_strategy = noauth is only allowed on a loopback address, not {api.bind_host}.")
    settings = options(api.bind_host, api.bind_port, api.workers, api.threads, "datamover-api")
    GunicornApp(settings, lambda: create_app(CONF)).run()
