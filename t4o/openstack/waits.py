"""Waiting for a cloud resource to reach a state, where openstacksdk's own waiters do not fit.

openstacksdk's ``wait_for_status`` polls at one fixed interval and its failure names no cause. A restore
waits five times per VM (server active, volume available and in use, server shut off and active again):
a fixed 1 s interval added half a second to each wait on average, so these polls start short and grow
to a ceiling; and a server that goes to ERROR fails the wait at once with Nova's fault message.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import Any

GONE = "gone"
"""The state of a resource that no longer exists (its fetch returned None): what a delete waits for."""


class CloudStepFailed(Exception):
    """A cloud resource did not reach the state a workflow needs; the message says which and why."""


def fault_message(resource: Any) -> str | None:
    """Nova's reason for a server in ERROR: ``fault.message`` of an SDK server, or the ``fault`` text of
    a typed record; None for resources without one."""
    fault = getattr(resource, "fault", None)
    if isinstance(fault, dict):
        fault = fault.get("message")
    return str(fault) if fault else None


def wait_for_status(
    what: str,
    fetch: Callable[[], Any],
    wanted: Collection[str],
    timeout: float,
    *,
    poll: float = 0.5,
    first: float = 0.2,
) -> Any:
    """Poll ``fetch()`` until the resource's status (compared in lower case) is one of ``wanted``;
    return it (None when ``wanted`` holds GONE and it is gone). The interval starts at ``first`` and
    grows to ``poll``. A status starting with ``error`` that is not wanted fails at once."""
    wanted = {w.lower() for w in wanted}
    deadline = time.monotonic() + timeout
    interval = min(first, poll)
    while True:
        res = fetch()
        status = GONE if res is None else (res.status or "").lower()
        if status in wanted:
            return res
        if res is None:
            raise CloudStepFailed(f"{what} no longer exists")
        if status.startswith("error"):
            fault = fault_message(res)
            raise CloudStepFailed(f"{what} went to {res.status}" + (f": {fault}" if fault else ""))
        if time.monotonic() > deadline:
            raise CloudStepFailed(f"{what} is still {res.status} after {timeout:.0f} s")
        time.sleep(interval)
        interval = min(interval * 1.5, poll)
