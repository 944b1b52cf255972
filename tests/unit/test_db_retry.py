"""t4o.db.retry: which database errors are deadlocks, and that a deadlocked transaction runs again."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import exc as sa_exc

from t4o.db.retry import is_deadlock, retry_on_deadlock


class PgError(Exception):
    def __init__(self, pgcode: str) -> None:
        super().__init__("deadlock detected")
        self.pgcode = pgcode


def dbapi_error(orig: Exception, kind: type[sa_exc.DBAPIError] = sa_exc.OperationalError) -> Exception:
    return kind("UPDATE services ...", {}, orig)


@pytest.mark.parametrize(
    ("orig", "expected"),
    [
        (Exception(1213, "Deadlock found when trying to get lock; try restarting transaction"), True),
        (Exception(1205, "Lock wait timeout exceeded; try restarting transaction"), True),
        (PgError("40P01"), True),
        (PgError("40001"), True),
        (Exception(1062, "Duplicate entry 'h-b' for key 'uq_services_host_binary'"), False),
        (Exception(2006, "MySQL server has gone away"), False),
        (PgError("23505"), False),
        (Exception("database is locked"), False),
    ],
)
def test_deadlocks_are_told_apart(orig: Exception, expected: bool) -> None:
    assert is_deadlock(dbapi_error(orig)) is expected


def test_other_exceptions_are_not_deadlocks() -> None:
    assert not is_deadlock(RuntimeError("1213"))
    assert not is_deadlock(ValueError(1213))


def test_a_deadlocked_transaction_runs_again_and_other_errors_do_not() -> None:
    calls: list[Any] = []

    @retry_on_deadlock
    def heartbeat(fail_times: int, error: Exception) -> str:
        calls.append(1)
        if len(calls) <= fail_times:
            raise error
        return "beat"

    assert heartbeat(2, dbapi_error(Exception(1213, "Deadlock found"))) == "beat"
    assert len(calls) == 3
    calls.clear()
    duplicate = dbapi_error(Exception(1062, "Duplicate entry"), sa_exc.IntegrityError)
    with pytest.raises(sa_exc.IntegrityError):  # the caller's own exception type, raised at once
        heartbeat(1, duplicate)
    assert len(calls) == 1
    calls.clear()
    with pytest.raises(sa_exc.OperationalError):  # a deadlock that never clears is raised in the end
        heartbeat(100, dbapi_error(Exception(1213, "Deadlock found")))
    assert len(calls) == 7
