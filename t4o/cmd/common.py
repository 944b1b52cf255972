"""Start-up shared by the console scripts: configuration, messaging defaults, signal-driven shutdown."""

from __future__ import annotations

import ipaddress
import signal
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any, NoReturn

import oslo_messaging as messaging
from oslo_config import cfg

from t4o.common import config
from t4o.common.config import CONF


def quiet_warnings() -> None:
    # eventlet is imported (not used) by oslo libraries and warns on import.
    warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")


def fail(message: str) -> NoReturn:
    """One line on stderr and exit 1 (driver errors carry SQL and links on further lines)."""
    first = message.strip().splitlines()[0] if message.strip() else "failed"
    print(f"error: {first}", file=sys.stderr)
    sys.exit(1)


def register_messaging_opts() -> None:
    # The very option objects oslo.messaging registers itself (so its own registration stays a no-op),
    # registered early so that all-in-one can give transport_url a default before parsing.
    from oslo_messaging import transport as msg_transport

    CONF.register_opts(msg_transport._transport_opts)
    messaging.set_transport_defaults(control_exchange="t4o")


def setup(argv: list[str], prog: str, defaults: dict[tuple[str | None, str], Any] | None = None) -> None:
    quiet_warnings()
    config.ensure_registered()
    register_messaging_opts()
    for (group, name), value in (defaults or {}).items():
        CONF.set_default(name, value, group=group)
    try:
        config.setup(argv, prog)
    except cfg.Error as exc:
        fail(str(exc))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_noauth_binding() -> None:
    if CONF.auth_strategy == "noauth" and not is_loopback(CONF.api.bind_host):
        fail(f"auth_strategy = noauth is only allowed on a loopback address, not {CONF.api.bind_host}.")


def wait_for_signal(on_stop: Callable[[], None] | None = None) -> None:
    """Block until SIGTERM or SIGINT, then call ``on_stop``."""
    # The handler only assigns: Event.set takes a lock that the main thread, interrupted inside
    # Event.wait, may hold, and then the process never stops.
    stopped = [False]

    def handler(signum: int, _frame: Any) -> None:
        stopped[0] = True

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    while not stopped[0]:
        time.sleep(0.2)
    if on_stop is not None:
        on_stop()
