"""Transactions that lose a deadlock are retried, as MariaDB, Galera and PostgreSQL expect of clients.

Concurrent writers of the same rows (every service's heartbeat at start-up, workers finishing jobs of
one workload) can be chosen as a deadlock victim; the database rolls that transaction back and the
right answer is to run it again. oslo.db's retry decorator does the waiting (growing, jittered
intervals); the exceptions stay SQLAlchemy's own, so callers that catch IntegrityError are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from oslo_db import api as oslo_db_api
from sqlalchemy import exc as sa_exc

F = TypeVar("F", bound=Callable[..., Any])

# MySQL/MariaDB: 1213 deadlock, 1205 lock wait timeout; Galera: 1213 on certification failure too.
_MYSQL_CODES = {1205, 1213}
# PostgreSQL SQLSTATE: 40P01 deadlock_detected, 40001 serialization_failure.
_PG_CODES = {"40P01", "40001"}


def is_deadlock(exc: BaseException) -> bool:
    """Whether ``exc`` is a transaction the database rolled back to break a deadlock."""
    if not isinstance(exc, sa_exc.DBAPIError) or exc.orig is None:
        return False
    orig = exc.orig
    if getattr(orig, "pgcode", None) in _PG_CODES or getattr(orig, "sqlstate", None) in _PG_CODES:
        return True
    args: tuple[Any, ...] = tuple(getattr(orig, "args", ()))
    return bool(args) and isinstance(args[0], int) and args[0] in _MYSQL_CODES


def retry_on_deadlock(func: F) -> F:
    """Runs ``func`` (one whole transaction) again when the database chose it as a deadlock victim."""
    wrapped: F = oslo_db_api.wrap_db_retry(
        max_retries=6, retry_interval=0.05, inc_retry_interval=True, max_retry_interval=1.0,
        exception_checker=is_deadlock, jitter=True,
    )(func)  # fmt: skip
    return wrapped
