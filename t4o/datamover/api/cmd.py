"""Console script ``datamover-api``: the datamover REST API under gunicorn (gthread workers)."""

from __future__ import annotations

import sys
from typing import Any

from t4o.cmd import common
from t4o.cmd.api import GunicornApp
from t4o.common.config import CONF
from t4o.datamover import config as dm_config


class DatamoverApp(GunicornApp):
    def load(self) -> Any:
        from t4o.datamover.api.app import create_app

        return create_app(CONF)


def main() -> None:
    dm_config.register_opts(CONF)
    common.setup(sys.argv[1:], "datamover-api")
    api = CONF.datamover_api
    if CONF.auth_strategy == "noauth" and not common.is_loopback(api.bind_host):
        common.fail(f"auth_strategy = noauth is only allowed on a loopback address, not {api.bind_host}.")
    DatamoverApp(
        {
            "bind": f"{api.bind_host}:{api.bind_port}",
            "workers": api.workers,
            "threads": api.threads,
            "worker_class": "gthread",
            "timeout": 120,
            "graceful_timeout": 20,
            "proc_name": "datamover-api",
        }
    ).run()
