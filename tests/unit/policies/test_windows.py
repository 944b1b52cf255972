"""Backup windows: validation messages, the span a run may start in, and which run is due or missed."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from t4o.common import errors
from t4o.policies import jobschedule as js
from t4o.policies import windows

UTC = dt.UTC
PARIS = ZoneInfo("Europe/Paris")


def at(day: int, hour: int, minute: int = 0, tz: dt.tzinfo = UTC) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=tz)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("22:00-06:00", "jobschedule.window must be an object"),
        (
            {"start": "22:00"},
            "jobschedule.window.end must be a 24-hour time HH:MM (00:00 to 23:59), not None.",
        ),
        ({"start": "24:00", "end": "06:00"}, "jobschedule.window.start must be a 24-hour time"),
        ({"start": "10 PM", "end": "06:00"}, "not '10 PM'"),
        ({"start": "22:60", "end": "06:00"}, "not '22:60'"),
        ({"start": 22, "end": "06:00"}, "not 22."),
        ({"start": "06:00", "end": "6:00"}, "start and end are both 06:00"),
        ({"start": "22:00", "end": "06:00", "days": "mon"}, "unknown field(s) days; allowed: start, end."),
    ],
)
def test_bad_windows_are_refused_with_the_field_named(raw: object, message: str) -> None:
    with pytest.raises(errors.BadRequest) as err:
        js.parse({"enabled": False, "window": raw})
    assert message in str(err.value)


def test_a_window_is_parsed_and_none_means_any_time() -> None:
    assert js.parse({"enabled": False, "window": {"start": "22:00", "end": "6:30"}}).window == windows.Window(
        dt.time(22), dt.time(6, 30)
    )
    assert js.parse({"enabled": False, "window": None}).window is None
    assert js.parse({"enabled": False}).window is None


def test_span_of_a_window_across_midnight() -> None:
    w = windows.Window(dt.time(22), dt.time(6))
    assert w.crosses_midnight
    # Due in the afternoon: waits for tonight's opening.
    assert w.span(at(1, 14), UTC) == (at(1, 22), at(2, 6))
    # Due inside, before or after midnight: may start at once, until 06:00.
    assert w.span(at(1, 23), UTC) == (at(1, 23), at(2, 6))
    assert w.span(at(2, 3), UTC) == (at(2, 3), at(2, 6))
    # The close belongs to the next span.
    assert w.span(at(2, 6), UTC) == (at(2, 22), at(3, 6))
    assert w.last_close(at(2, 7), UTC) == at(2, 6)
    assert w.last_close(at(2, 5), UTC) == at(1, 6)


def test_span_of_a_day_window_in_a_time_zone() -> None:
    w = windows.Window(dt.time(1), dt.time(5))
    # 23:30 Paris (UTC+1 in March before the change) waits for 01:00 Paris next day = 00:00 UTC.
    assert w.span(at(1, 23, 30, PARIS), PARIS) == (at(2, 0), at(2, 4))
    # Across the change to summer time (29 March 2026), the window keeps its wall-clock times.
    assert w.span(at(29, 12, tz=PARIS), PARIS) == (at(29, 23), at(30, 3))


def hourly_from(start: dt.datetime) -> js.JobSchedule:
    return js.JobSchedule(enabled=True, start=start, interval_hours=1)


def test_due_runs_wait_for_the_window_and_coalesce() -> None:
    w = windows.Window(dt.time(22), dt.time(6))
    s = hourly_from(at(1, 0))
    # 14:30: the 14:00 run waits (not claimed yet).
    assert windows.due(w, UTC, s.previous_run, at(1, 5), at(1, 14, 30)) == windows.Due()
    # At 22:00 the 22:00 run starts; the runs of 06:00-21:00 are coalesced into it.
    assert windows.due(w, UTC, s.previous_run, at(1, 5), at(1, 22)).fire == at(1, 22)
    # A daily run at 14:00 starts at the opening, as the 14:00 run.
    daily = js.JobSchedule(enabled=True, start=at(1, 14), tiers=(js.Tier("daily", 1, times=(dt.time(14),)),))
    assert windows.due(w, UTC, daily.previous_run, None, at(1, 21, 59)) == windows.Due()
    assert windows.due(w, UTC, daily.previous_run, None, at(1, 22, 1)) == windows.Due(fire=at(1, 14))
    # Already claimed: nothing more.
    assert windows.due(w, UTC, daily.previous_run, at(1, 14), at(1, 23)) == windows.Due()


def test_a_run_whose_window_closed_unstarted_is_missed() -> None:
    w = windows.Window(dt.time(22), dt.time(6))
    start = dt.datetime(2026, 2, 28, 14, tzinfo=UTC)
    daily = js.JobSchedule(enabled=True, start=start, tiers=(js.Tier("daily", 1, times=(dt.time(14),)),))
    # The cron was down from 21:00 to 07:00: the 14:00 run is missed, its window having closed at 06:00.
    assert windows.due(w, UTC, daily.previous_run, start, at(2, 7)) == windows.Due(
        missed=at(1, 14), missed_close=at(2, 6)
    )
    # Down until the next afternoon: the 1st's run is missed and the 2nd's waits for its window.
    assert windows.due(w, UTC, daily.previous_run, start, at(2, 15)) == windows.Due(
        missed=at(1, 14), missed_close=at(2, 6)
    )
    # A schedule that never ran missed nothing: its window may have closed before it was set.
    assert windows.due(w, UTC, daily.previous_run, None, at(2, 7)) == windows.Due()
    # Hourly: the last run inside the closed window (05:00) is the one missed; 07:00 waits.
    hourly = hourly_from(at(1, 0))
    assert windows.due(w, UTC, hourly.previous_run, at(2, 3), at(2, 7, 30)) == windows.Due(
        missed=at(2, 5), missed_close=at(2, 6)
    )
