"""What running restores created in the cloud, kept in the database so that it outlives the restore's worker.

A restore's worker records each server, volume, port and other resource as it creates it (``record``) and
forgets them when the restore ends on that worker: a failure removed them, a success gave them to the user.
Rows left for a restore that has ended are what a worker killed with -9 could not remove: another worker
(or the same one started again) takes them with ``claim`` and removes them. A claim is a lease, so two
workers never remove the same restore's resources at once and a cleaner that dies is replaced once it ends.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, or_, select, update

from t4o.db import states
from t4o.db.api import rows_matched
from t4o.db.models import Restore, RestoreResource, utcnow
from t4o.db.retry import retry_on_deadlock
from t4o.db.session import session_scope


@dataclass(frozen=True)
class Orphaned:
    """A restore that ended with resources still recorded, and who ran it."""

    restore_id: str
    status: str
    project_id: str
    user_id: str


@retry_on_deadlock
def record(restore_id: str, kind: str, resource_id: str) -> None:
    with session_scope() as s:
        s.add(RestoreResource(restore_id=restore_id, kind=kind, resource_id=resource_id, created_at=utcnow()))


@retry_on_deadlock
def forget(restore_id: str) -> int:
    """Drop the restore's rows (its resources were removed, or are the user's now); how many."""
    with session_scope() as s:
        return rows_matched(
            s.execute(delete(RestoreResource).where(RestoreResource.restore_id == restore_id))
        )


def orphaned(now: dt.datetime | None = None) -> list[Orphaned]:
    """Restores that ended (available, error, cancelled) with rows nobody holds a claim on."""
    now = now or utcnow()
    q = (
        select(Restore.id, Restore.status, Restore.project_id, Restore.user_id)
        .join(RestoreResource, RestoreResource.restore_id == Restore.id)
        .where(
            Restore.status.in_(states.JOB_FINISHED),
            or_(RestoreResource.claimed_until.is_(None), RestoreResource.claimed_until < now),
        )
        .distinct()
        .order_by(Restore.id)
    )
    with session_scope() as s:
        return [Orphaned(*row) for row in s.execute(q).all()]


@retry_on_deadlock
def claim(restore_id: str, cleaner: str, lease: dt.timedelta) -> list[tuple[str, str]]:
    """The restore's resources as (kind, id), oldest first, if ``cleaner`` got the lease on them; [] if
    another cleaner holds it (or there is nothing left)."""
    now = utcnow()
    with session_scope() as s:
        res = s.execute(
            update(RestoreResource)
            .where(
                RestoreResource.restore_id == restore_id,
                or_(RestoreResource.claimed_until.is_(None), RestoreResource.claimed_until < now),
            )
            .values(cleaner=cleaner, claimed_until=now + lease)
        )
        if not rows_matched(res):
            return []
        rows = s.execute(
            select(RestoreResource.kind, RestoreResource.resource_id)
            .where(RestoreResource.restore_id == restore_id, RestoreResource.cleaner == cleaner)
            .order_by(RestoreResource.id)
        ).all()
        return [(str(kind), str(rid)) for kind, rid in rows]


@retry_on_deadlock
def note(restore_id: str, message: str) -> None:
    """Add ``message`` to the error message of a failed restore (what its cleanup did)."""
    with session_scope() as s:
        row = s.get(Restore, restore_id)
        if row is not None and row.status == states.ERROR:
            s.execute(
                update(Restore)
                .where(Restore.id == restore_id)
                .values(error_msg=f"{row.error_msg or ''} {message}".strip(), updated_at=utcnow())
            )


@retry_on_deadlock
def release(cleaner: str) -> int:
    """Give up the claims of ``cleaner`` (a worker starting again: its cleanups before were cut short)."""
    with session_scope() as s:
        return rows_matched(
            s.execute(
                update(RestoreResource)
                .where(RestoreResource.cleaner == cleaner)
                .values(cleaner=None, claimed_until=None)
            )
        )
