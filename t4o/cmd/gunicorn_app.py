"""The embedded gunicorn both REST services run under (gthread workers); uwsgi or mod_wsgi can serve
the same apps through t4o.api.wsgi and t4o.datamover.api.wsgi instead."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication


class GunicornApp(BaseApplication):
    """Serves the WSGI app ``load()`` returns, with the gunicorn settings ``options``."""

    def __init__(self, options: dict[str, Any], load: Callable[[], Any]) -> None:
        self.options = options
        self._load = load
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self._load()


def options(bind_host: str, bind_port: int, workers: int, threads: int, name: str) -> dict[str, Any]:
    return {
        "bind": f"{bind_host}:{bind_port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": 120,
        "graceful_timeout": 20,
        "proc_name": name,
    }
