"""A workload's ``jobschedule``: parsing, validation (400 with a message) and when runs are due.

Two shapes are accepted, as Trilio's clients send them:

* 4.x/5.x: ``interval`` ("N hr") from ``start_date``/``start_time``, ``fullbackup_interval``,
  ``retention_policy_type`` + ``retention_policy_value``;
* 6.x calendar tiers: ``hourly`` {interval, retention}, ``daily`` {backup_time[], retention},
  ``weekly`` {backup_day[], retention}, ``monthly`` {month_backup_day[], retention},
  ``yearly`` {backup_month[], retention}, ``manual`` {retention_days_to_keep}.

Either shape may carry ``rpo_hours``: the recovery point objective, how old the newest available snapshot
may get before workloadmgr-cron alerts (t4o.policies.rpo); and ``window`` {start, end}: when scheduled
snapshots may start (t4o.policies.windows).

Every time is computed from an explicit ``now`` so callers (and tests) control the clock.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from oslo_utils import strutils

from t4o.common import errors
from t4o.policies import windows

HOURLY_INTERVALS = (1, 2, 3, 4, 6, 8, 12, 24)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
RETAIN_COUNT = "Number of Snapshots to Keep"
RETAIN_DAYS = "Number of days to retain Snapshots"
TIERS = ("hourly", "daily", "weekly", "monthly", "yearly")
SNAPSHOT_TYPES = ("full", "incremental")


@dataclass(frozen=True)
class Tier:
    """One calendar tier: when it fires (``times``/``days``/``months``) and how many of its runs stay."""

    name: str
    retention: int
    interval_hours: int = 0
    times: tuple[dt.time, ...] = ()
    days: tuple[int, ...] = ()  # weekday 0=Monday for weekly, day of month for monthly
    months: tuple[int, ...] = ()
    snapshot_type: str | None = None


@dataclass(frozen=True)
class JobSchedule:
    enabled: bool = False
    timezone: str = "UTC"
    start: dt.datetime | None = None  # aware, in ``timezone``
    end_date: dt.date | None = None
    interval_hours: int | None = None  # 4.x/5.x interval
    fullbackup_interval: int = -1
    retention_type: str | None = None  # RETAIN_COUNT | RETAIN_DAYS
    retention_value: int = 0
    tiers: tuple[Tier, ...] = field(default_factory=tuple)
    manual_retention_days: int | None = None
    rpo_hours: float | None = None
    window: windows.Window | None = None  # None: scheduled snapshots may start at any time

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def has_runs(self) -> bool:
        return self.enabled and (self.interval_hours is not None or bool(self.tiers))

    def previous_run(self, now: dt.datetime) -> dt.datetime | None:
        """The latest scheduled time at or before ``now`` (aware UTC), or None if none yet/any more."""
        if not self.has_runs or self.start is None:
            return None
        local_now = now.astimezone(self.tz)
        if self.end_date is not None:
            end = dt.datetime.combine(self.end_date, dt.time.max, tzinfo=self.tz)
            local_now = min(local_now, end)
        if local_now < self.start:
            return None
        candidates: list[dt.datetime] = []
        if self.interval_hours is not None:
            candidates.append(_every_hours(self.start, self.interval_hours, local_now))
        for tier in self.tiers:
            t = _tier_previous(tier, self.start, local_now)
            if t is not None:
                candidates.append(t)
        if not candidates:
            return None
        return max(candidates).astimezone(dt.UTC)

    def tiers_at(self, when: dt.datetime) -> list[Tier]:
        """The calendar tiers that have a run exactly at ``when``."""
        local = when.astimezone(self.tz)
        return [t for t in self.tiers if _tier_previous(t, self.start or local, local) == local]


# ------------------------------------------------------------------------------ due times
def _every_hours(start: dt.datetime, hours: int, local_now: dt.datetime) -> dt.datetime:
    # Absolute (UTC) arithmetic: a daylight-saving change does not shift or double an interval run.
    step = dt.timedelta(hours=hours)
    start_utc = start.astimezone(dt.UTC)
    n = (local_now.astimezone(dt.UTC) - start_utc) // step
    return (start_utc + n * step).astimezone(start.tzinfo)


def _tier_previous(tier: Tier, start: dt.datetime, local_now: dt.datetime) -> dt.datetime | None:
    if tier.name == "hourly":
        return _every_hours(start, tier.interval_hours, local_now)
    tz = local_now.tzinfo
    times = tier.times or (start.timetz().replace(tzinfo=None),)
    lookback = {"daily": 2, "weekly": 8, "monthly": 63, "yearly": 367}[tier.name]
    day = local_now.date()
    for _ in range(lookback):
        if _tier_day(tier, day):
            for t in sorted(times, reverse=True):
                cand = dt.datetime.combine(day, t, tzinfo=tz)
                if start <= cand <= local_now:
                    return cand
        day -= dt.timedelta(days=1)
        if day < start.date():
            break
    return None


def _tier_day(tier: Tier, day: dt.date) -> bool:
    if tier.name == "daily":
        return True
    if tier.name == "weekly":
        return day.weekday() in tier.days
    if tier.name == "monthly":
        return day.day in tier.days
    return day.month in tier.months and day.day == 1  # yearly: the first of each listed month


def due(
    schedule: JobSchedule, last_run: dt.datetime | None, now: dt.datetime, grace: float
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(run to fire now, run missed beyond the grace time): runs missed in between are coalesced."""
    latest = schedule.previous_run(now)
    if latest is None or (last_run is not None and latest <= last_run):
        return None, None
    if (now - latest).total_seconds() > grace:
        return None, latest
    return latest, None


def is_full(fullbackup_interval: int, since_last_full: int | None, tiers: Sequence[Tier] = ()) -> bool:
    """Whether the next snapshot is full; ``since_last_full``: snapshots after the last full (None: none)."""
    if since_last_full is None or fullbackup_interval == 0:
        return True
    if any(t.snapshot_type == "full" for t in tiers):
        return True
    if fullbackup_interval < 0:
        return False
    return since_last_full >= fullbackup_interval


# ------------------------------------------------------------------------------ parsing
def parse(raw: dict[str, Any] | None) -> JobSchedule:
    """Validate a jobschedule as sent by a client; BadRequest says which field is wrong and why."""
    if raw is None:
        return JobSchedule()
    if not isinstance(raw, dict):
        raise errors.BadRequest("jobschedule must be an object.")
    enabled = _bool(raw.get("enabled", False), "enabled")
    tz_name = str(raw.get("timezone") or "UTC")
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise errors.BadRequest(f"jobschedule.timezone: unknown time zone {tz_name!r}.") from None
    start_date = _date(raw.get("start_date"), "start_date")
    start_time = _time(raw.get("start_time"), "start_time")
    end_date = _date(raw.get("end_date"), "end_date")
    start = None
    if start_date is not None or start_time is not None or enabled:
        start = dt.datetime.combine(start_date or dt.date(2000, 1, 1), start_time or dt.time(), tzinfo=tz)
    if end_date is not None and start is not None and end_date < start.date():
        raise errors.BadRequest("jobschedule.end_date is before start_date.")
    interval = None
    if raw.get("interval") not in (None, ""):
        interval = _hours(raw["interval"], "interval")
    fbi = _int(raw.get("fullbackup_interval", -1), "fullbackup_interval", minimum=-1)
    rtype = raw.get("retention_policy_type")
    rvalue = 0
    if rtype not in (None, ""):
        if rtype not in (RETAIN_COUNT, RETAIN_DAYS):
            raise errors.BadRequest(
                f"jobschedule.retention_policy_type must be {RETAIN_COUNT!r} or {RETAIN_DAYS!r}."
            )
        rvalue = _int(raw.get("retention_policy_value"), "retention_policy_value", minimum=1)
    else:
        rtype = None
    tiers = tuple(_tier(name, raw[name]) for name in TIERS if raw.get(name))
    manual_days = None
    manual = raw.get("manual")
    if isinstance(manual, dict) and manual.get("retention_days_to_keep") not in (None, ""):
        manual_days = _int(manual["retention_days_to_keep"], "manual.retention_days_to_keep", minimum=1)
    elif raw.get("retention_days_to_keep") not in (None, ""):
        manual_days = _int(raw["retention_days_to_keep"], "retention_days_to_keep", minimum=1)
    rpo = rpo_hours(raw)
    if enabled and interval is None and not tiers:
        raise errors.BadRequest(
            "jobschedule: an enabled schedule needs an interval or at least one of " + ", ".join(TIERS) + "."
        )
    return JobSchedule(
        enabled=enabled,
        timezone=tz_name,
        start=start,
        end_date=end_date,
        interval_hours=interval,
        fullbackup_interval=fbi,
        retention_type=rtype,
        retention_value=rvalue,
        tiers=tiers,
        manual_retention_days=manual_days,
        rpo_hours=rpo,
        window=backup_window(raw),
    )


# Ten years: beyond that an RPO means nothing, and the seconds stay far from any overflow.
MAX_RPO_HOURS = 87600.0


def rpo_hours(raw: dict[str, Any] | None) -> float | None:
    """The schedule's ``rpo_hours`` (None when unset or null); 400 unless a positive number of hours."""
    value = (raw or {}).get("rpo_hours")
    if value is None or value == "":
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        hours = float(str(value).strip())
    except ValueError:
        raise errors.BadRequest(f"jobschedule.rpo_hours must be a number of hours, not {value!r}.") from None
    if not 0 < hours <= MAX_RPO_HOURS:  # also refuses nan and inf
        raise errors.BadRequest(
            f"jobschedule.rpo_hours must be a positive number of hours up to {MAX_RPO_HOURS:.0f}, "
            f"not {value!r}."
        )
    return hours


def backup_window(raw: dict[str, Any] | None) -> windows.Window | None:
    """The schedule's ``window`` (None when unset or null); 400 naming what is wrong."""
    return windows.parse((raw or {}).get("window"), "jobschedule.window")


def _tier(name: str, raw: Any) -> Tier:
    where = f"jobschedule.{name}"
    if not isinstance(raw, dict):
        raise errors.BadRequest(f"{where} must be an object.")
    retention = _int(raw.get("retention", 1), f"{name}.retention", minimum=1)
    stype = raw.get("snapshot_type")
    if stype not in (None, "") and stype not in SNAPSHOT_TYPES:
        raise errors.BadRequest(f"{where}.snapshot_type must be 'full' or 'incremental'.")
    kw: dict[str, Any] = {"name": name, "retention": retention, "snapshot_type": stype or None}
    if name == "hourly":
        hours = _hours(raw.get("interval"), "hourly.interval")
        if hours not in HOURLY_INTERVALS:
            raise errors.BadRequest(
                f"{where}.interval must be one of {', '.join(map(str, HOURLY_INTERVALS))} hours."
            )
        kw["interval_hours"] = hours
    elif name == "daily":
        times = _list(raw.get("backup_time"), f"{name}.backup_time")
        parsed = {_time(t, f"{name}.backup_time") for t in times}
        if None in parsed:
            raise errors.BadRequest(f"{where}.backup_time has an empty time.")
        kw["times"] = tuple(sorted(t for t in parsed if t is not None))
    elif name == "weekly":
        days = _list(raw.get("backup_day"), f"{name}.backup_day")
        kw["days"] = tuple(sorted({_named(d, WEEKDAYS, f"{name}.backup_day") for d in days}))
    elif name == "monthly":
        days = _list(raw.get("month_backup_day"), f"{name}.month_backup_day")
        kw["days"] = tuple(sorted({_int(d, f"{name}.month_backup_day", 1, 31) for d in days}))
    else:
        months = _list(raw.get("backup_month"), f"{name}.backup_month")
        kw["months"] = tuple(sorted({_named(m, MONTHS, f"{name}.backup_month") + 1 for m in months}))
    return Tier(**kw)


def _bool(value: Any, name: str) -> bool:
    try:
        return strutils.bool_from_string(value, strict=True)
    except ValueError:
        raise errors.BadRequest(f"jobschedule.{name} must be true or false.") from None


def _int(value: Any, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    try:
        if isinstance(value, bool) or value is None:
            raise ValueError
        number = int(str(value).strip())
    except ValueError:
        raise errors.BadRequest(f"jobschedule.{name} must be an integer, not {value!r}.") from None
    if minimum is not None and number < minimum:
        raise errors.BadRequest(f"jobschedule.{name} must be at least {minimum}, not {number}.")
    if maximum is not None and number > maximum:
        raise errors.BadRequest(f"jobschedule.{name} must be at most {maximum}, not {number}.")
    return number


def _hours(value: Any, name: str) -> int:
    m = re.fullmatch(r"\s*(\d+)\s*(h|hr|hrs|hour|hours)?\s*", str(value)) if value is not None else None
    if m is None or int(m.group(1)) < 1:
        raise errors.BadRequest(
            f"jobschedule.{name} must be a number of hours such as '1 hr', not {value!r}."
        )
    return int(m.group(1))


def _date(value: Any, name: str) -> dt.date | None:
    if value in (None, "", "No End"):
        return None
    text = str(value).strip()
    for fmt in ("%m/%d/%Y", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise errors.BadRequest(f"jobschedule.{name} must be MM/DD/YYYY or YYYY-MM-DD, not {value!r}.")


def _time(value: Any, name: str) -> dt.time | None:
    if value in (None, ""):
        return None
    text = str(value).strip().upper()
    for fmt in ("%I:%M %p", "%I:%M%p", "%H:%M", "%H:%M:%S"):
        try:
            return dt.datetime.strptime(text, fmt).time()
        except ValueError:
            continue
    raise errors.BadRequest(f"jobschedule.{name} must be HH:MM or HH:MM AM/PM, not {value!r}.")


def _list(value: Any, name: str) -> list[Any]:
    if isinstance(value, (str, int)):
        value = [value]
    if not isinstance(value, list) or not value:
        raise errors.BadRequest(f"jobschedule.{name} must be a non-empty list.")
    return value


def _named(value: Any, names: tuple[str, ...], name: str) -> int:
    key = str(value).strip().lower()[:3]
    if key not in names:
        raise errors.BadRequest(f"jobschedule.{name}: {value!r} is not one of {', '.join(names)}.")
    return names.index(key)
