"""Which snapshots of a workload retention deletes.

A snapshot stays when any rule keeps it:

* 4.x/5.x: the newest ``retention_policy_value`` snapshots, or those younger than that many days;
* calendar tiers, grandfather-father-son: ``hourly`` keeps the newest N snapshots, ``daily`` the last
  snapshot of each of the newest N days that have one, ``weekly`` of N ISO weeks, ``monthly`` of N months,
  ``yearly`` of N years (in the schedule's time zone);
* ``manual.retention_days_to_keep``: snapshots younger than that many days;
* a snapshot that is mounted or immutable (its vault objects are locked) is never deleted.

Only finished snapshots are candidates; the newest available snapshot is always kept, so a workload
is never left without a restore point by retention. Failed snapshots go once they are older than the
oldest snapshot kept.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from oslo_utils import strutils

from t4o.policies.jobschedule import RETAIN_COUNT, RETAIN_DAYS, JobSchedule

FINISHED = ("available", "error", "cancelled")


@dataclass(frozen=True)
class SnapshotInfo:
    id: str
    created_at: dt.datetime  # UTC; naive values are read as UTC
    status: str = "available"
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def protected(self) -> bool:
        md = self.metadata or {}
        flag = strutils.bool_from_string
        return self.status == "mounted" or flag(md.get("mounted")) or flag(md.get("immutable"))


def _utc(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


def has_rules(schedule: JobSchedule) -> bool:
    return bool(schedule.retention_type or schedule.tiers or schedule.manual_retention_days)


def expired(schedule: JobSchedule, snapshots: Sequence[SnapshotInfo], now: dt.datetime) -> list[str]:
    """Ids of snapshots to delete, oldest first. No retention rule at all: nothing expires."""
    if not has_rules(schedule):
        return []
    done = sorted((s for s in snapshots if s.status in FINISHED), key=lambda s: _utc(s.created_at))
    good = [s for s in done if s.status == "available"]
    keep: set[str] = {s.id for s in done if s.protected}
    if good:
        keep.add(good[-1].id)
    now = _utc(now)
    if schedule.retention_type == RETAIN_COUNT:
        keep.update(s.id for s in good[-schedule.retention_value :])
    elif schedule.retention_type == RETAIN_DAYS:
        keep.update(_younger(good, now, schedule.retention_value))
    if schedule.manual_retention_days:
        keep.update(_younger(good, now, schedule.manual_retention_days))
    tz = schedule.tz
    for tier in schedule.tiers:
        if tier.name == "hourly":
            keep.update(s.id for s in good[-tier.retention :])
        else:
            keep.update(_last_per_bucket(good, tier.retention, _BUCKETS[tier.name], tz))
    # A failed run stays while it is newer than the oldest kept restore point: it tells what went wrong.
    kept_times = [_utc(s.created_at) for s in good if s.id in keep]
    if kept_times:
        keep.update(s.id for s in done if s.status != "available" and _utc(s.created_at) > min(kept_times))
    return [s.id for s in done if s.id not in keep]


def _younger(snaps: Sequence[SnapshotInfo], now: dt.datetime, days: int) -> list[str]:
    limit = now - dt.timedelta(days=days)
    return [s.id for s in snaps if _utc(s.created_at) > limit]


_BUCKETS: dict[str, Callable[[dt.datetime], Hashable]] = {
    "daily": lambda t: t.date(),
    "weekly": lambda t: t.isocalendar()[:2],
    "monthly": lambda t: (t.year, t.month),
    "yearly": lambda t: t.year,
}


def _last_per_bucket(
    snaps: Sequence[SnapshotInfo], count: int, bucket: Callable[[dt.datetime], Hashable], tz: dt.tzinfo
) -> list[str]:
    """The newest snapshot of each of the ``count`` newest buckets (days, weeks, ...)."""
    newest: dict[Hashable, str] = {}
    for s in snaps:  # oldest first: later ones overwrite
        newest[bucket(_utc(s.created_at).astimezone(tz))] = s.id
    return list(newest.values())[-count:]
