"""Deployment-wide transfer slots: how many disk transfers run at once per compute host, per backup
target and in total, whichever workloads worker runs them.

A transfer asks with ``request`` (a ``waiting`` row) and polls its own row with ``state`` until it is
``running``; it gives the slot back with ``release``. Grants are made by ``grant_pass``, which any worker
may run (at a request, at a release, and now and then while it waits): under the one-row lock of
``transfer_slot_lock`` it drops expired rows, then hands free slots to waiting rows, fairly:

- among the waiting rows that fit every limit, the one whose project has the fewest running transfers
  goes first; among projects with as many, the one granted a slot longest ago (``transfer_slot_turns``);
  then the oldest request. So a project with ten queued VMs and one with one VM take turns (the one with
  one is served at the next free slot), and a full host does not hold back requests for other hosts.

Every row is a lease (``expires_at``) its worker renews while it waits or transfers: the row of a worker
killed with -9 expires and its slot is granted again at the next pass; a restarted worker also releases
its own rows at once (``release_worker``).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from t4o.db.api import rows_matched
from t4o.db.models import TransferSlot, TransferSlotLock, TransferSlotTurn
from t4o.db.retry import retry_on_deadlock
from t4o.db.session import session_scope

WAITING, RUNNING = "waiting", "running"
FORGET_TURNS_AFTER = dt.timedelta(days=1)  # a project's last grant older than this counts as never
NEVER = dt.datetime.min


@dataclass(frozen=True)
class Limits:
    """Most transfers at once per compute host, per backup target and in total; 0 is no limit."""

    per_host: int = 0
    per_target: int = 0
    total: int = 0

    @property
    def unlimited(self) -> bool:
        return not (self.per_host or self.per_target or self.total)


@dataclass(frozen=True)
class Request:
    """What the grant decision reads of a row."""

    id: str
    project_id: str
    host: str
    target: str
    requested_at: dt.datetime


@dataclass(frozen=True)
class Busy:
    """Running transfers now, by what a waiting one is limited by (for its progress message)."""

    host: int
    target: int
    total: int
    ahead: int  # waiting requests that fit the limits and would be served first

    def describe(self, host: str, limits: Limits) -> str:
        full = [
            f"{what}: {used} of {limit} busy"
            for what, used, limit in (
                (f"host {host}", self.host, limits.per_host),
                ("backup target", self.target, limits.per_target),
                ("all hosts", self.total, limits.total),
            )
            if limit and used >= limit
        ]
        if full:
            return "; ".join(full)
        return f"{self.ahead} request(s) of other projects served first"


def plan(
    running: Sequence[Request],
    waiting: Sequence[Request],
    limits: Limits,
    last_granted: Mapping[str, dt.datetime] | None = None,
    now: dt.datetime = NEVER,
) -> list[str]:
    """The ids of the waiting requests to grant now, in grant order (the fairness rule, pure);
    ``last_granted``: project -> when it was last granted a slot."""
    turns = dict(last_granted or {})
    hosts = Counter(r.host for r in running)
    targets = Counter(r.target for r in running)
    projects = Counter(r.project_id for r in running)
    total = len(running)
    pending = sorted(waiting, key=lambda w: (w.requested_at, w.id))
    granted: list[str] = []
    while pending:
        fits = [
            w
            for w in pending
            if (not limits.per_host or hosts[w.host] < limits.per_host)
            and (not limits.per_target or targets[w.target] < limits.per_target)
            and (not limits.total or total < limits.total)
        ]
        if not fits:
            break
        best = min(
            fits, key=lambda w: (projects[w.project_id], turns.get(w.project_id, NEVER), w.requested_at, w.id)
        )
        granted.append(best.id)
        turns[best.project_id] = now
        pending.remove(best)
        hosts[best.host] += 1
        targets[best.target] += 1
        projects[best.project_id] += 1
        total += 1
    return granted


#: what keeps a waiting transfer from its slot: the first full limit of host, target, total; ``none``: no
#: limit is full for it, the next grant pass hands it a slot
LIMITED_BY = ("host", "target", "total", "none")


def limited_by(
    running: Sequence[Request],
    waiting: Sequence[Request],
    limits: Limits,
    last_granted: Mapping[str, dt.datetime] | None = None,
) -> dict[str, str]:
    """Waiting request id -> what it waits for (one of ``LIMITED_BY``), as the next grant pass would
    leave it: the requests that pass grants are ``none``, the others are named by a limit that the pass
    filled or found full."""
    granted = plan(running, waiting, limits, last_granted)
    after = [*running, *(w for w in waiting if w.id in granted)]
    hosts = Counter(r.host for r in after)
    targets = Counter(r.target for r in after)
    out: dict[str, str] = {}
    for w in waiting:
        if w.id in granted:
            out[w.id] = "none"
        elif limits.per_host and hosts[w.host] >= limits.per_host:
            out[w.id] = "host"
        elif limits.per_target and targets[w.target] >= limits.per_target:
            out[w.id] = "target"
        elif limits.total and len(after) >= limits.total:
            out[w.id] = "total"
        else:  # not reached: plan grants whatever fits
            out[w.id] = "none"
    return out


@dataclass(frozen=True)
class QueueRow:
    """A live row as the metrics see it."""

    job_kind: str
    state: str
    requested_at: dt.datetime
    #: for a waiting row: one of ``LIMITED_BY``
    limited_by: str = ""


def queue(limits: Limits, now: dt.datetime) -> list[QueueRow]:
    """Every live row (an expired one is a dead worker's, dropped at the next pass) with what a waiting
    one waits for: one read of the two small tables, no lock (for metrics; the grant passes decide)."""
    with session_scope() as s:
        rows = list(s.scalars(select(TransferSlot).where(TransferSlot.expires_at >= now)))
        turns = {t.project_id: t.last_granted_at for t in s.scalars(select(TransferSlotTurn))}
    running = [_as_request(r) for r in rows if r.state == RUNNING]
    waiting = [_as_request(r) for r in rows if r.state == WAITING]
    why = limited_by(running, waiting, limits, turns) if waiting else {}
    return [QueueRow(r.job_kind, r.state, r.requested_at, why.get(r.id, "")) for r in rows]


def _as_request(row: TransferSlot) -> Request:
    return Request(row.id, row.project_id, row.host, row.target, row.requested_at)


def _lock(s: Session) -> None:
    """Serialise grant passes: the first statement of the transaction writes the lock row."""
    res = s.execute(
        update(TransferSlotLock).where(TransferSlotLock.id == 1).values(passes=TransferSlotLock.passes + 1)
    )
    if rows_matched(res) == 0:  # a database built without the migration's row (create_all)
        s.add(TransferSlotLock(id=1, passes=1))
        s.flush()


def _grant(s: Session, limits: Limits, now: dt.datetime) -> list[str]:
    s.execute(delete(TransferSlot).where(TransferSlot.expires_at < now))
    s.execute(delete(TransferSlotTurn).where(TransferSlotTurn.last_granted_at < now - FORGET_TURNS_AFTER))
    rows = list(s.scalars(select(TransferSlot)))
    running = [_as_request(r) for r in rows if r.state == RUNNING]
    waiting = [_as_request(r) for r in rows if r.state == WAITING]
    if not waiting:
        return []
    turns = {t.project_id: t.last_granted_at for t in s.scalars(select(TransferSlotTurn))}
    ids = plan(running, waiting, limits, turns, now)
    if ids:
        s.execute(
            update(TransferSlot)
            .where(TransferSlot.id.in_(ids), TransferSlot.state == WAITING)
            .values(state=RUNNING, granted_at=now)
        )
        projects = {r.project_id for r in waiting if r.id in ids}
        # Under the lock no other pass writes these rows: read, then update or insert, is safe.
        for project in projects:
            if project in turns:
                s.execute(
                    update(TransferSlotTurn)
                    .where(TransferSlotTurn.project_id == project)
                    .values(last_granted_at=now)
                )
            else:
                s.add(TransferSlotTurn(project_id=project, last_granted_at=now))
    return ids


@retry_on_deadlock
def request(
    slot_id: str,
    *,
    job_kind: str,
    job_id: str,
    project_id: str,
    host: str,
    target: str,
    worker: str,
    now: dt.datetime,
    lease: float,
) -> None:
    """A new waiting request (granted by the next pass)."""
    with session_scope() as s:
        s.add(
            TransferSlot(
                id=slot_id, job_kind=job_kind, job_id=job_id, project_id=project_id, host=host[:255],
                target=target[:255], worker=worker[:255], state=WAITING, requested_at=now,
                expires_at=now + dt.timedelta(seconds=lease),
            )
        )  # fmt: skip


@retry_on_deadlock
def grant_pass(limits: Limits, now: dt.datetime) -> list[str]:
    """Drop expired rows and grant what is free, fairly; the ids granted."""
    with session_scope() as s:
        _lock(s)
        return _grant(s, limits, now)


def state(slot_id: str) -> str | None:
    """``waiting`` or ``running``; None once the row is gone (released, or expired and dropped)."""
    with session_scope() as s:
        return s.scalar(select(TransferSlot.state).where(TransferSlot.id == slot_id))


@retry_on_deadlock
def renew(slot_id: str, now: dt.datetime, lease: float) -> bool:
    """Extend the lease; False when the row is gone (it expired and a pass dropped it)."""
    with session_scope() as s:
        res = s.execute(
            update(TransferSlot)
            .where(TransferSlot.id == slot_id)
            .values(expires_at=now + dt.timedelta(seconds=lease))
        )
        return rows_matched(res) > 0


@retry_on_deadlock
def release(slot_id: str, limits: Limits, now: dt.datetime) -> list[str]:
    """Give the slot back (or drop the request) and grant what that freed; the ids granted."""
    with session_scope() as s:
        _lock(s)
        s.execute(delete(TransferSlot).where(TransferSlot.id == slot_id))
        return _grant(s, limits, now)


@retry_on_deadlock
def release_worker(worker: str) -> int:
    """Drop every row of a workloads worker (it restarted: none of its transfers goes on); how many."""
    with session_scope() as s:
        _lock(s)
        return rows_matched(s.execute(delete(TransferSlot).where(TransferSlot.worker == worker)))


def busy(slot_id: str, host: str, target: str, limits: Limits) -> Busy:
    """What a waiting request waits for: running transfers on its host, its target and in total, and the
    waiting requests the grant rule would serve before it."""
    with session_scope() as s:
        rows = list(s.scalars(select(TransferSlot)))
    running = [r for r in rows if r.state == RUNNING]
    waiting = [_as_request(r) for r in rows if r.state == WAITING]
    order = plan([_as_request(r) for r in running], waiting, Limits())
    ahead = order.index(slot_id) if slot_id in order else 0
    return Busy(
        host=sum(1 for r in running if r.host == host),
        target=sum(1 for r in running if r.target == target),
        total=len(running),
        ahead=ahead,
    )


def listing() -> list[TransferSlot]:
    """Every row, oldest request first (benchmarks, operators' checks)."""
    with session_scope() as s:
        return list(s.scalars(select(TransferSlot).order_by(TransferSlot.requested_at, TransferSlot.id)))
