"""The RPO of a jobschedule (validation) and how a workload stands against it (t4o.policies.rpo)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from t4o.common import errors
from t4o.policies import jobschedule, rpo

T0 = dt.datetime(2026, 5, 1, 0, 0)  # naive: UTC, as the database stores times


@pytest.mark.parametrize(
    ("raw", "hours"), [(26, 26.0), ("26", 26.0), (" 0.5 ", 0.5), (None, None), ("", None)]
)
def test_rpo_hours_accepted(raw: Any, hours: float | None) -> None:
    assert jobschedule.rpo_hours({"rpo_hours": raw}) == hours
    assert jobschedule.parse({"rpo_hours": raw}).rpo_hours == hours


@pytest.mark.parametrize("raw", [0, -1, "x", True, "nan", "inf", 87601, [1]])
def test_rpo_hours_refused(raw: Any) -> None:
    with pytest.raises(errors.BadRequest, match=r"jobschedule\.rpo_hours must be"):
        jobschedule.parse({"rpo_hours": raw})


def test_within_and_beyond_the_rpo() -> None:
    last = T0 + dt.timedelta(hours=1)
    inside = rpo.evaluate({"rpo_hours": 26}, T0, last, last + dt.timedelta(hours=26))
    assert not inside.breached and inside.age_seconds == 26 * 3600
    beyond = rpo.evaluate({"rpo_hours": 26}, T0, last, last + dt.timedelta(hours=26, seconds=1))
    assert beyond.breached and beyond.breached_at == (last + dt.timedelta(hours=26)).replace(tzinfo=dt.UTC)
    assert beyond.view() == {
        "rpo_hours": 26.0,
        "rpo_breached": True,
        "last_snapshot_at": "2026-05-01T01:00:00.000000Z",
        "last_snapshot_age_seconds": 26 * 3600 + 1.0,
        "rpo_missed_since": "2026-05-02T03:00:00.000000Z",
    }


def test_without_a_snapshot_the_workload_age_counts() -> None:
    assert not rpo.evaluate({"rpo_hours": 2}, T0, None, T0 + dt.timedelta(hours=2)).breached
    state = rpo.evaluate({"rpo_hours": 2}, T0, None, T0 + dt.timedelta(hours=3))
    assert state.breached and state.age_seconds is None and state.last_snapshot_at is None


def test_no_or_unusable_rpo_is_never_breached() -> None:
    far = T0 + dt.timedelta(days=999)
    assert rpo.evaluate({}, T0, None, far) == rpo.RpoState(None, None, None, False)
    assert not rpo.evaluate({"rpo_hours": "soon"}, T0, None, far).breached


def test_aware_and_naive_times_agree() -> None:
    now = dt.datetime(2026, 5, 2, 4, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))  # 02:00 UTC
    state = rpo.evaluate({"rpo_hours": 1}, T0, dt.datetime(2026, 5, 2, 1, 30), now)
    assert state.age_seconds == 1800 and not state.breached
