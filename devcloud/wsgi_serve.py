"""Serves one OpenStack WSGI application with gunicorn (run by devcloud's OpenStack venv python).

Usage: wsgi_serve.py NAME PORT MODULE:ATTR|paste:INI [service args...]
A ``paste:INI`` target is the ``main`` application of a paste deploy file (Barbican's WSGI module
reads its paste file from a fixed path under /etc).
The service args become sys.argv[1:] before the application module is imported, because some
services (cinder) parse sys.argv with oslo.config and would choke on gunicorn's own options.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from gunicorn.app.base import BaseApplication


class _App(BaseApplication):  # type: ignore[misc]
    def __init__(self, name: str, port: int, target: str) -> None:
        self._name = name
        self._port = port
        self._target = target
        super().__init__()

    def load_config(self) -> None:
        settings = {
            "bind": f"127.0.0.1:{self._port}",
            "workers": 1,
            "worker_class": "gthread",
            "threads": 4,
            # keep-alive 0: every response closes its connection, clients never reuse a dead socket.
            "keepalive": 0,
            "timeout": 300,
            "graceful_timeout": 5,
            # The checkout's tag in the title: `devcloud down` of another checkout leaves this one alone.
            "proc_name": f"devcloud-{os.environ.get('DEVCLOUD_STATE_TAG', '')}-{self._name}",
            "accesslog": "-",
            "errorlog": "-",
            "limit_request_line": 0,
            "limit_request_field_size": 0,
        }
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        if self._target.startswith("paste:"):
            from paste import deploy  # type: ignore[import-untyped]

            return deploy.loadapp(f"config:{self._target.removeprefix('paste:')}")
        module, attr = self._target.split(":")
        return getattr(importlib.import_module(module), attr)


def main() -> None:
    name, port, target, *service_args = sys.argv[1:]
    sys.argv = [f"devcloud-{name}", *service_args]
    _App(name, int(port), target).run()


if __name__ == "__main__":
    main()
