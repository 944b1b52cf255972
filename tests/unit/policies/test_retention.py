"""Retention selection: by count, by days, per calendar tier; protected snapshots stay."""

from __future__ import annotations

import datetime as dt
from typing import Any

from t4o.policies import jobschedule as js
from t4o.policies.retention import SnapshotInfo, expired

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def hourly_snaps(n: int, **extra: Any) -> list[SnapshotInfo]:
    return [SnapshotInfo(id=f"s{i:03d}", created_at=T0 + dt.timedelta(hours=i), **extra) for i in range(n)]


def sched(**kw: Any) -> js.JobSchedule:
    return js.parse({"enabled": True, "start_date": "2026-01-01", "interval": "1", **kw})


def test_no_rule_keeps_everything() -> None:
    assert expired(sched(), hourly_snaps(5), T0 + dt.timedelta(days=9)) == []


def test_keep_by_count() -> None:
    s = sched(retention_policy_type=js.RETAIN_COUNT, retention_policy_value=3)
    assert expired(s, hourly_snaps(5), T0) == ["s000", "s001"]


def test_keep_by_days_keeps_the_newest_anyway() -> None:
    s = sched(retention_policy_type=js.RETAIN_DAYS, retention_policy_value=1)
    snaps = hourly_snaps(48)
    gone = expired(s, snaps, T0 + dt.timedelta(hours=47))
    assert gone == [f"s{i:03d}" for i in range(24)]
    assert expired(s, snaps, T0 + dt.timedelta(days=30)) == [x.id for x in snaps[:-1]]


def test_mounted_or_immutable_stay_and_running_ones_are_not_touched() -> None:
    s = sched(retention_policy_type=js.RETAIN_COUNT, retention_policy_value=1)
    snaps = hourly_snaps(4)
    snaps[0] = SnapshotInfo(id="s000", created_at=snaps[0].created_at, metadata={"mounted": True})
    snaps[1] = SnapshotInfo(id="s001", created_at=snaps[1].created_at, metadata={"immutable": "true"})
    snaps.append(SnapshotInfo(id="run", created_at=T0 + dt.timedelta(hours=9), status="executing"))
    assert expired(s, snaps, T0) == ["s002"]


def test_failed_runs_go_once_older_than_the_kept_ones() -> None:
    s = sched(retention_policy_type=js.RETAIN_COUNT, retention_policy_value=2)
    snaps = hourly_snaps(4)
    snaps[0] = SnapshotInfo(id="s000", created_at=snaps[0].created_at, status="error")
    snaps[3] = SnapshotInfo(id="s003", created_at=snaps[3].created_at, status="error")
    assert expired(s, snaps, T0) == ["s000"]


def test_a_snapshot_kept_by_any_tier_stays() -> None:
    s = js.parse(
        {
            "enabled": True,
            "start_date": "2026-01-01",
            "hourly": {"interval": 1, "retention": 3},
            "daily": {"backup_time": ["00:00"], "retention": 2},
            "weekly": {"backup_day": ["sun"], "retention": 1},
        }
    )
    snaps = hourly_snaps(24 * 5)  # Thu 1 Jan .. Mon 5 Jan 23:00
    gone = set(expired(s, snaps, T0 + dt.timedelta(days=5)))
    kept = {x.id for x in snaps} - gone
    hourly = {"s117", "s118", "s119"}
    daily = {"s095", "s119"}  # last of Sun 4 Jan and of Mon 5 Jan
    weekly = {"s119"}  # ISO week 2 (from Mon 5 Jan): its last snapshot
    assert kept == hourly | daily | weekly


def test_daily_buckets_follow_the_schedule_time_zone() -> None:
    s = js.parse(
        {
            "enabled": True,
            "start_date": "2026-01-01",
            "timezone": "America/New_York",
            "daily": {"backup_time": ["00:00"], "retention": 1},
            "hourly": {"interval": 1, "retention": 1},
        }
    )
    snaps = hourly_snaps(30)
    kept = {x.id for x in snaps} - set(expired(s, snaps, T0))
    # New York is UTC-5: the last snapshot of 31 Dec local is 04:00 UTC on 1 Jan, now expired.
    assert kept == {"s029"}
