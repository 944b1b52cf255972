"""Queries and atomic state changes of the control plane.

Every state change that two actors may race for (API vs worker, two API calls) is a conditional
``UPDATE ... WHERE status IN (...)`` whose row count says who won; nothing reads a status and then writes.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    CursorResult,
    DateTime,
    Integer,
    Result,
    String,
    Text,
    and_,
    bindparam,
    cast,
    false,
    func,
    insert,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from t4o.common import errors
from t4o.db import states
from t4o.db.models import (
    GlobalFlag,
    Restore,
    Service,
    Setting,
    Snapshot,
    SnapshotMount,
    SnapshotVM,
    Workload,
    WorkloadType,
    WorkloadVM,
    utcnow,
)
from t4o.db.retry import retry_on_deadlock
from t4o.db.session import get_read_engine, session_scope

JobModel = type[Snapshot] | type[Restore]
JOB_MODELS: dict[str, Any] = {"snapshot": Snapshot, "restore": Restore}

# A quota check run first in the transaction of an insert (it raises 403): it locks the project's quotas,
# so that the check and the insert it allows are one step for concurrent requests of the project.
QuotaGuard = Callable[[Session], None]


# ---------------------------------------------------------------- workload types
WORKLOAD_TYPE_SORT_KEYS = ("name", "created_at", "updated_at")


def workload_type_list(page: Page | None = None) -> list[WorkloadType]:
    """One keyset page of the workload types (by name unless the page says otherwise)."""
    return _paged_objects(WorkloadType, select(WorkloadType), page or Page(sort_key="name", sort_dir="asc"))


def workload_type_get(type_id: str) -> WorkloadType:
    with session_scope() as s:
        wt = s.get(WorkloadType, type_id)
        if wt is None:
            raise errors.NotFound(f"Workload type {type_id} not found.")
        return wt


# ---------------------------------------------------------------- workloads
def _live(model: Any, project_id: str | None) -> Any:
    """Rows of ``model`` not soft-deleted, limited to one project unless ``project_id`` is None (admin)."""
    q = select(model).where(model.deleted.is_(False))
    if project_id is not None:
        q = q.where(model.project_id == project_id)
    return q


def _find_live(s: Session, model: Any, row_id: str, project_id: str | None) -> Any:
    """The live row of ``model`` (a workload, snapshot or restore) in the project, else NotFound."""
    row = s.scalars(_live(model, project_id).where(model.id == row_id)).first()
    if row is None:
        raise errors.NotFound(f"{model.__name__} {row_id} not found.")
    return row


def _update_live(model: Any, row_id: str, project_id: str | None, statuses: Sequence[str]) -> Any:
    """UPDATE of the live row of ``model`` in the project only while its status is one of ``statuses``:
    the caller adds the values, and the row count says whether the row was in such a state."""
    return update(model).where(
        model.id == row_id,
        model.deleted.is_(False),
        model.status.in_(statuses),
        *([model.project_id == project_id] if project_id is not None else []),
    )


def workload_get(workload_id: str, project_id: str | None) -> Workload:
    """The workload, or NotFound when it is deleted or belongs to another project."""
    with session_scope() as s:
        return _find_live(s, Workload, workload_id, project_id)


def workload_list(project_id: str | None) -> list[Workload]:
    with session_scope() as s:
        return list(s.scalars(_live(Workload, project_id).order_by(Workload.created_at.desc(), Workload.id)))


@dataclass(frozen=True)
class Page:
    """One page of a listing: at most ``limit`` rows after the row ``marker`` in (sort_key, id) order."""

    limit: int | None = None
    marker: str | None = None
    sort_key: str = "created_at"
    sort_dir: str = "desc"


SORT_KEYS = ("created_at", "updated_at", "name", "status")


def _keyset(
    table: Any, cond: list[Any], page: Page, s: Session | Connection, tie: str = "id"
) -> tuple[list[Any], list[Any]]:
    """(conditions, order) of a keyset page: the rows strictly after the marker in (sort_key, tie) order.

    ``tie`` is the unique column the marker names (the id, or a setting's name). The marker is looked up
    under the same conditions, so another project's id is not found (400).
    """
    key, col_id = table.c[page.sort_key], table.c[tie]
    desc = page.sort_dir == "desc"
    order = [key.desc(), col_id.desc()] if desc else [key.asc(), col_id.asc()]
    if page.marker is None:
        return cond, order
    found = s.execute(select(key).where(*cond, col_id == page.marker)).first()
    if found is None:
        raise errors.BadRequest(f"Marker {page.marker} not found.")
    value = found[0]
    after = (key < value, and_(key == value, col_id < page.marker))
    if not desc:
        after = (key > value, and_(key == value, col_id > page.marker))
    return [*cond, or_(*after)], order


# JSON columns of a workload; raw_json listings return them as the stored JSON text.
_WORKLOAD_JSON = ("jobschedule", "metadata")
# What a listing shows of a workload (not the soft-delete bookkeeping).
_WORKLOAD_LISTED = (
    "id", "name", "description", "project_id", "user_id", "workload_type_id", "source_platform", "status",
    "error_msg", "jobschedule", "metadata", "encryption", "secret_uuid", "backup_target_id", "created_at",
    "updated_at",
)  # fmt: skip


# Backends whose timestamps read as text are 'YYYY-MM-DD HH:MM:SS[.ffffff]' whatever the session's settings.
_TEXT_TIMESTAMPS = ("mysql", "mariadb", "sqlite")


def _listed_column(col: Any, raw: bool, dialect: str) -> Any:
    """A listed column; ``raw``: JSON as its stored text and (where the format is fixed) timestamps as
    text, which the API renders with string slicing instead of building and formatting datetimes."""
    if raw and col.name in _WORKLOAD_JSON:
        return type_coerce(col, Text).label(col.name)
    if raw and isinstance(col.type, DateTime) and dialect in _TEXT_TIMESTAMPS:
        return cast(col, String(32)).label(col.name)
    return col


@functools.lru_cache(maxsize=128)
def _workload_page_statements(
    scoped: bool, key: str, desc: bool, after: bool, raw_json: bool, dialect: str, last_snapshot: bool = False
) -> tuple[Any, Any]:
    """(marker lookup, page query) of one shape of workload listing, built once per process.

    Building a statement costs more CPU than running it: the listing reuses these, with the project, the
    marker, its sort value and the limit as bound parameters (SQLAlchemy's compiled cache does the rest).
    The page's ids come from the (project_id, deleted, created_at, id) index alone, then their rows and
    VMs are joined to them. Rows sorted by a timestamp are put in order by the caller, since sorting the
    joined rows (with their text columns) made MariaDB write a temporary table on disk for every page;
    by a text column the database sorts them, in its own collation (which the next page's keyset uses).
    With ``last_snapshot`` each row also carries ``last_snapshot_at``, the creation of its newest
    available snapshot, looked up for the page's rows only (ix_snapshots_newest) in the same round trip.
    """
    wl, vm = Workload.__table__, WorkloadVM.__table__
    # '=', not 'IS': MariaDB then walks ix_workloads_project_deleted in order for the page's ids and stops
    # at the limit, instead of reading and sorting every row of the project (a filesort per page).
    cond: list[ColumnElement[bool]] = [wl.c.deleted == false()]
    if scoped:
        cond.append(wl.c.project_id == bindparam("project_id"))
    sort_col, col_id = wl.c[key], wl.c.id
    marker = select(sort_col).where(*cond, col_id == bindparam("marker"))
    if after:
        value, marker_id = (
            bindparam("marker_value", type_=sort_col.type),
            bindparam("marker", type_=col_id.type),
        )
        if desc:
            cond.append(or_(sort_col < value, and_(sort_col == value, col_id < marker_id)))
        else:
            cond.append(or_(sort_col > value, and_(sort_col == value, col_id > marker_id)))
    order = [sort_col.desc(), col_id.desc()] if desc else [sort_col.asc(), col_id.asc()]
    ids = select(col_id).where(*cond).order_by(*order).limit(bindparam("limit", type_=Integer)).subquery()
    columns = [_listed_column(wl.c[name], raw_json, dialect) for name in _WORKLOAD_LISTED]
    if last_snapshot:
        snap = Snapshot.__table__
        newest: Any = (
            select(func.max(snap.c.created_at))
            .where(
                snap.c.workload_id == wl.c.id,
                snap.c.status == states.AVAILABLE,
                snap.c.deleted == false(),  # '=', not 'IS': MariaDB then reads ix_snapshots_newest alone
            )
            .scalar_subquery()
        )
        if raw_json and dialect in _TEXT_TIMESTAMPS:
            newest = cast(newest, String(32))
        columns.append(newest.label("last_snapshot_at"))
    page = select(*columns, vm.c.vm_id, vm.c.vm_name).select_from(
        ids.join(wl, wl.c.id == ids.c.id).outerjoin(vm, vm.c.workload_id == wl.c.id)
    )
    if not _sorted_here(key):
        page = page.order_by(*order)
    return marker, page


def _sorted_here(sort_key: str) -> bool:
    """Whether a workload page sorted by ``sort_key`` is put in order in Python (the same order as SQL's)."""
    return isinstance(Workload.__table__.c[sort_key].type, DateTime)


# A listing without a limit (internal callers) still reads in bounded statements' shape.
_NO_LIMIT = 2**31 - 1


def _read_page(marker_q: Any, page_q: Any, params: dict[str, Any]) -> Sequence[Any]:
    with get_read_engine().connect() as conn:
        if params["marker"] is not None:
            found = conn.execute(marker_q, params).first()
            if found is None:
                raise errors.BadRequest(f"Marker {params['marker']} not found.")
            params["marker_value"] = found[0]
        return conn.execute(page_q, params).all()


def workload_list_rows(
    project_id: str | None, page: Page | None = None, raw_json: bool = False, last_snapshot: bool = False
) -> list[dict[str, Any]]:
    """Workloads as plain rows with their ``instances``: the list calls' fast path.

    One prepared query (plus the marker's lookup when there is one) on the read engine: no ORM session,
    autocommit, so one round trip to the database. With ``raw_json`` the JSON columns come back as the
    JSON text the database holds (or already decoded, when the driver decodes JSON itself), so the API
    can embed them without a decode/encode round trip, and on MariaDB and SQLite the timestamps come
    back as their text ('YYYY-MM-DD HH:MM:SS[.ffffff]'). ``last_snapshot`` adds ``last_snapshot_at``
    (None without an available snapshot) to each row.
    """
    page = page or Page()
    desc = page.sort_dir == "desc"
    dialect = get_read_engine().dialect.name
    marker_q, page_q = _workload_page_statements(
        project_id is not None, page.sort_key, desc, page.marker is not None, raw_json, dialect, last_snapshot
    )
    listed = (*_WORKLOAD_LISTED, "last_snapshot_at") if last_snapshot else _WORKLOAD_LISTED
    params: dict[str, Any] = {"project_id": project_id, "marker": page.marker}
    params["limit"] = page.limit if page.limit is not None else _NO_LIMIT
    try:
        rows = _read_page(marker_q, page_q, params)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        rows = _read_page(marker_q, page_q, params)  # a pooled connection had died: once more, afresh
    by_id: dict[str, dict[str, Any]] = {}
    for row in rows:
        item = by_id.get(row[0])  # id is the first listed column
        if item is None:
            item = by_id[row[0]] = dict(zip(listed, row[: len(listed)], strict=True))
            item["instances"] = []
        if row[len(listed)] is not None:
            item["instances"].append({"id": row[len(listed)], "name": row[len(listed) + 1]})
    out = list(by_id.values())
    if _sorted_here(page.sort_key):
        # Timestamps (as datetimes or as ISO text) and ids (UUIDs) compare alike in Python and in SQL.
        out.sort(key=lambda w: (w[page.sort_key], w["id"]), reverse=desc)
    for item in out:
        if len(item["instances"]) > 1:
            item["instances"].sort(key=lambda i: (i["name"], i["id"]))
    return out


def vm_owners(vm_ids: Iterable[str]) -> dict[str, str]:
    """vm_id -> workload_id for the VMs that already belong to a workload."""
    ids = list(vm_ids)
    if not ids:
        return {}
    with session_scope() as s:
        rows = s.execute(select(WorkloadVM.vm_id, WorkloadVM.workload_id).where(WorkloadVM.vm_id.in_(ids)))
        return {vm_id: wl_id for vm_id, wl_id in rows}


def _vm_conflict(exc: IntegrityError) -> errors.BadRequest:
    return errors.BadRequest("An instance given already belongs to another workload.")


def _workload_vm(vm: dict[str, Any]) -> WorkloadVM:
    return WorkloadVM(
        vm_id=vm["vm_id"], vm_name=vm.get("vm_name", ""), volume_count=vm.get("volume_count", 0)
    )


def workload_create(
    values: dict[str, Any], vms: Sequence[dict[str, Any]], quota_guard: QuotaGuard | None = None
) -> Workload:
    try:
        with session_scope() as s:
            if quota_guard is not None:
                quota_guard(s)
            wl = Workload(**values)
            wl.vms = [_workload_vm(v) for v in vms]
            s.add(wl)
            s.flush()
            s.refresh(wl)
            return wl
    except IntegrityError as exc:
        raise _vm_conflict(exc) from exc


def workload_update(
    workload_id: str,
    project_id: str | None,
    values: dict[str, Any],
    vms: Sequence[dict[str, Any]] | None,
    quota_guard: QuotaGuard | None = None,
) -> Workload:
    """Modify a workload that no job holds; ``vms`` (when given) replaces its instance list."""
    try:
        with session_scope() as s:
            if quota_guard is not None:
                quota_guard(s)
            # Lock the row against a snapshot starting meanwhile: the status must stay as it is.
            res = s.execute(
                _update_live(Workload, workload_id, project_id, [states.AVAILABLE, states.ERROR]).values(
                    updated_at=utcnow(), **values
                )
            )
            if rows_matched(res) != 1:
                wl = _find_live(s, Workload, workload_id, project_id)
                raise errors.Conflict(f"Workload {workload_id} is {wl.status}; it cannot be modified now.")
            wl = s.get_one(Workload, workload_id)
            if vms is not None:
                keep = {v["vm_id"]: v for v in vms}
                for existing in list(wl.vms):
                    if existing.vm_id not in keep:
                        wl.vms.remove(existing)
                    else:
                        existing.volume_count = int(keep.pop(existing.vm_id).get("volume_count", 0))
                s.flush()
                for v in keep.values():
                    wl.vms.append(_workload_vm(v))
            s.flush()
            s.refresh(wl)
            return wl
    except IntegrityError as exc:
        raise _vm_conflict(exc) from exc


def workload_delete(workload_id: str, project_id: str | None) -> Workload:
    """Soft-delete a workload no job holds, with its snapshots; its VMs become free for other workloads."""
    now = utcnow()
    with session_scope() as s:
        res = s.execute(
            _update_live(
                Workload, workload_id, project_id, [states.AVAILABLE, states.ERROR, states.DELETING]
            ).values(deleted=True, deleted_at=now, status="deleted", updated_at=now)
        )
        if rows_matched(res) != 1:
            wl = _find_live(s, Workload, workload_id, project_id)
            raise errors.Conflict(f"Workload {workload_id} is {wl.status}; wait for its job or reset it.")
        s.query(WorkloadVM).filter(WorkloadVM.workload_id == workload_id).delete()
        s.execute(
            update(Snapshot)
            .where(Snapshot.workload_id == workload_id, Snapshot.deleted.is_(False))
            .values(deleted=True, deleted_at=now)
        )
        return s.get_one(Workload, workload_id)


def live_ids() -> tuple[set[str], set[str]]:
    """The ids of every workload and snapshot not deleted (a reconcile with the backup target)."""
    with session_scope() as s:
        workloads = set(s.scalars(select(Workload.id).where(Workload.deleted.is_(False))))
        snapshots = set(s.scalars(select(Snapshot.id).where(Snapshot.deleted.is_(False))))
        return workloads, snapshots


def workload_mark_deleting(workload_id: str, project_id: str | None) -> tuple[Workload, str]:
    """available|error -> deleting (no snapshot can start meanwhile); returns the row and its former status.
    409 while a job holds the workload."""
    return _mark_deleting(Workload, workload_id, project_id, [states.AVAILABLE, states.ERROR])


def workload_delete_failed(workload_id: str, status: str, error_msg: str) -> None:
    """deleting -> ``status`` again, with why the delete from the backup target failed."""
    _unmark_deleting(Workload, workload_id, status, error_msg)


def _mark_deleting(model: Any, row_id: str, project_id: str | None, statuses: Sequence[str]) -> Any:
    """``statuses`` -> deleting. A row left ``deleting`` (its API process died mid-delete) may be deleted
    again: removing data from the target twice is harmless."""
    with session_scope() as s:
        row = _find_live(s, model, row_id, project_id)
        before = row.status
        if before not in (*statuses, states.DELETING):
            raise errors.Conflict(f"{model.__name__} {row_id} is {before}; it cannot be deleted now.")
        res = s.execute(
            _update_live(model, row_id, project_id, [before]).values(
                status=states.DELETING, updated_at=utcnow()
            )
        )
        if rows_matched(res) != 1:  # changed since it was read
            raise errors.Conflict(f"{model.__name__} {row_id} changed meanwhile; try again.")
        s.refresh(row)
        return row, before


def _unmark_deleting(model: Any, row_id: str, status: str, error_msg: str) -> None:
    # A retried delete that failed again has no earlier status to go back to: error says so.
    status = states.ERROR if status == states.DELETING else status
    with session_scope() as s:
        s.execute(
            _update_live(model, row_id, None, [states.DELETING]).values(
                status=status, error_msg=error_msg, updated_at=utcnow()
            )
        )


def workload_set_schedule_enabled(workload_id: str, project_id: str | None, enabled: bool) -> Workload:
    with session_scope() as s:
        wl = s.scalars(
            _live(Workload, project_id).where(Workload.id == workload_id).with_for_update()
        ).first()
        if wl is None:
            raise errors.NotFound(f"Workload {workload_id} not found.")
        wl.jobschedule = {**(wl.jobschedule or {}), "enabled": enabled}
        s.flush()
        s.refresh(wl)
        return wl


def workload_unlock(workload_id: str, project_id: str | None) -> Workload:
    """Make a locked workload available when no job of it is running any more."""
    with session_scope() as s:
        wl = _find_live(s, Workload, workload_id, project_id)
        if _running_jobs(s, workload_id):
            raise errors.Conflict(
                f"Workload {workload_id} has a running job; cancel it or reset the workload."
            )
        s.execute(
            update(Workload)
            .where(Workload.id == workload_id, Workload.status.in_([states.LOCKED, states.ERROR]))
            .values(status=states.AVAILABLE, error_msg=None, updated_at=utcnow())
        )
        s.flush()
        s.refresh(wl)
        return wl


def workload_reset(workload_id: str, project_id: str | None, reason: str) -> tuple[Workload, int]:
    """Mark every unfinished job of the workload as error and make it available. Returns (workload, jobs)."""
    now = utcnow()
    with session_scope() as s:
        wl = _find_live(s, Workload, workload_id, project_id)
        count = 0
        for model in (Snapshot, Restore):
            res = s.execute(
                update(model)
                .where(model.workload_id == workload_id, model.status.in_(states.JOB_RUNNING))
                .values(status=states.ERROR, error_msg=reason, finished_at=now, updated_at=now)
            )
            count += rows_matched(res)
        s.execute(
            update(Workload)
            .where(Workload.id == workload_id)
            .values(status=states.AVAILABLE, error_msg=None, updated_at=now)
        )
        s.flush()
        s.refresh(wl)
        return wl, count


def rows_matched(res: Result[Any]) -> int:
    """Rows an UPDATE or DELETE matched (Session.execute gives a CursorResult for them, typed as Result)."""
    assert isinstance(res, CursorResult)
    return res.rowcount


def _running_jobs(s: Session, workload_id: str) -> int:
    total = 0
    for model in (Snapshot, Restore):
        total += s.execute(
            select(func.count()).where(model.workload_id == workload_id, model.status.in_(states.JOB_RUNNING))
        ).scalar_one()
    return total


def storage_usage(workload_ids: Sequence[str]) -> dict[str, dict[str, dict[str, int]]]:
    """workload_id -> {full|incremental: {snap_count, usage}} over the available snapshots."""
    out: dict[str, dict[str, dict[str, int]]] = {
        wid: {"full": {"snap_count": 0, "usage": 0}, "incremental": {"snap_count": 0, "usage": 0}}
        for wid in workload_ids
    }
    if not workload_ids:
        return out
    with session_scope() as s:
        rows = s.execute(
            select(
                Snapshot.workload_id,
                Snapshot.snapshot_type,
                func.count(),
                func.coalesce(func.sum(Snapshot.size), 0),
            )
            .where(
                Snapshot.workload_id.in_(list(workload_ids)),
                Snapshot.deleted.is_(False),
                Snapshot.status == states.AVAILABLE,
            )
            .group_by(Snapshot.workload_id, Snapshot.snapshot_type)
        )
        for wid, kind, count, usage in rows:
            key = "full" if kind == "full" else "incremental"
            out[wid][key] = {"snap_count": int(count), "usage": int(usage)}
    return out


# ---------------------------------------------------------------- snapshots
def snapshot_create(
    workload_id: str, project_id: str | None, values: dict[str, Any], quota_guard: QuotaGuard | None = None
) -> Snapshot:
    """Lock the workload (available -> locked) and queue a snapshot of it, atomically; 409 if it is busy."""
    with session_scope() as s:
        if quota_guard is not None:
            quota_guard(s)
        locked = _lock_workload(s, workload_id, project_id)
        wl = _find_live(s, Workload, workload_id, project_id)
        if not locked:
            raise errors.Conflict(
                f"Workload {workload_id} is {wl.status}: a job of it runs, or it needs a reset."
            )
        return _queued(s, Snapshot(workload_id=workload_id, project_id=wl.project_id, **values))


def _lock_workload(s: Session, workload_id: str, project_id: str | None) -> bool:
    """available -> locked for a new job; False when the workload is busy, deleted or not in the project."""
    res = s.execute(
        _update_live(Workload, workload_id, project_id, [states.AVAILABLE]).values(
            status=states.LOCKED, updated_at=utcnow()
        )
    )
    return bool(rows_matched(res) == 1)


def _queued(s: Session, job: Any) -> Any:
    """Insert a new snapshot or restore as queued (its workload locked by the caller), as stored."""
    job.status = states.QUEUED
    s.add(job)
    s.flush()
    s.refresh(job)
    return job


def snapshot_get(snapshot_id: str, project_id: str | None) -> Snapshot:
    with session_scope() as s:
        return _find_live(s, Snapshot, snapshot_id, project_id)


def snapshot_list(
    project_id: str | None,
    workload_id: str | None = None,
    status: str | None = None,
    date_from: dt.datetime | None = None,
    date_to: dt.datetime | None = None,
    page: Page | None = None,
) -> list[Snapshot]:
    q = _live(Snapshot, project_id)
    if workload_id:
        q = q.where(Snapshot.workload_id == workload_id)
    if status:
        q = q.where(Snapshot.status == status)
    if date_from:
        q = q.where(Snapshot.created_at >= date_from)
    if date_to:
        q = q.where(Snapshot.created_at <= date_to)
    return _paged_objects(Snapshot, q, page)


def _paged_objects(model: Any, q: Any, page: Page | None, tie: str = "id") -> list[Any]:
    """ORM objects of one keyset page of ``q`` (whose filters also bound the marker's lookup)."""
    page = page or Page()
    with session_scope() as s:
        where = [q.whereclause] if q.whereclause is not None else []
        cond, order = _keyset(model.__table__, where, page, s, tie)
        q = select(model).where(*cond).order_by(*order)
        if page.limit is not None:
            q = q.limit(page.limit)
        return list(s.scalars(q))


def snapshot_delete(snapshot_id: str, project_id: str | None) -> Snapshot:
    """Soft-delete a finished snapshot, or one whose data was just removed from the backup target."""
    return _job_delete("snapshot", snapshot_id, project_id)


def snapshot_mark_deleting(snapshot_id: str, project_id: str | None) -> tuple[Snapshot, str]:
    """A finished snapshot -> deleting; returns the row and its former status. 409 while it runs, and while
    a job holds its workload (a restore may be reading it, a snapshot may be building on it)."""
    with session_scope() as s:
        snap = _find_live(s, Snapshot, snapshot_id, project_id)
        workload = s.get(Workload, snap.workload_id)
        if workload is not None and workload.status == states.LOCKED:
            raise errors.Conflict(
                f"A job of workload {snap.workload_id} runs; delete snapshot {snapshot_id} when it ends."
            )
    row, before = _mark_deleting(Snapshot, snapshot_id, project_id, states.JOB_FINISHED)
    # Marked first, then checked for a mount: a mount inserts its row first, then checks the snapshot
    # is still available, so of a racing delete and mount one always sees the other.
    with session_scope() as s:
        mount = s.scalars(
            select(SnapshotMount).where(SnapshotMount.active_snapshot_id == snapshot_id)
        ).first()
        if mount is not None:
            s.execute(
                update(Snapshot)
                .where(Snapshot.id == snapshot_id, Snapshot.status == states.DELETING)
                .values(status=before, updated_at=utcnow())
            )
    if mount is not None:
        raise errors.Conflict(
            f"Snapshot {snapshot_id} cannot be deleted: it is mounted on VM {mount.mount_vm_id} "
            f"(mount {mount.id}). Dismount it first."
        )
    return row, before


def snapshot_delete_failed(snapshot_id: str, status: str, error_msg: str) -> None:
    """deleting -> ``status`` again, with why the delete from the backup target failed."""
    _unmark_deleting(Snapshot, snapshot_id, status, error_msg)


def snapshot_record_vm(snapshot_id: str, vm: dict[str, Any]) -> None:
    with session_scope() as s:
        s.add(SnapshotVM(snapshot_id=snapshot_id, **vm))
        volumes = (vm.get("definition") or {}).get("volumes")
        if isinstance(volumes, list):
            # The captured definition is the freshest view of the VM's volumes (Volumes quota usage).
            s.execute(
                update(WorkloadVM).where(WorkloadVM.vm_id == vm["vm_id"]).values(volume_count=len(volumes))
            )


# ---------------------------------------------------------------- restores
def restore_create(snapshot_id: str, project_id: str | None, values: dict[str, Any]) -> Restore:
    """Lock the snapshot's workload and queue a restore, atomically; 409 if a job of the workload runs."""
    with session_scope() as s:
        snap = _find_live(s, Snapshot, snapshot_id, project_id)
        if snap.status != states.AVAILABLE:
            raise errors.Conflict(
                f"Snapshot {snapshot_id} is {snap.status}; only available snapshots restore."
            )
        if not _lock_workload(s, snap.workload_id, None):
            raise errors.Conflict(
                f"Workload {snap.workload_id} of the snapshot is busy (a job of it runs) or deleted."
            )
        return _queued(
            s,
            Restore(
                snapshot_id=snapshot_id, workload_id=snap.workload_id, project_id=snap.project_id, **values
            ),
        )


def restore_get(restore_id: str, project_id: str | None) -> Restore:
    with session_scope() as s:
        return _find_live(s, Restore, restore_id, project_id)


def restore_list(
    project_id: str | None, snapshot_id: str | None = None, page: Page | None = None
) -> list[Restore]:
    q = _live(Restore, project_id)
    if snapshot_id:
        q = q.where(Restore.snapshot_id == snapshot_id)
    return _paged_objects(Restore, q, page)


def restore_delete(restore_id: str, project_id: str | None) -> Restore:
    return _job_delete("restore", restore_id, project_id)


def _job_delete(kind: str, job_id: str, project_id: str | None) -> Any:
    """Soft-delete a finished snapshot or restore of the project; 409 while it is unfinished."""
    model = JOB_MODELS[kind]
    now = utcnow()
    with session_scope() as s:
        res = s.execute(
            _update_live(model, job_id, project_id, (*states.JOB_FINISHED, states.DELETING)).values(
                deleted=True, deleted_at=now, updated_at=now
            )
        )
        job = s.get(model, job_id)
        if (
            job is None
            or (job.deleted and rows_matched(res) != 1)
            or (project_id is not None and job.project_id != project_id)
        ):
            raise errors.NotFound(f"{model.__name__} {job_id} not found.")
        if rows_matched(res) != 1:
            raise errors.Conflict(f"{model.__name__} {job_id} is {job.status}; cancel it first.")
        return job


# ---------------------------------------------------------------- job life cycle (snapshots and restores)
def job_get(kind: str, job_id: str) -> Any:
    with session_scope() as s:
        return s.get(JOB_MODELS[kind], job_id)


@retry_on_deadlock
def job_set_host(kind: str, job_id: str, host: str) -> bool:
    """The scheduler's placement: record the worker a queued job goes to (``updated_at`` is when)."""
    model = JOB_MODELS[kind]
    with session_scope() as s:
        res = s.execute(
            update(model)
            .where(model.id == job_id, model.status == states.QUEUED)
            .values(host=host, updated_at=utcnow())
        )
        return rows_matched(res) == 1


@retry_on_deadlock
def job_waiting(kind: str, job_id: str, host: str, message: str) -> bool:
    """A worker holding a queued job until one of its slots frees says so (``updated_at`` refreshed);
    False when the job is no longer queued for ``host`` (cancelled, failed as stranded)."""
    model = JOB_MODELS[kind]
    with session_scope() as s:
        res = s.execute(
            update(model)
            .where(model.id == job_id, model.status == states.QUEUED, model.host == host)
            .values(progress_msg=message, updated_at=utcnow())
        )
        return rows_matched(res) == 1


def jobs_queued_before(cutoff: dt.datetime) -> list[tuple[str, str, str | None]]:
    """(kind, id, host) of the jobs still queued and untouched since ``cutoff``: neither placed, taken
    nor waited for by a worker since then, so their RPC message was lost with a stopped service."""
    with session_scope() as s:
        return [
            (kind, job_id, host)
            for kind, model in JOB_MODELS.items()
            for job_id, host in s.execute(
                select(model.id, model.host).where(model.status == states.QUEUED, model.updated_at < cutoff)
            ).all()
        ]


@retry_on_deadlock
def job_fail_queued(kind: str, job_id: str, cutoff: dt.datetime, reason: str) -> bool:
    """queued (untouched since ``cutoff``) -> error, then unlock the workload; False if it moved on."""
    model = JOB_MODELS[kind]
    now = utcnow()
    with session_scope() as s:
        job = s.get(model, job_id)
        if job is None:
            return False
        res = s.execute(
            update(model)
            .where(model.id == job_id, model.status == states.QUEUED, model.updated_at < cutoff)
            .values(status=states.ERROR, error_msg=reason, finished_at=now, updated_at=now)
        )
        if rows_matched(res) != 1:
            return False
        _unlock_if_idle(s, job.workload_id)
        return True


@retry_on_deadlock
def job_claim(kind: str, job_id: str, host: str) -> bool:
    """queued -> executing on ``host``; False when the job was cancelled or reset meanwhile."""
    model = JOB_MODELS[kind]
    now = utcnow()
    with session_scope() as s:
        res = s.execute(
            update(model)
            .where(model.id == job_id, model.status == states.QUEUED)
            .values(
                status=states.EXECUTING, host=host, started_at=now, updated_at=now, progress_msg="Started"
            )
        )
        return rows_matched(res) == 1


@retry_on_deadlock
def job_progress(kind: str, job_id: str, percent: int, message: str) -> str | None:
    """Record progress of a running job; returns its status (so a worker notices a cancel or reset)."""
    model = JOB_MODELS[kind]
    with session_scope() as s:
        s.execute(
            update(model)
            .where(model.id == job_id, model.status == states.EXECUTING)
            .values(progress_percent=max(0, min(100, percent)), progress_msg=message, updated_at=utcnow())
        )
        return s.scalar(select(model.status).where(model.id == job_id))


@retry_on_deadlock
def job_finish(kind: str, job_id: str, status: str, error_msg: str | None = None, **values: Any) -> bool:
    """executing|cancelling -> status, then unlock the workload; False if the job was already resolved."""
    model = JOB_MODELS[kind]
    now = utcnow()
    with session_scope() as s:
        job = s.get(model, job_id)
        if job is None:
            return False
        time_taken = (now - job.started_at).total_seconds() if job.started_at else 0.0
        extra: dict[str, Any] = {"progress_percent": 100} if status == states.AVAILABLE else {}
        res = s.execute(
            update(model)
            .where(model.id == job_id, model.status.in_(states.JOB_RUNNING))
            .values(
                status=status,
                error_msg=error_msg,
                finished_at=now,
                updated_at=now,
                time_taken=time_taken,
                **extra,
                **values,
            )
        )
        if rows_matched(res) != 1:
            return False
        _unlock_if_idle(s, job.workload_id)
        return True


def _unlock_if_idle(s: Session, workload_id: str) -> None:
    s.flush()
    if not _running_jobs(s, workload_id):
        s.execute(
            update(Workload)
            .where(Workload.id == workload_id, Workload.status == states.LOCKED)
            .values(status=states.AVAILABLE, updated_at=utcnow())
        )


def job_cancel(kind: str, job_id: str, project_id: str | None) -> Any:
    """queued -> cancelled at once; executing -> cancelling (the worker stops at its next progress point)."""
    model = JOB_MODELS[kind]
    now = utcnow()
    with session_scope() as s:
        job = s.get(model, job_id)
        if job is None or job.deleted or (project_id is not None and job.project_id != project_id):
            raise errors.NotFound(f"{kind.capitalize()} {job_id} not found.")
        res = s.execute(
            update(model)
            .where(model.id == job_id, model.status == states.QUEUED)
            .values(status=states.CANCELLED, finished_at=now, updated_at=now, progress_msg="Cancelled")
        )
        if rows_matched(res) == 1:
            _unlock_if_idle(s, job.workload_id)
        else:
            res = s.execute(
                update(model)
                .where(model.id == job_id, model.status == states.EXECUTING)
                .values(status=states.CANCELLING, updated_at=now, progress_msg="Cancelling")
            )
            if rows_matched(res) != 1 and job.status != states.CANCELLING:
                s.refresh(job)
                raise errors.Conflict(f"{kind.capitalize()} {job_id} is {job.status}; nothing to cancel.")
        s.flush()
        s.refresh(job)
        return job


@retry_on_deadlock
def jobs_fail_on_hosts(hosts: Sequence[str], reason: str) -> int:
    """Resolve the unfinished jobs placed on the given (dead or restarted) workers as error."""
    if not hosts:
        return 0
    now = utcnow()
    count = 0
    with session_scope() as s:
        for model in (Snapshot, Restore):
            rows = s.execute(
                select(model.id, model.workload_id).where(
                    model.host.in_(list(hosts)), model.status.in_([states.EXECUTING, states.CANCELLING])
                )
            ).all()
            for job_id, workload_id in rows:
                res = s.execute(
                    update(model)
                    .where(model.id == job_id, model.status.in_([states.EXECUTING, states.CANCELLING]))
                    .values(status=states.ERROR, error_msg=reason, finished_at=now, updated_at=now)
                )
                count += rows_matched(res)
                _unlock_if_idle(s, workload_id)
    return count


# ---------------------------------------------------------------- settings
SETTING_FIELDS = ("value", "category", "type", "description", "is_public", "is_hidden", "metadata")


SETTING_SORT_KEYS = ("name", "category", "created_at", "updated_at")


def setting_list(project_id: str, page: Page | None = None) -> list[Setting]:
    """One keyset page of the project's settings (by name unless the page says otherwise); a setting's
    name is its marker."""
    q = select(Setting).where(Setting.project_id == project_id)
    return _paged_objects(Setting, q, page or Page(sort_key="name", sort_dir="asc"), tie="name")


def setting_get(project_id: str, name: str) -> Setting:
    with session_scope() as s:
        st = s.scalars(select(Setting).where(Setting.project_id == project_id, Setting.name == name)).first()
        if st is None:
            raise errors.NotFound(f"Setting {name} not found.")
        return st


def setting_upsert(
    project_id: str, user_id: str, items: Sequence[dict[str, Any]], create_only: bool
) -> list[Setting]:
    out = []
    try:
        with session_scope() as s:
            for item in items:
                st = s.scalars(
                    select(Setting).where(Setting.project_id == project_id, Setting.name == item["name"])
                ).first()
                if st is None:
                    st = Setting(project_id=project_id, user_id=user_id, name=item["name"])
                    s.add(st)
                elif create_only:
                    raise errors.Conflict(f"Setting {item['name']} exists; use PUT to change it.")
                for key in SETTING_FIELDS:
                    if key in item:
                        setattr(st, "metadata_" if key == "metadata" else key, item[key])
                out.append(st)
            s.flush()
            return out
    except IntegrityError as exc:
        raise errors.Conflict("A setting of that name was created at the same time.") from exc


def setting_delete(project_id: str, name: str) -> None:
    with session_scope() as s:
        st = s.scalars(select(Setting).where(Setting.project_id == project_id, Setting.name == name)).first()
        if st is None:
            raise errors.NotFound(f"Setting {name} not found.")
        s.delete(st)


# ---------------------------------------------------------------- global flags
def flag_get(name: str, default: str) -> str:
    with session_scope() as s:
        flag = s.get(GlobalFlag, name)
        return flag.value if flag else default


def flag_set(name: str, value: str) -> None:
    with session_scope() as s:
        flag = s.get(GlobalFlag, name)
        if flag is None:
            s.add(GlobalFlag(name=name, value=value))
        else:
            flag.value = value
    # A concurrent first insert of the same flag fails on the primary key: the caller retries once.


# ---------------------------------------------------------------- services
@retry_on_deadlock
def service_heartbeat(host: str, binary: str, topic: str) -> None:
    now = utcnow()
    with session_scope() as s:
        res = s.execute(
            update(Service)
            .where(Service.host == host, Service.binary == binary)
            .values(updated_at=now, topic=topic)
        )
        if rows_matched(res) == 0:
            s.add(Service(host=host, binary=binary, topic=topic, created_at=now, updated_at=now))


def service_list(topic: str | None = None) -> list[Service]:
    q = select(Service).order_by(Service.host)
    if topic:
        q = q.where(Service.topic == topic)
    with session_scope() as s:
        return list(s.scalars(q))


def services_alive(topic: str, down_after: float) -> tuple[list[Service], list[Service]]:
    """(live, dead) services of a topic by heartbeat age."""
    cutoff = utcnow() - dt.timedelta(seconds=down_after)
    live: list[Service] = []
    dead: list[Service] = []
    for svc in service_list(topic):
        (live if svc.updated_at >= cutoff and not svc.disabled else dead).append(svc)
    return live, dead


def running_jobs_per_host(hosts: Sequence[str]) -> dict[str, int]:
    out = dict.fromkeys(hosts, 0)
    if not hosts:
        return out
    with session_scope() as s:
        for model in (Snapshot, Restore):
            rows = s.execute(
                select(model.host, func.count())
                .where(model.host.in_(list(hosts)), model.status.in_(states.JOB_RUNNING))
                .group_by(model.host)
            )
            for host, count in rows:
                out[host] += int(count)
    return out


# ---------------------------------------------------------------- import from the backup target, reassign
def workloads_in_database(workload_ids: Sequence[str]) -> dict[str, bool]:
    """Each of these workloads that has a row -> whether that row is deleted."""
    if not workload_ids:
        return {}
    with session_scope() as s:
        rows = s.execute(select(Workload.id, Workload.deleted).where(Workload.id.in_(list(workload_ids))))
        return {wid: bool(deleted) for wid, deleted in rows}


def workload_import(
    values: dict[str, Any],
    vms: Sequence[dict[str, Any]],
    snapshots: Sequence[tuple[dict[str, Any], Sequence[dict[str, Any]]]],
) -> tuple[bool, list[str]]:
    """Insert a workload read from the backup target (unless it has a live row) and those of its snapshots
    that have none, in one transaction. A workload deleted from the database only (its backups kept) comes
    back with the snapshots the target still holds. Returns whether the workload was (re)created and the
    snapshots inserted or brought back."""
    try:
        with session_scope() as s:
            row = s.get(Workload, values["id"])
            revived = row is not None and row.deleted
            created = row is None or revived
            if row is None:
                row = Workload(**values)
                row.vms = [_workload_vm(v) for v in vms]
                s.add(row)
            elif revived:
                for key, value in values.items():
                    setattr(row, key, value)
                row.deleted, row.deleted_at, row.updated_at = False, None, utcnow()
                row.vms = [_workload_vm(v) for v in vms]
            s.flush()
            ids = [v["id"] for v, _ in snapshots]
            rows = {r.id: r for r in s.scalars(select(Snapshot).where(Snapshot.id.in_(ids)))} if ids else {}
            added = []
            for snap_values, snap_vms in snapshots:
                old = rows.get(snap_values["id"])
                if old is None:
                    snap = Snapshot(**snap_values)
                    snap.vms = [SnapshotVM(**vm) for vm in snap_vms]
                    s.add(snap)
                elif revived and old.deleted:
                    old.deleted, old.deleted_at, old.updated_at = False, None, utcnow()
                else:
                    continue
                added.append(snap_values["id"])
            return created, added
    except IntegrityError as exc:
        raise _vm_conflict(exc) from exc


ImportRows = tuple[
    dict[str, Any], Sequence[dict[str, Any]], Sequence[tuple[dict[str, Any], Sequence[dict[str, Any]]]]
]
_IN_CHUNK = 500  # ids per IN (...): well under every database's limit on bound parameters


def _existing(s: Session, query: Any, column: Any, ids: Sequence[str]) -> list[Any]:
    rows: list[Any] = []
    for i in range(0, len(ids), _IN_CHUNK):
        rows.extend(s.execute(query.where(column.in_(list(ids[i : i + _IN_CHUNK])))))
    return rows


def workloads_import(items: Sequence[ImportRows]) -> list[tuple[bool, list[str]] | errors.T4OError]:
    """``workload_import`` of many workloads (the same rows, the same result for each), with one query
    for the rows that exist and bulk inserts in one transaction: an import of thousands of workloads
    costs a few statements per batch, not a few per workload and snapshot. A workload deleted from the
    database only, and every workload of a batch whose inserts conflict (an instance that belongs to
    another workload), go through ``workload_import`` one by one; a workload that fails there is given
    as its error."""
    if not items:
        return []
    with session_scope() as s:
        state = {
            wid: bool(deleted)
            for wid, deleted in _existing(
                s, select(Workload.id, Workload.deleted), Workload.id, [v["id"] for v, _, _ in items]
            )
        }
        known = {
            sid
            for (sid,) in _existing(
                s, select(Snapshot.id), Snapshot.id, [v["id"] for _, _, snaps in items for v, _ in snaps]
            )
        }
    results: list[tuple[bool, list[str]] | errors.T4OError | None] = [None] * len(items)
    one_by_one = [i for i, (values, _, _) in enumerate(items) if state.get(values["id"])]
    bulk = [i for i, (values, _, _) in enumerate(items) if not state.get(values["id"])]
    workloads: list[dict[str, Any]] = []
    workload_vms: list[dict[str, Any]] = []
    snapshots: list[dict[str, Any]] = []
    snapshot_vms: list[dict[str, Any]] = []
    for i in bulk:
        values, vms, snaps = items[i]
        created = values["id"] not in state
        if created:
            workloads.append(values)
            workload_vms.extend(
                {
                    "workload_id": values["id"],
                    "vm_id": vm["vm_id"],
                    "vm_name": vm.get("vm_name", ""),
                    "volume_count": vm.get("volume_count", 0),
                }
                for vm in vms
            )
        added = []
        for snap_values, snap_vms in snaps:
            if snap_values["id"] in known:
                continue
            known.add(snap_values["id"])
            snapshots.append(snap_values)
            snapshot_vms.extend({**vm, "snapshot_id": snap_values["id"]} for vm in snap_vms)
            added.append(snap_values["id"])
        results[i] = (created, added)
    try:
        with session_scope() as s:
            for model, rows in (
                (Workload, workloads),
                (WorkloadVM, workload_vms),
                (Snapshot, snapshots),
                (SnapshotVM, snapshot_vms),
            ):
                if rows:
                    s.execute(insert(model), rows)
    except IntegrityError:
        one_by_one.extend(bulk)
    for i in sorted(one_by_one):
        try:
            results[i] = workload_import(*items[i])
        except errors.T4OError as exc:
            results[i] = exc
    return [r for r in results if r is not None]


def workload_reassign(workload_id: str, project_id: str, user_id: str) -> Workload:
    """Move a workload with its snapshots and restores to another project (and owner)."""
    with session_scope() as s:
        wl = _find_live(s, Workload, workload_id, None)
        wl.project_id, wl.user_id, wl.updated_at = project_id, user_id, utcnow()
        for model in (Snapshot, Restore):
            s.execute(update(model).where(model.workload_id == workload_id).values(project_id=project_id))
        s.flush()
        s.refresh(wl)
        return wl
