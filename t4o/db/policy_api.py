"""Queries of schedules and policies: scheduled workloads, run claims, snapshots for retention, workload
policies and their assignments, project quotas and usage."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from t4o.common import errors
from t4o.db.api import Page, rows_matched
from t4o.db.models import Restore, Service, Snapshot, Workload, WorkloadVM
from t4o.db.policy_models import ProjectQuota, ScheduledRun, WorkloadPolicy, WorkloadPolicyAssignment
from t4o.db.session import session_scope

T = TypeVar("T")

# The columns each paged list sorts by (besides its id, the tie-breaker).
POLICY_SORT_KEYS = ("created_at", "updated_at", "name")
QUOTA_SORT_KEYS = ("created_at", "updated_at")
NODE_SORT_KEYS = ("created_at", "updated_at", "host", "binary")
RUN_SORT_KEYS = ("scheduled_time", "created_at")


def _paged(s: Session, model: Any, cond: list[Any], page: Page | None) -> list[Any]:
    """Rows of ``model`` matching ``cond``, one keyset page: after the marker's row in (sort_key, id)."""
    page = page or Page(sort_dir="asc")
    key, col_id = getattr(model, page.sort_key), model.id
    desc = page.sort_dir == "desc"
    order = [key.desc(), col_id.desc()] if desc else [key.asc(), col_id.asc()]
    if page.marker is not None:
        marker: Any = page.marker
        if col_id.type.python_type is int:  # services are numbered
            if not str(marker).isdigit():
                raise errors.BadRequest(f"Marker {page.marker} not found.")
            marker = int(marker)
        found = s.execute(select(key).where(*cond, col_id == marker)).first()
        if found is None:
            raise errors.BadRequest(f"Marker {page.marker} not found.")
        after = (key > found[0], and_(key == found[0], col_id > marker))
        if desc:
            after = (key < found[0], and_(key == found[0], col_id < marker))
        cond = [*cond, or_(*after)]
    q = select(model).where(*cond).order_by(*order)
    if page.limit is not None:
        q = q.limit(page.limit)
    return list(s.scalars(q))


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
    workload_id: str,
    scheduled_time: dt.datetime,
    host: str,
    status: str,
    message: str = "",
    missed: dict[str, Any] | None = None,
) -> str | None:
    """Insert the run's row (with ``missed``: why it is missed); its id, or None when another cron process
    claimed this run first."""
    try:
        with session_scope() as s:
            run = ScheduledRun(
                workload_id=workload_id,
                scheduled_time=naive_utc(scheduled_time),
                status=status,
                host=host,
                message=message,
                details={"missed": missed} if missed is not None else None,
            )
            s.add(run)
            s.flush()
            return run.id
    except IntegrityError:
        return None


def merged_details(
    current: dict[str, Any] | None,
    attempt: dict[str, Any] | None = None,
    missed: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A run's ``details`` with ``attempt`` merged into the entry of its number (appended when new) and
    ``missed`` set."""
    details = dict(current or {})
    if attempt is not None:
        entries = [dict(e) for e in details.get("attempts") or []]
        for entry in entries:
            if entry.get("attempt") == attempt["attempt"]:
                entry.update(attempt)
                break
        else:
            entries.append(dict(attempt))
        details["attempts"] = entries
    if missed is not None:
        details["missed"] = missed
    return details


def _update_run(
    cond: list[Any],
    values: dict[str, Any],
    attempt: dict[str, Any] | None = None,
    missed: dict[str, Any] | None = None,
) -> bool:
    """Update the run matching ``cond``; ``attempt`` and ``missed`` are merged into its details in the same
    transaction (the row locked meanwhile on MariaDB and PostgreSQL). False when no run matched."""
    with session_scope() as s:
        if attempt is not None or missed is not None:
            found = s.execute(select(ScheduledRun.details).where(*cond).with_for_update()).first()
            if found is None:
                return False
            values = {**values, "details": merged_details(found[0], attempt, missed)}
        res = s.execute(update(ScheduledRun).where(*cond).values(**values))
        return rows_matched(res) == 1


def finish_run(
    run_id: str,
    status: str,
    message: str = "",
    attempt: dict[str, Any] | None = None,
    missed: dict[str, Any] | None = None,
    **values: Any,
) -> None:
    """Set the status of a run this process holds (with ``attempt`` and ``missed``: see _update_run)."""
    _update_run(
        [ScheduledRun.id == run_id], {"status": status, "message": message, **values}, attempt, missed
    )


def runs_ended() -> list[dict[str, Any]]:
    """Fired runs whose snapshot has ended (available, error, cancelled), with the snapshot's outcome."""
    with session_scope() as s:
        rows = s.execute(
            select(
                ScheduledRun.id,
                ScheduledRun.workload_id,
                ScheduledRun.scheduled_time,
                ScheduledRun.snapshot_type,
                ScheduledRun.attempts,
                ScheduledRun.message,
                Snapshot.id.label("snapshot_id"),
                Snapshot.project_id,
                Snapshot.user_id,
                Snapshot.status,
                Snapshot.error_msg,
                Snapshot.time_taken,
                Snapshot.size,
                Snapshot.finished_at,
            )
            .join(Snapshot, Snapshot.id == ScheduledRun.snapshot_id)
            .where(ScheduledRun.status == "fired", Snapshot.status.in_(("available", "error", "cancelled")))
        ).all()
    return [r._asdict() for r in rows]


def run_settle(run_id: str, status: str, message: str = "", attempt: dict[str, Any] | None = None) -> bool:
    """fired -> status; False when another cron process settled the run first (it reports it)."""
    return run_transition(run_id, "fired", status, message=message, attempt=attempt)


def run_transition(
    run_id: str,
    from_status: str,
    to_status: str,
    now: dt.datetime | None = None,
    attempt: dict[str, Any] | None = None,
    missed: dict[str, Any] | None = None,
    **values: Any,
) -> bool:
    """from_status -> to_status (with ``values``; ``attempt`` and ``missed`` merged into its details), when
    the run is still in from_status (and, with ``now``, its next attempt is due); False when another cron
    process moved it first."""
    cond = [ScheduledRun.id == run_id, ScheduledRun.status == from_status]
    if now is not None:
        cond.append(ScheduledRun.next_attempt_at <= naive_utc(now))
    return _update_run(cond, {"status": to_status, **values}, attempt, missed)


def runs_pending(statuses: tuple[str, ...]) -> list[dict[str, Any]]:
    """Runs waiting for their window or for a retry (``statuses``), oldest first."""
    with session_scope() as s:
        rows = s.execute(
            select(
                ScheduledRun.id,
                ScheduledRun.workload_id,
                ScheduledRun.scheduled_time,
                ScheduledRun.status,
                ScheduledRun.snapshot_id,
                ScheduledRun.attempts,
                ScheduledRun.next_attempt_at,
                ScheduledRun.message,
            )
            .where(ScheduledRun.status.in_(statuses))
            .order_by(ScheduledRun.scheduled_time)
        ).all()
    return [r._asdict() for r in rows]


def run_list(workload_id: str, page: Page | None = None) -> list[ScheduledRun]:
    """The workload's scheduled runs (all, oldest first, or one page)."""
    with session_scope() as s:
        return _paged(
            s,
            ScheduledRun,
            [ScheduledRun.workload_id == workload_id],
            page or Page(sort_key="scheduled_time", sort_dir="asc"),
        )


def run_get(workload_id: str, run_id: str) -> ScheduledRun:
    """One scheduled run of the workload; NotFound when the workload has no such run."""
    with session_scope() as s:
        run = s.get(ScheduledRun, run_id)
        if run is None or run.workload_id != workload_id:
            raise errors.NotFound(f"Scheduled run {run_id} of workload {workload_id} not found.")
        return run


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


def _row_or_404(s: Session, model: type[T], row_id: str, what: str) -> T:
    """The row of ``model`` with this id, else NotFound naming it as ``what``."""
    row = s.get(model, row_id)
    if row is None:
        raise errors.NotFound(f"{what} {row_id} not found.")
    return row


# ---------------------------------------------------------------- workload policies
def policy_create(values: dict[str, Any]) -> WorkloadPolicy:
    with session_scope() as s:
        pol = WorkloadPolicy(**values)
        s.add(pol)
        s.flush()
        s.refresh(pol)
        return pol


def policy_get(policy_id: str) -> WorkloadPolicy:
    with session_scope() as s:
        return _row_or_404(s, WorkloadPolicy, policy_id, "Workload policy")


def policy_list(project_id: str | None = None, page: Page | None = None) -> list[WorkloadPolicy]:
    """Every policy, or those assigned to ``project_id`` (all, oldest first, or one page)."""
    cond = []
    if project_id is not None:
        cond.append(
            WorkloadPolicy.id.in_(
                select(WorkloadPolicyAssignment.policy_id).where(
                    WorkloadPolicyAssignment.project_id == project_id
                )
            )
        )
    with session_scope() as s:
        return _paged(s, WorkloadPolicy, cond, page)


def policy_update(policy_id: str, values: dict[str, Any]) -> WorkloadPolicy:
    with session_scope() as s:
        pol = _row_or_404(s, WorkloadPolicy, policy_id, "Workload policy")
        for key, value in values.items():
            setattr(pol, key, value)
        s.flush()
        s.refresh(pol)
        return pol


def policy_workloads_follow(
    policy_id: str, policy_fields: tuple[str, ...], field_values: dict[str, Any]
) -> int:
    """Give every live workload created with the policy its new ``field_values`` (the ``policy_fields``
    it had are replaced); the number of workloads changed."""
    with session_scope() as s:
        workloads = s.scalars(
            select(Workload).where(
                Workload.deleted.is_(False), Workload.metadata_["policy_id"].as_string() == policy_id
            )
        ).all()
        for wl in workloads:
            own = {k: v for k, v in (wl.jobschedule or {}).items() if k not in policy_fields}
            wl.jobschedule = {**own, **field_values}
        return len(workloads)


def policy_delete(policy_id: str) -> None:
    with session_scope() as s:
        pol = _row_or_404(s, WorkloadPolicy, policy_id, "Workload policy")
        users = s.scalar(
            select(func.count())
            .select_from(Workload)
            .where(Workload.deleted.is_(False), Workload.metadata_["policy_id"].as_string() == policy_id)
        )
        if users:
            raise errors.Conflict(f"Workload policy {policy_id} is used by {users} workload(s).")
        s.delete(pol)


def policy_projects(policy_id: str) -> list[str]:
    with session_scope() as s:
        return list(
            s.scalars(
                select(WorkloadPolicyAssignment.project_id)
                .where(WorkloadPolicyAssignment.policy_id == policy_id)
                .order_by(WorkloadPolicyAssignment.project_id)
            )
        )


def policy_assign(policy_id: str, add: list[str], remove: list[str]) -> list[str]:
    policy_get(policy_id)
    with session_scope() as s:
        if remove:
            s.execute(
                delete(WorkloadPolicyAssignment).where(
                    WorkloadPolicyAssignment.policy_id == policy_id,
                    WorkloadPolicyAssignment.project_id.in_(remove),
                )
            )
        have = set(
            s.scalars(
                select(WorkloadPolicyAssignment.project_id).where(
                    WorkloadPolicyAssignment.policy_id == policy_id
                )
            )
        )
        for project in dict.fromkeys(add):
            if project not in have:
                s.add(WorkloadPolicyAssignment(policy_id=policy_id, project_id=project))
    return policy_projects(policy_id)


# ---------------------------------------------------------------- quotas
def quota_list(project_id: str, page: Page | None = None) -> list[ProjectQuota]:
    """The project's allowed quotas (all, oldest first, or one page)."""
    with session_scope() as s:
        return _paged(s, ProjectQuota, [ProjectQuota.project_id == project_id], page)


def quota_get(quota_id: str) -> ProjectQuota:
    with session_scope() as s:
        return _row_or_404(s, ProjectQuota, quota_id, "Allowed quota")


def quota_upsert(project_id: str, quota_type_id: str, allowed: int, high_watermark: int) -> ProjectQuota:
    try:
        with session_scope() as s:
            q = s.scalars(
                select(ProjectQuota).where(
                    ProjectQuota.project_id == project_id, ProjectQuota.quota_type_id == quota_type_id
                )
            ).first()
            if q is None:
                q = ProjectQuota(project_id=project_id, quota_type_id=quota_type_id)
                s.add(q)
            q.allowed_value, q.high_watermark = allowed, high_watermark
            s.flush()
            s.refresh(q)
            return q
    except IntegrityError as exc:
        raise errors.Conflict("That quota was set at the same time; try again.") from exc


def quota_update(quota_id: str, allowed: int, high_watermark: int) -> ProjectQuota:
    with session_scope() as s:
        q = _row_or_404(s, ProjectQuota, quota_id, "Allowed quota")
        q.allowed_value, q.high_watermark = allowed, high_watermark
        s.flush()
        s.refresh(q)
        return q


def quota_delete(quota_id: str) -> None:
    with session_scope() as s:
        q = _row_or_404(s, ProjectQuota, quota_id, "Allowed quota")
        s.delete(q)


def quotas_locked(s: Session, project_id: str) -> list[ProjectQuota]:
    """The project's allowed quotas, locked until ``s`` ends: the quota checks of one project and the
    inserts they allow then run one transaction at a time, so two requests cannot both take the last slot.

    Call it first in the transaction: MariaDB's repeatable read then takes its snapshot after the lock, so
    the usage counted next includes what the previous holder committed. SQLite has no row locks: a write
    as the first statement takes its database-wide write lock (what ``BEGIN IMMEDIATE`` does)."""
    if s.get_bind().dialect.name == "sqlite":
        s.execute(
            update(ProjectQuota)
            .where(ProjectQuota.project_id == project_id)
            .values(project_id=ProjectQuota.project_id)
            .execution_options(synchronize_session=False)
        )
    return list(
        s.scalars(
            select(ProjectQuota)
            .where(ProjectQuota.project_id == project_id)
            .order_by(ProjectQuota.id)
            .with_for_update()
        )
    )


def project_usage(project_id: str, s: Session | None = None) -> dict[str, int]:
    """What a project uses now (live rows): workloads, snapshots, protected VMs and their Cinder volumes,
    and the bytes its snapshots stored in the vault (each snapshot's ``uploaded_size``). Counted in ``s``
    when given (inside the transaction that holds the quota lock)."""
    if s is None:
        with session_scope() as own:
            return project_usage(project_id, own)
    workloads = s.scalar(
        select(func.count())
        .select_from(Workload)
        .where(Workload.project_id == project_id, Workload.deleted.is_(False))
    )
    vms, volumes = s.execute(
        select(func.count(WorkloadVM.id), func.coalesce(func.sum(WorkloadVM.volume_count), 0))
        .join(Workload)
        .where(Workload.project_id == project_id, Workload.deleted.is_(False))
    ).one()
    snaps, stored = s.execute(
        select(func.count(), func.coalesce(func.sum(Snapshot.uploaded_size), 0)).where(
            Snapshot.project_id == project_id, Snapshot.deleted.is_(False)
        )
    ).one()
    return {
        "workloads": int(workloads or 0),
        "vms": int(vms or 0),
        "volumes": int(volumes or 0),
        "snapshots": int(snaps),
        "storage": int(stored),
    }


def workload_usage(workload_id: str, s: Session | None = None) -> tuple[int, int]:
    """(VMs, volumes) a workload protects now (counted in ``s`` when given)."""
    if s is None:
        with session_scope() as own:
            return workload_usage(workload_id, own)
    vms, volumes = s.execute(
        select(func.count(WorkloadVM.id), func.coalesce(func.sum(WorkloadVM.volume_count), 0)).where(
            WorkloadVM.workload_id == workload_id
        )
    ).one()
    return int(vms), int(volumes)


# ---------------------------------------------------------------- admin metrics
def storage_per_project() -> list[dict[str, Any]]:
    """Per project: live snapshots, the bytes of the disks they captured (``bytes``) and the bytes they
    stored in the vault (``stored_bytes``, the Storage quota's usage; split into ``full_stored_bytes``
    and ``incremental_stored_bytes`` by snapshot type), largest first."""
    full = case((Snapshot.snapshot_type == "full", Snapshot.uploaded_size), else_=0)
    with session_scope() as s:
        rows = s.execute(
            select(
                Snapshot.project_id,
                func.count(),
                func.coalesce(func.sum(Snapshot.size), 0),
                func.coalesce(func.sum(Snapshot.uploaded_size), 0),
                func.coalesce(func.sum(full), 0),
            )
            .where(Snapshot.deleted.is_(False))
            .group_by(Snapshot.project_id)
        ).all()
    out = [
        {
            "project_id": p,
            "snapshots": int(n),
            "bytes": int(b),
            "stored_bytes": int(u),
            "full_stored_bytes": int(f),
            "incremental_stored_bytes": int(u) - int(f),
        }
        for p, n, b, u, f in rows
    ]
    return sorted(out, key=lambda r: (-r["bytes"], r["project_id"]))


def stored_per_target() -> dict[str | None, tuple[int, int]]:
    """Per backup target id of the snapshots' workloads (None: the configured target): live snapshots
    and the bytes they stored, summed as the Storage quota sums them, so the targets add up to the
    projects' ``stored_bytes``. Targets without snapshots are absent."""
    with session_scope() as s:
        rows = s.execute(
            select(
                Workload.backup_target_id,
                func.count(),
                func.coalesce(func.sum(Snapshot.uploaded_size), 0),
            )
            .select_from(Snapshot)
            .join(Workload, Workload.id == Snapshot.workload_id)
            .where(Snapshot.deleted.is_(False))
            .group_by(Workload.backup_target_id)
        ).all()
    return {tid: (int(n), int(b)) for tid, n, b in rows}


def protected_vms() -> int:
    with session_scope() as s:
        return int(
            s.scalar(
                select(func.count()).select_from(WorkloadVM).join(Workload).where(Workload.deleted.is_(False))
            )
            or 0
        )


def protected_volumes() -> int:
    """Cinder volumes of the VMs that live workloads protect."""
    with session_scope() as s:
        return int(
            s.scalar(
                select(func.coalesce(func.sum(WorkloadVM.volume_count), 0))
                .join(Workload)
                .where(Workload.deleted.is_(False))
            )
            or 0
        )


def recent_jobs(limit: int) -> list[dict[str, Any]]:
    """The newest snapshots and restores of every project, newest first."""
    with session_scope() as s:
        snaps = s.execute(
            select(
                Snapshot.id, Snapshot.project_id, Snapshot.workload_id, Snapshot.status, Snapshot.created_at
            )
            .order_by(Snapshot.created_at.desc())
            .limit(limit)
        ).all()
        restores = s.execute(
            select(Restore.id, Restore.project_id, Restore.workload_id, Restore.status, Restore.created_at)
            .order_by(Restore.created_at.desc())
            .limit(limit)
        ).all()
    jobs = [{"type": "snapshot", **r._asdict()} for r in snaps] + [
        {"type": "restore", **r._asdict()} for r in restores
    ]
    jobs.sort(key=lambda j: j["created_at"], reverse=True)
    return [{**j, "created_at": j["created_at"].isoformat()} for j in jobs[:limit]]


def node_list(page: Page | None = None) -> list[Service]:
    """The services that reported (one row per host and binary), all or one page."""
    with session_scope() as s:
        return _paged(s, Service, [], page)


def service_set_disabled(host: str, topic: str, disabled: bool) -> Service:
    """Disable or enable the service of ``topic`` on ``host`` (a node); 404 when it never reported."""
    with session_scope() as s:
        svc = s.scalars(select(Service).where(Service.host == host, Service.topic == topic)).first()
        if svc is None:
            raise errors.NotFound(f"No {topic} service has reported from host {host}.")
        svc.disabled = disabled
        s.flush()
        s.refresh(svc)
        return svc
