"""The audit log: one row per mutating API call and per job start and end, deleted after some days."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, select

from t4o.db.api import rows_matched
from t4o.db.models import AuditLog, utcnow
from t4o.db.session import session_scope

MAX_ENTRIES = 10000  # one read of the log returns at most this many entries, newest first

FIELDS = (
    "kind",
    "action",
    "method",
    "path",
    "object_type",
    "object_id",
    "status_code",
    "result",
    "message",
    "user_id",
    "project_id",
    "request_id",
)


def record(**values: Any) -> str:
    """Insert one entry (keys of FIELDS); its id."""
    unknown = set(values) - set(FIELDS)
    assert not unknown, f"unknown audit fields {unknown}"
    entry = AuditLog(**values)
    for key in ("user_id", "project_id"):
        if getattr(entry, key) is None:
            setattr(entry, key, "")
    with session_scope() as s:
        s.add(entry)
        s.flush()
        return entry.id


def entries_since(since: dt.datetime, project_id: str | None = None) -> list[AuditLog]:
    """Entries created at or after ``since`` (of ``project_id`` only, when given), newest first."""
    q = select(AuditLog).where(AuditLog.created_at >= since)
    if project_id is not None:
        q = q.where(AuditLog.project_id == project_id)
    q = q.order_by(AuditLog.created_at.desc(), AuditLog.id.desc()).limit(MAX_ENTRIES)
    with session_scope() as s:
        rows = list(s.scalars(q))
        s.expunge_all()
        return rows


def purge_older_than(days: int, now: dt.datetime | None = None) -> int:
    """Delete the entries older than ``days``; how many went."""
    now = now or utcnow()
    if now.tzinfo is not None:  # rows hold naive UTC
        now = now.astimezone(dt.UTC).replace(tzinfo=None)
    cutoff = now - dt.timedelta(days=days)
    with session_scope() as s:
        return rows_matched(s.execute(delete(AuditLog).where(AuditLog.created_at < cutoff)))
