"""Console script workloadmgr-api: the REST API under gunicorn (gthread workers)."""

from __future__ import annotations

import sys
from typing import Any

from gunicorn.app.base import BaseApplication

from t4o.cmd import common
from t4o.common.config import CONF


class GunicornApp(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from t4o.api.app import create_app

        return create_app(CONF)


def _post_fork(_server: Any, _worker: Any) -> None:
    # Connections must not be shared across processes.
    from t4o.db import session

    session.dispose_all()


def main() -> None:
    common.setup(sys.argv[1:], "workloadmgr-api")
    common.check_noauth_binding()
    GunicornApp(
        {
            "bind": f"{CONF.api.bind_host}:{CONF.api.bind_port}",
            "workers": CONF.api.workers,
            "threads": CONF.api.threads,
            "worker_class": "gthread",
            "timeout": 120,
            "graceful_timeout": 20,
            "post_fork": _post_fork,
            "proc_name": "workloadmgr-api",
        }
    ).run()
