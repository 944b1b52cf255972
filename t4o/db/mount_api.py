"""Queries and state changes of snapshot mounts (a snapshot's disks attached to a recovery VM).

A mount is live while ``mounting``, ``mounted`` or ``dismounting``: then ``active_snapshot_id`` holds its
snapshot's id, and that column's unique index makes a second live mount of the same snapshot fail on
insert, whichever process tries. Every status change is a conditional UPDATE whose row count says who
won, so two API processes, or an API call and workloadmgr-cron, never both act on one mount.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from t4o.common import errors
from t4o.db import states
from t4o.db.api import rows_matched
from t4o.db.models import Snapshot, SnapshotMount, utcnow
from t4o.db.session import session_scope

MOUNTING = "mounting"
MOUNTED = "mounted"
DISMOUNTING = "dismounting"
DISMOUNTED = "dismounted"
ERROR = "error"

LIVE = (MOUNTING, MOUNTED, DISMOUNTING)


def _describe(mount: SnapshotMount) -> str:
    return f"mount {mount.id} on VM {mount.mount_vm_id} ({mount.status})"


def create(snapshot_id: str, project_id: str | None, values: dict[str, Any]) -> SnapshotMount:
    """A new ``mounting`` row of an available snapshot of the project (NotFound otherwise, Conflict unless
    available). Conflict when the snapshot already has a live mount, naming it."""
    try:
        with session_scope() as s:
            query = select(Snapshot).where(Snapshot.id == snapshot_id, Snapshot.deleted.is_(False))
            if project_id is not None:
                query = query.where(Snapshot.project_id == project_id)
            snap = s.scalars(query).first()
            if snap is None:
                raise errors.NotFound(f"Snapshot {snapshot_id} not found.")
            if snap.status != states.AVAILABLE:
                raise errors.Conflict(
                    f"Snapshot {snapshot_id} is {snap.status}: only an available snapshot can be mounted."
                )
            mount = SnapshotMount(
                snapshot_id=snap.id,
                active_snapshot_id=snap.id,
                workload_id=snap.workload_id,
                project_id=snap.project_id,
                status=MOUNTING,
                **{"disks": [], **values},
            )
            s.add(mount)
            s.flush()
            s.refresh(mount)
            return mount
    except IntegrityError as exc:
        live = live_for_snapshot(snapshot_id)
        what = _describe(live) if live is not None else "another mount"
        raise errors.Conflict(
            f"Snapshot {snapshot_id} is already mounted ({what}): dismount it first."
        ) from exc


def get(mount_id: str) -> SnapshotMount:
    with session_scope() as s:
        mount = s.get(SnapshotMount, mount_id)
        if mount is None:
            raise errors.NotFound(f"Mount {mount_id} not found.")
        return mount


def live_for_snapshot(snapshot_id: str) -> SnapshotMount | None:
    with session_scope() as s:
        return s.scalars(select(SnapshotMount).where(SnapshotMount.active_snapshot_id == snapshot_id)).first()


def list_live(project_id: str | None) -> list[tuple[SnapshotMount, str]]:
    """The live mounts of a project (every project for None), newest first, each with its snapshot's name."""
    query = (
        select(SnapshotMount, Snapshot.name)
        .join(Snapshot, Snapshot.id == SnapshotMount.snapshot_id)
        .where(SnapshotMount.status.in_(LIVE))
        .order_by(SnapshotMount.created_at.desc(), SnapshotMount.id)
    )
    if project_id is not None:
        query = query.where(SnapshotMount.project_id == project_id)
    with session_scope() as s:
        return [(mount, name) for mount, name in s.execute(query).all()]


def live_mounts(
    snapshot_ids: Iterable[str] = (), workload_id: str | None = None, project_id: str | None = None
) -> list[SnapshotMount]:
    """The live mounts of these snapshots, or of the workload's snapshots, in the project (None: any)."""
    ids = list(snapshot_ids)
    if not ids and workload_id is None:
        return []
    query = select(SnapshotMount).where(SnapshotMount.status.in_(LIVE))
    if ids:
        query = query.where(SnapshotMount.active_snapshot_id.in_(ids))
    if workload_id is not None:
        query = query.where(SnapshotMount.workload_id == workload_id)
    if project_id is not None:
        query = query.where(SnapshotMount.project_id == project_id)
    with session_scope() as s:
        return list(s.scalars(query.order_by(SnapshotMount.created_at)))


def mounted_snapshot_ids(snapshot_ids: Iterable[str]) -> set[str]:
    """Which of these snapshots have a live mount (a delete or retention must leave them)."""
    return {m.snapshot_id for m in live_mounts(snapshot_ids)}


def transition(mount_id: str, from_statuses: Sequence[str], status: str, **values: Any) -> bool:
    """``from_statuses`` -> ``status`` with ``values``; False when the mount was in none of them."""
    with session_scope() as s:
        res = s.execute(
            update(SnapshotMount)
            .where(SnapshotMount.id == mount_id, SnapshotMount.status.in_(from_statuses))
            .values(status=status, updated_at=utcnow(), **values)
        )
        return rows_matched(res) == 1


def set_mounted(
    mount_id: str, host: str, disks: list[dict[str, Any]], mounted_at: dt.datetime | None = None
) -> bool:
    """mounting -> mounted, with the agent's host and each disk's device in the recovery VM."""
    now = mounted_at or utcnow()
    return transition(mount_id, [MOUNTING], MOUNTED, host=host, disks=disks, mounted_at=now, error_msg=None)


def touch(mount_id: str, used_at: dt.datetime) -> bool:
    """Record a disk read at ``used_at``; last_used_at never moves back."""
    with session_scope() as s:
        res = s.execute(
            update(SnapshotMount)
            .where(
                SnapshotMount.id == mount_id,
                SnapshotMount.status.in_(LIVE),
                or_(SnapshotMount.last_used_at.is_(None), SnapshotMount.last_used_at < used_at),
            )
            .values(last_used_at=used_at)
        )
        return rows_matched(res) == 1


def finish(
    mount_id: str,
    status: str,
    reason: str,
    from_statuses: Sequence[str] = LIVE,
    error_msg: str | None = None,
) -> bool:
    """A live mount ends: ``dismounted`` (or ``error``), its snapshot free again, with why it ended."""
    assert status in (DISMOUNTED, ERROR), status
    now = utcnow()
    return transition(
        mount_id,
        from_statuses,
        status,
        active_snapshot_id=None,
        dismounted_at=now,
        dismount_reason=reason,
        **({"error_msg": error_msg} if error_msg is not None else {}),
    )


def stuck(older_than: float, now: dt.datetime | None = None) -> list[SnapshotMount]:
    """Mounts left ``mounting`` or ``dismounting`` for more than ``older_than`` seconds (their process
    stopped half-way)."""
    limit = (now or utcnow()) - dt.timedelta(seconds=older_than)
    with session_scope() as s:
        return list(
            s.scalars(
                select(SnapshotMount)
                .where(SnapshotMount.status.in_([MOUNTING, DISMOUNTING]), SnapshotMount.updated_at < limit)
                .order_by(SnapshotMount.updated_at)
            )
        )
