"""Queries behind the Prometheus metrics and the RPO checks: a few aggregates over whole tables, each one
statement, so that a scrape stays cheap with thousands of workloads and jobs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import false, func, select, update
from sqlalchemy.exc import DBAPIError

from t4o.db import states
from t4o.db.api import rows_matched
from t4o.db.models import Restore, Snapshot, Workload
from t4o.db.session import get_read_engine, session_scope

JOB_MODELS: dict[str, Any] = {"snapshot": Snapshot, "restore": Restore}


def job_counts() -> list[tuple[str, str, int, dt.datetime | None]]:
    """(kind, status, count, oldest creation time (naive UTC)) of the live (not deleted) snapshots and
    restores: one scan per table."""
    out: list[tuple[str, str, int, dt.datetime | None]] = []
    with session_scope() as s:
        for kind, model in JOB_MODELS.items():
            rows = s.execute(
                select(model.status, func.count(), func.min(model.created_at))
                .where(model.deleted.is_(False))
                .group_by(model.status)
            )
            out.extend((kind, str(status), int(count), oldest) for status, count, oldest in rows)
    return out


def finished_jobs(since: dt.datetime) -> list[tuple[str, str, float, int, int]]:
    """(kind, status, time_taken, size, uploaded_size) of every job that ended at or after ``since``
    (naive UTC), deleted ones included: they ran."""
    out: list[tuple[str, str, float, int, int]] = []
    with session_scope() as s:
        for kind, model in JOB_MODELS.items():
            rows = s.execute(
                select(model.status, model.time_taken, model.size, model.uploaded_size).where(
                    model.finished_at >= since, model.status.in_(states.JOB_FINISHED)
                )
            )
            out.extend((kind, str(st), float(t or 0), int(sz or 0), int(up or 0)) for st, t, sz, up in rows)
    return out


def workload_counts() -> dict[str, int]:
    """status -> number of live workloads."""
    with session_scope() as s:
        rows = s.execute(
            select(Workload.status, func.count()).where(Workload.deleted.is_(False)).group_by(Workload.status)
        )
        return {str(status): int(count) for status, count in rows}


def _newest_available() -> Any:
    return (
        select(Snapshot.workload_id, func.max(Snapshot.created_at).label("last_at"))
        .where(Snapshot.deleted.is_(False), Snapshot.status == states.AVAILABLE)
        .group_by(Snapshot.workload_id)
        .subquery()
    )


def recovery_points(with_metadata: bool = False) -> list[dict[str, Any]]:
    """Every live workload with its schedule and the creation time (naive UTC) of its newest available
    snapshot (``last_snapshot_at``, None without one); ``metadata`` too when asked."""
    newest = _newest_available()
    cols = [
        Workload.id,
        Workload.name,
        Workload.project_id,
        Workload.user_id,
        Workload.status,
        Workload.created_at,
        Workload.jobschedule,
        newest.c.last_at.label("last_snapshot_at"),
    ]
    if with_metadata:
        cols.append(Workload.metadata_.label("metadata"))
    with session_scope() as s:
        rows = s.execute(
            select(*cols)
            .outerjoin(newest, newest.c.workload_id == Workload.id)
            .where(Workload.deleted.is_(False))
        ).all()
    return [r._asdict() for r in rows]


def last_snapshot_at(workload_id: str) -> dt.datetime | None:
    """The creation time (naive UTC) of the workload's newest available snapshot."""
    with session_scope() as s:
        return s.scalar(
            select(func.max(Snapshot.created_at)).where(
                Snapshot.workload_id == workload_id,
                Snapshot.deleted.is_(False),
                Snapshot.status == states.AVAILABLE,
            )
        )


def last_snapshots_at(workload_ids: list[str]) -> dict[str, dt.datetime]:
    """workload_id -> creation time (naive UTC) of its newest available snapshot, for those that have one:
    one grouped query for a page of a listing."""
    if not workload_ids:
        return {}
    query = (
        select(Snapshot.workload_id, func.max(Snapshot.created_at))
        .where(
            Snapshot.workload_id.in_(workload_ids),
            Snapshot.status == states.AVAILABLE,
            Snapshot.deleted == false(),  # '=', not 'IS': MariaDB then reads ix_snapshots_newest alone
        )
        .group_by(Snapshot.workload_id)
    )
    # On the listings' read engine: one autocommit statement, one round trip (see workload_list_rows).
    for tries_left in (1, 0):
        try:
            with get_read_engine().connect() as conn:
                return {str(wid): last for wid, last in conn.execute(query)}
        except DBAPIError as exc:
            if not exc.connection_invalidated or not tries_left:
                raise
    raise AssertionError("unreachable")


def swap_metadata_key(workload_id: str, key: str, expected: Any, new: Any) -> bool:
    """Set ``metadata[key]`` of the workload to ``new`` (None removes it) if it still is ``expected``;
    False when it changed meanwhile or the workload is gone. Of several cron processes only one wins: the
    first statement locks the row (MariaDB, PostgreSQL) or the database (SQLite) until the commit."""
    with session_scope() as s:
        locked = s.execute(
            update(Workload)
            .where(Workload.id == workload_id, Workload.deleted.is_(False))
            .values(updated_at=Workload.updated_at)
        )
        if rows_matched(locked) == 0:
            return False
        metadata = dict(s.scalar(select(Workload.metadata_).where(Workload.id == workload_id)) or {})
        if metadata.get(key) != expected:
            return False
        if new is None:
            metadata.pop(key, None)
        else:
            metadata[key] = new
        # Bookkeeping of the service, not a change by the owner: updated_at stays.
        s.execute(
            update(Workload)
            .where(Workload.id == workload_id)
            .values(metadata_=metadata, updated_at=Workload.updated_at)
        )
        return True
