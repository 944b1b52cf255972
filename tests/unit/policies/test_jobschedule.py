"""jobschedule parsing, validation messages, due runs and full/incremental choice."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from t4o.common import errors
from t4o.policies import jobschedule as js

UTC = dt.UTC


def legacy(**kw: Any) -> dict[str, Any]:
    base = {
        "enabled": True,
        "start_date": "06/05/2026",
        "start_time": "2:30 PM",
        "interval": "1 hr",
        "timezone": "UTC",
        "retention_policy_type": js.RETAIN_COUNT,
        "retention_policy_value": "30",
        "fullbackup_interval": "-1",
    }
    base.update(kw)
    return base


def test_legacy_fields_are_parsed() -> None:
    s = js.parse(legacy())
    assert s.enabled and s.interval_hours == 1 and s.fullbackup_interval == -1
    assert s.start == dt.datetime(2026, 6, 5, 14, 30, tzinfo=s.tz)
    assert (s.retention_type, s.retention_value) == (js.RETAIN_COUNT, 30)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("interval", "often", "jobschedule.interval must be a number of hours"),
        ("interval", "0 hr", "jobschedule.interval must be a number of hours"),
        ("start_date", "2026/13/45", "jobschedule.start_date must be MM/DD/YYYY"),
        ("start_time", "25:99", "jobschedule.start_time must be HH:MM"),
        ("timezone", "Mars/Olympus", "unknown time zone"),
        ("fullbackup_interval", "-2", "fullbackup_interval must be at least -1"),
        ("retention_policy_type", "forever", "retention_policy_type must be"),
        ("retention_policy_value", "0", "retention_policy_value must be at least 1"),
        ("enabled", "maybe", "enabled must be true or false"),
        ("end_date", "01/01/2020", "end_date is before start_date"),
    ],
)
def test_bad_values_say_which_field(field: str, value: str, message: str) -> None:
    with pytest.raises(errors.BadRequest, match=message):
        js.parse(legacy(**{field: value}))


def test_enabled_without_any_run_is_refused() -> None:
    with pytest.raises(errors.BadRequest, match="needs an interval or at least one of"):
        js.parse({"enabled": True})
    assert not js.parse({"enabled": False}).has_runs
    assert not js.parse(None).has_runs


def test_calendar_tiers_are_parsed_and_checked() -> None:
    s = js.parse(
        {
            "enabled": True,
            "start_date": "2026-01-01",
            "start_time": "01:00",
            "hourly": {"interval": "6", "retention": 4},
            "daily": {"backup_time": ["23:00", "11:00"], "retention": 7},
            "weekly": {"backup_day": ["sun", "wed"], "retention": 4, "snapshot_type": "full"},
            "monthly": {"month_backup_day": [1, 15], "retention": 12},
            "yearly": {"backup_month": ["mar"], "retention": 2},
            "manual": {"retention_days_to_keep": 30},
        }
    )
    tiers = {t.name: t for t in s.tiers}
    assert tiers["hourly"].interval_hours == 6
    assert tiers["daily"].times == (dt.time(11), dt.time(23))
    assert tiers["weekly"].days == (2, 6) and tiers["weekly"].snapshot_type == "full"
    assert tiers["monthly"].days == (1, 15) and tiers["yearly"].months == (3,)
    assert s.manual_retention_days == 30
    for bad, message in [
        ({"hourly": {"interval": 5}}, "hourly.interval must be one of 1, 2, 3, 4, 6, 8, 12, 24"),
        ({"weekly": {"backup_day": ["funday"]}}, "is not one of mon"),
        ({"monthly": {"month_backup_day": [32]}}, "at most 31"),
        ({"yearly": {"backup_month": []}}, "must be a non-empty list"),
        ({"daily": {"backup_time": ["noon"]}}, "backup_time must be HH:MM"),
        ({"daily": "x"}, "jobschedule.daily must be an object"),
        ({"weekly": {"backup_day": "mon", "snapshot_type": "big"}}, "snapshot_type must be"),
    ]:
        with pytest.raises(errors.BadRequest, match=message):
            js.parse({"enabled": True, **bad})


def test_interval_runs_and_end_date() -> None:
    s = js.parse(legacy(interval="4 hr", end_date="06/06/2026"))
    start = dt.datetime(2026, 6, 5, 14, 30, tzinfo=UTC)
    assert s.previous_run(start - dt.timedelta(seconds=1)) is None
    assert s.previous_run(start) == start
    assert s.previous_run(start + dt.timedelta(hours=5)) == start + dt.timedelta(hours=4)
    # After end_date no new run: the last one stays the latest.
    assert s.previous_run(dt.datetime(2026, 7, 1, tzinfo=UTC)) == dt.datetime(2026, 6, 6, 22, 30, tzinfo=UTC)


def test_interval_runs_keep_their_spacing_across_daylight_saving() -> None:
    s = js.parse(legacy(start_date="03/28/2026", start_time="00:00", timezone="Europe/Berlin"))
    # Berlin switches to summer time on 2026-03-29 at 02:00: runs stay one real hour apart.
    t = dt.datetime(2026, 3, 29, 3, 30, tzinfo=UTC)
    assert s.previous_run(t) == dt.datetime(2026, 3, 29, 3, 0, tzinfo=UTC)


def test_calendar_due_times() -> None:
    s = js.parse(
        {
            "enabled": True,
            "start_date": "2026-01-01",
            "start_time": "00:00",
            "timezone": "UTC",
            "daily": {"backup_time": ["10:00", "22:00"]},
            "weekly": {"backup_day": ["mon"]},
        }
    )
    assert s.previous_run(dt.datetime(2026, 1, 5, 9, tzinfo=UTC)) == dt.datetime(2026, 1, 5, 0, tzinfo=UTC)
    assert s.previous_run(dt.datetime(2026, 1, 6, 9, tzinfo=UTC)) == dt.datetime(2026, 1, 5, 22, tzinfo=UTC)
    assert [t.name for t in s.tiers_at(dt.datetime(2026, 1, 5, 0, tzinfo=UTC))] == ["weekly"]
    monthly = js.parse({"enabled": True, "start_date": "2026-01-01", "monthly": {"month_backup_day": [31]}})
    assert monthly.previous_run(dt.datetime(2026, 3, 15, tzinfo=UTC)) == dt.datetime(2026, 1, 31, tzinfo=UTC)
    yearly = js.parse({"enabled": True, "start_date": "2026-01-01", "yearly": {"backup_month": ["mar"]}})
    assert yearly.previous_run(dt.datetime(2026, 2, 1, tzinfo=UTC)) is None
    assert yearly.previous_run(dt.datetime(2027, 2, 1, tzinfo=UTC)) == dt.datetime(2026, 3, 1, tzinfo=UTC)


def test_due_fires_once_and_respects_grace() -> None:
    s = js.parse(legacy(start_date="01/01/2026", start_time="00:00"))
    run = dt.datetime(2026, 1, 1, 5, tzinfo=UTC)
    assert js.due(s, None, run + dt.timedelta(seconds=30), grace=60) == (run, None)
    assert js.due(s, run, run + dt.timedelta(seconds=30), grace=60) == (None, None)
    assert js.due(s, run - dt.timedelta(hours=1), run + dt.timedelta(seconds=90), grace=60) == (None, run)
    off = js.parse(legacy(enabled=False))
    assert js.due(off, None, run, grace=60) == (None, None)


@pytest.mark.parametrize(
    ("interval", "expected"),
    [(-1, "F" + "i" * 9), (0, "F" * 10), (4, "FiiiiFiiiiF"[:10]), (1, "FiFiFiFiFi")],
)
def test_fullbackup_interval(interval: int, expected: str) -> None:
    seq, since = "", None
    for _ in range(10):
        full = js.is_full(interval, since)
        seq += "F" if full else "i"
        since = 0 if full else (since or 0) + 1
    assert seq == expected


def test_a_full_tier_forces_a_full() -> None:
    tier = js.Tier(name="weekly", retention=1, days=(0,), snapshot_type="full")
    assert js.is_full(-1, 3, [tier])
