"""What the service console scripts share: a Service whose heartbeat is a row of the services table,
run until SIGTERM or SIGINT."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from t4o.cmd import common
from t4o.common.config import CONF
from t4o.common.service import Service
from t4o.db import api as db


def service(binary: str, topic: str, endpoint: Any) -> Service:
    return Service(CONF, binary, topic, [endpoint], heartbeat=db.service_heartbeat)


def run(binary: str, build: Callable[[], Service]) -> None:
    """Parse the command line and configuration, then start ``build()``'s service and serve until a signal."""
    common.setup(sys.argv[1:], binary)
    svc = build()
    try:
        svc.start()
    except Exception as exc:  # e.g. database or RabbitMQ unreachable: one clear line, not a traceback
        common.fail(f"{binary} could not start: {exc}")
    common.wait_for_signal(svc.stop)
