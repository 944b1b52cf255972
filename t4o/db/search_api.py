"""Queries and state changes of file searches (Trilio's ``POST /search``, run by a workloads worker).

A search is created ``executing`` by the API; the worker that takes it records its host, then its
progress and results after each snapshot, then its end. Every change after the creation is a
conditional ``UPDATE ... WHERE status = 'executing'``: a search that was resolved meanwhile (its
worker stopped, it ran out of time) is never overwritten.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select, update

from t4o.common import errors
from t4o.db.api import rows_matched
from t4o.db.models import FileSearch, Snapshot, SnapshotVM, utcnow
from t4o.db.session import session_scope

EXECUTING = "executing"
COMPLETED = "completed"
ERROR = "error"
STATUSES = (EXECUTING, COMPLETED, ERROR)


def snapshots_of_vm(project_id: str, vm_id: str) -> list[Snapshot]:
    """The project's live snapshots that recorded VM ``vm_id``, newest first (any status)."""
    with session_scope() as s:
        q = (
            select(Snapshot)
            .join(SnapshotVM, SnapshotVM.snapshot_id == Snapshot.id)
            .where(
                Snapshot.project_id == project_id,
                Snapshot.deleted.is_(False),
                SnapshotVM.vm_id == vm_id,
            )
            .order_by(Snapshot.created_at.desc(), Snapshot.id.desc())
        )
        return list(s.scalars(q).unique())


def search_create(values: dict[str, Any]) -> FileSearch:
    """A new search, ``executing``, as stored."""
    with session_scope() as s:
        row = FileSearch(status=EXECUTING, progress_percent=0, json_resp=[], **values)
        s.add(row)
        s.flush()
        s.refresh(row)
        return row


def search_get(search_id: str, project_id: str | None) -> FileSearch:
    """The search, or NotFound when it belongs to another project (``project_id`` None: any)."""
    with session_scope() as s:
        row = s.get(FileSearch, search_id)
        if row is None or (project_id is not None and row.project_id != project_id):
            raise errors.NotFound(f"File search {search_id} not found.")
        return row


def search_list(project_id: str, limit: int | None = None) -> list[FileSearch]:
    """The project's searches, newest first."""
    with session_scope() as s:
        q = (
            select(FileSearch)
            .where(FileSearch.project_id == project_id)
            .order_by(FileSearch.created_at.desc(), FileSearch.id.desc())
        )
        if limit is not None:
            q = q.limit(limit)
        return list(s.scalars(q))


def search_claim(search_id: str, host: str) -> bool:
    """The worker on ``host`` takes the search; False when it was resolved or taken meanwhile."""
    with session_scope() as s:
        res = s.execute(
            update(FileSearch)
            .where(FileSearch.id == search_id, FileSearch.status == EXECUTING, FileSearch.host.is_(None))
            .values(host=host, updated_at=utcnow())
        )
        return rows_matched(res) == 1


def search_progress(search_id: str, percent: int, json_resp: list[dict[str, Any]]) -> bool:
    """Records the results so far; False when the search is no longer executing (stop then)."""
    with session_scope() as s:
        res = s.execute(
            update(FileSearch)
            .where(FileSearch.id == search_id, FileSearch.status == EXECUTING)
            .values(progress_percent=max(0, min(100, percent)), json_resp=json_resp, updated_at=utcnow())
        )
        return rows_matched(res) == 1


def search_finish(
    search_id: str,
    status: str,
    error_msg: str | None = None,
    json_resp: list[dict[str, Any]] | None = None,
) -> bool:
    """executing -> ``status`` (completed or error); False when it was already resolved."""
    now = utcnow()
    values: dict[str, Any] = {"status": status, "error_msg": error_msg, "finished_at": now, "updated_at": now}
    if json_resp is not None:
        values["json_resp"] = json_resp
    if status == COMPLETED:
        values["progress_percent"] = 100
    with session_scope() as s:
        res = s.execute(
            update(FileSearch)
            .where(FileSearch.id == search_id, FileSearch.status == EXECUTING)
            .values(**values)
        )
        return rows_matched(res) == 1


def searches_fail(
    reason: str,
    hosts: Sequence[str] = (),
    created_before: dt.datetime | None = None,
    search_id: str | None = None,
) -> int:
    """Resolves as error the searches still executing on ``hosts`` (a worker that restarted or
    stopped) or created before ``created_before`` (they ran out of time); ``search_id``: that one
    only. Returns how many were resolved."""
    cond: list[Any] = []
    if hosts:
        cond.append(FileSearch.host.in_(list(hosts)))
    if created_before is not None:
        cond.append(FileSearch.created_at < created_before)
    if not cond:
        return 0
    where: list[Any] = [FileSearch.status == EXECUTING, or_(*cond)]
    if search_id is not None:
        where.append(FileSearch.id == search_id)
    now = utcnow()
    with session_scope() as s:
        res = s.execute(
            update(FileSearch)
            .where(*where)
            .values(status=ERROR, error_msg=reason, finished_at=now, updated_at=now)
        )
        return rows_matched(res)
