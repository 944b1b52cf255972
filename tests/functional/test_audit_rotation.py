"""workloadmgr-cron rotates the audit log by age ([audit] keep_days) on a real SQLite database."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import update

from t4o.cron.clock import ManualClock
from t4o.cron.manager import AUDIT_ROTATE_INTERVAL, CronManager
from t4o.db import audit_api
from t4o.db.models import AuditLog
from t4o.db.session import session_scope

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def entry(now: dt.datetime, age: dt.timedelta, action: str) -> str:
    entry_id = audit_api.record(kind="api", action=action, result="success", user_id="u", project_id="p")
    with session_scope() as s:
        s.execute(
            update(AuditLog)
            .where(AuditLog.id == entry_id)
            .values(created_at=(now - age).replace(tzinfo=None))
        )
    return entry_id


def left() -> list[str]:
    return [e.action for e in audit_api.entries_since((NOW - dt.timedelta(days=365)).replace(tzinfo=None))]


def test_cron_deletes_entries_older_than_keep_days(t4o_conf: Any) -> None:
    t4o_conf.set_override("keep_days", 30, group="audit")
    try:
        entry(NOW, dt.timedelta(days=30, minutes=1), "old")
        entry(NOW, dt.timedelta(days=29, hours=23, minutes=30), "kept")
        entry(NOW, dt.timedelta(minutes=5), "fresh")
        clock = ManualClock(NOW)
        manager = CronManager(t4o_conf, clock=clock, vault=lambda: None)

        manager.tick()  # the first tick rotates
        assert left() == ["fresh", "kept"]
        # Within the hour nothing more goes, though "kept" has aged past 30 days by then.
        clock.advance(dt.timedelta(seconds=AUDIT_ROTATE_INTERVAL - 1))
        entry(clock.now(), dt.timedelta(days=31), "older")
        assert manager.rotate_audit_log() == 0 and left() == ["fresh", "kept", "older"]
        clock.advance(dt.timedelta(seconds=1))
        assert manager.rotate_audit_log() == 2 and left() == ["fresh"]
    finally:
        t4o_conf.clear_override("keep_days", group="audit")
