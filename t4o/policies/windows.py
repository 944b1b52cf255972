"""Backup windows: when scheduled snapshots of a workload may start.

A schedule (or the workload policy it follows) may carry ``"window": {"start": "22:00", "end": "06:00"}``,
24-hour wall-clock times in the schedule's time zone; an end before the start crosses midnight. Without a
window a run may start at any time. With one, a run due outside it waits for its next opening, and a run
that has not started when that opening closes is missed. Manual snapshots are never limited by it.

Every time here is aware; callers pass ``now`` so that tests control the clock.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from t4o.common import errors

_TIME = re.compile(r"\s*([01]?\d|2[0-3]):([0-5]\d)\s*")
_KEYS = ("start", "end")


@dataclass(frozen=True)
class Window:
    start: dt.time
    end: dt.time

    @property
    def crosses_midnight(self) -> bool:
        return self.end < self.start

    def describe(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def occurrence(self, day: dt.date, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
        """(opening, close) of the window that opens on ``day``, as aware UTC."""
        opening = dt.datetime.combine(day, self.start, tzinfo=tz)
        close_day = day + dt.timedelta(days=1) if self.crosses_midnight else day
        close = dt.datetime.combine(close_day, self.end, tzinfo=tz)
        return opening.astimezone(dt.UTC), close.astimezone(dt.UTC)

    def span(self, due: dt.datetime, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
        """When a run due at ``due`` may start: the window open at ``due``, else the next one to open."""
        day = due.astimezone(tz).date()
        for offset in (-1, 0, 1, 2):
            opening, close = self.occurrence(day + dt.timedelta(days=offset), tz)
            if due < close:
                return max(opening, due.astimezone(dt.UTC)), close
        raise AssertionError("a window opens every day")  # pragma: no cover

    def last_close(self, now: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
        """The latest close of the window at or before ``now``."""
        day = now.astimezone(tz).date()
        for offset in (1, 0, -1, -2):
            _, close = self.occurrence(day + dt.timedelta(days=offset), tz)
            if close <= now:
                return close
        raise AssertionError("a window closes every day")  # pragma: no cover


def parse(raw: Any, where: str = "jobschedule.window") -> Window | None:
    """The window of a schedule (None: any time); BadRequest naming the field and what is wrong."""
    if raw is None or raw == {}:
        return None
    if not isinstance(raw, dict):
        raise errors.BadRequest(f'{where} must be an object such as {{"start": "22:00", "end": "06:00"}}.')
    unknown = sorted(set(raw) - set(_KEYS))
    if unknown:
        raise errors.BadRequest(f"{where}: unknown field(s) {', '.join(unknown)}; allowed: start, end.")
    start, end = (_time(raw.get(key), f"{where}.{key}") for key in _KEYS)
    if start == end:
        raise errors.BadRequest(
            f"{where}: start and end are both {start:%H:%M}; a window must have a length."
        )
    return Window(start, end)


def _time(value: Any, where: str) -> dt.time:
    match = _TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise errors.BadRequest(f"{where} must be a 24-hour time HH:MM (00:00 to 23:59), not {value!r}.")
    return dt.time(int(match.group(1)), int(match.group(2)))


# (now) -> the latest scheduled time at or before it; JobSchedule.previous_run
PreviousRun = Callable[[dt.datetime], dt.datetime | None]


@dataclass(frozen=True)
class Due:
    """What a windowed schedule asks for now: a run to start, and a run whose window closed unstarted."""

    fire: dt.datetime | None = None
    missed: dt.datetime | None = None
    missed_close: dt.datetime | None = None


def due(
    window: Window, tz: dt.tzinfo, previous_run: PreviousRun, last_run: dt.datetime | None, now: dt.datetime
) -> Due:
    """The run to start now (its scheduled time), if its window is open, and the latest run not yet claimed
    whose window closed before ``now`` (missed). Runs due in between are coalesced into the latest, as
    without a window; a run due outside the window is not claimed until the window opens. A schedule that
    never ran (``last_run`` None) has missed nothing: its windows before may predate it."""

    def unclaimed(t: dt.datetime | None) -> bool:
        return t is not None and (last_run is None or t > last_run)

    latest = previous_run(now)
    if not unclaimed(latest):
        return Due()
    assert latest is not None
    closed = window.last_close(now, tz)
    before = previous_run(closed - dt.timedelta(microseconds=1))
    missed = missed_close = None
    if last_run is not None and unclaimed(before):
        assert before is not None
        _, close = window.span(before, tz)
        if close <= now:
            missed, missed_close = before, close
    if missed == latest:
        return Due(missed=missed, missed_close=missed_close)
    opening, close = window.span(latest, tz)
    fire = latest if opening <= now < close else None
    return Due(fire=fire, missed=missed, missed_close=missed_close)
