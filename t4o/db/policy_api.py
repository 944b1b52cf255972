"""Queries of the cron service: workloads with a schedule, run claims, and snapshots for retention."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from t4o.db.models import Snapshot, Workload
from t4o.db.policy_models import ScheduledRun
from t4o.db.session import session_scope


def naive_utc(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.UTC).replace(tzinfo=None) if t.tzinfo is not None else t


def scheduled_workloads() -> list[dict[str, Any]]:
    """Live workloads whose jobschedule is enabled (JSON is filtered here: it is portable across backends)."""
    with session_scope() as s:
        rows = s.execute(
            select(
                Workload.id, Workload.project_id, Workload.user_id, Workload.status, Workload.jobschedule
            ).where(Workload.deleted.is_(False))
        ).all()
    return [r._asdict() for r in rows if (r.jobschedule or {}).get("enabled") in (True, "true", "True")]


def last_run(workload_id: str) -> dt.datetime | None:
    """The latest scheduled time claimed for the workload (aware UTC)."""
    with session_scope() as s:
        t = s.scalar(
            select(ScheduledRun.scheduled_time)
            .where(ScheduledRun.workload_id == workload_id)
            .order_by(ScheduledRun.scheduled_time.desc())
            .limit(1)
        )
    return t.replace(tzinfo=dt.UTC) if t is not None else None


def claim_run(
    workload_id: str, scheduled_time: dt.datetime, host: str, status: str, message: str = ""
) -> str | None:
    """Insert the run's row; its id, or None when another cron process claimed this run first."""
    try:
        with session_scope() as s:
            run = ScheduledRun(
                workload_id=workload_id,
                scheduled_time=naive_utc(scheduled_time),
                status=status,
                host=host,
                message=message,
            )
            s.add(run)
            s.flush()
            return run.id
    except IntegrityError:
        return None


def finish_run(run_id: str, status: str, message: str = "", **values: Any) -> None:
    with session_scope() as s:
        s.execute(
            update(ScheduledRun)
            .where(ScheduledRun.id == run_id)
            .values(status=status, message=message, **values)
        )


def run_list(workload_id: str) -> list[ScheduledRun]:
    with session_scope() as s:
        return list(
            s.scalars(
                select(ScheduledRun)
                .where(ScheduledRun.workload_id == workload_id)
                .order_by(ScheduledRun.scheduled_time)
            )
        )


def snapshot_rows(workload_id: str) -> list[dict[str, Any]]:
    """Live snapshots of a workload, oldest first, with what retention and full/incremental need.

    ``scheduled_time`` (naive UTC) is set for snapshots cron fired: retention dates them by their slot.
    """
    with session_scope() as s:
        rows = s.execute(
            select(
                Snapshot.id,
                Snapshot.created_at,
                Snapshot.status,
                Snapshot.snapshot_type,
                Snapshot.metadata_.label("metadata"),
                ScheduledRun.scheduled_time,
            )
            .outerjoin(ScheduledRun, ScheduledRun.snapshot_id == Snapshot.id)
            .where(Snapshot.workload_id == workload_id, Snapshot.deleted.is_(False))
            .order_by(Snapshot.created_at, Snapshot.id)
        ).all()
    return [r._asdict() for r in rows]
