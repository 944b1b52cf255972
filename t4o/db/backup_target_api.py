"""Queries of backup targets: the rows, the one default, and the workloads and policies that use a target."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from t4o.common import errors
from t4o.db.models import BackupTarget, Workload
from t4o.db.policy_models import WorkloadPolicy
from t4o.db.session import session_scope


def _name_taken(name: str) -> errors.Conflict:
    return errors.Conflict(f"A backup target named {name!r} exists already; choose another name.")


def _get(s: Session, target_id: str) -> BackupTarget:
    row = s.get(BackupTarget, target_id)
    if row is None:
        raise errors.NotFound(f"Backup target {target_id} not found.")
    return row


def _only_default(s: Session, target_id: str) -> None:
    """A target made the default takes the mark from any other, in the same transaction."""
    s.execute(update(BackupTarget).where(BackupTarget.id != target_id).values(is_default=False))


def target_list() -> list[BackupTarget]:
    with session_scope() as s:
        return list(s.scalars(select(BackupTarget).order_by(BackupTarget.name, BackupTarget.id)))


def target_count() -> int:
    with session_scope() as s:
        return int(s.scalar(select(func.count()).select_from(BackupTarget)) or 0)


def target_get(target_id: str) -> BackupTarget:
    with session_scope() as s:
        return _get(s, target_id)


def target_default() -> BackupTarget | None:
    with session_scope() as s:
        return s.scalars(select(BackupTarget).where(BackupTarget.is_default.is_(True))).first()


def target_create(values: dict[str, Any]) -> BackupTarget:
    try:
        with session_scope() as s:
            row = BackupTarget(**values)
            s.add(row)
            s.flush()
            if row.is_default:
                _only_default(s, row.id)
            return row
    except IntegrityError:
        raise _name_taken(str(values.get("name"))) from None


def target_update(target_id: str, values: dict[str, Any]) -> BackupTarget:
    try:
        with session_scope() as s:
            row = _get(s, target_id)
            for key, value in values.items():
                setattr(row, key, value)
            s.flush()
            if row.is_default:
                _only_default(s, row.id)
            return row
    except IntegrityError:
        raise _name_taken(str(values.get("name"))) from None


def workloads_using(target_ids: list[str]) -> dict[str, int]:
    """Live workloads per target id (ids no workload uses are absent)."""
    with session_scope() as s:
        rows = s.execute(
            select(Workload.backup_target_id, func.count())
            .where(Workload.deleted.is_(False), Workload.backup_target_id.in_(target_ids))
            .group_by(Workload.backup_target_id)
        ).all()
    return {str(tid): int(n) for tid, n in rows}


def workloads_on_configured() -> int:
    """Live workloads that name no target: they use the [backup_target] of the configuration."""
    with session_scope() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(Workload)
                .where(Workload.deleted.is_(False), Workload.backup_target_id.is_(None))
            )
            or 0
        )


def policy_workloads_elsewhere(policy_id: str, target_id: str | None) -> int:
    """Live workloads that follow the policy and are not on ``target_id`` (None: the configured)."""
    column = Workload.backup_target_id
    # NULL (the configured target) is elsewhere than any row, and compares to nothing in SQL.
    elsewhere = column.is_not(None) if target_id is None else or_(column.is_(None), column != target_id)
    with session_scope() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(Workload)
                .where(
                    Workload.deleted.is_(False),
                    Workload.metadata_["policy_id"].as_string() == policy_id,
                    elsewhere,
                )
            )
            or 0
        )


def _policies_naming(s: Session, target_id: str) -> list[str]:
    """Names of the workload policies whose ``field_values.backup_target_id`` is ``target_id``."""
    return list(
        s.scalars(
            select(WorkloadPolicy.name)
            .where(WorkloadPolicy.field_values["backup_target_id"].as_string() == target_id)
            .order_by(WorkloadPolicy.name)
        )
    )


def target_delete(target_id: str) -> None:
    """Delete a target no live workload uses and no workload policy names (409 otherwise: their
    snapshots live there, or the policy's new workloads would land there)."""
    with session_scope() as s:
        row = _get(s, target_id)
        used = s.scalar(
            select(func.count())
            .select_from(Workload)
            .where(Workload.deleted.is_(False), Workload.backup_target_id == target_id)
        )
        if used:
            raise errors.Conflict(
                f"Backup target {row.name} holds the snapshots of {used} workload(s); delete or move them "
                "first."
            )
        named = _policies_naming(s, target_id)
        if named:
            raise errors.Conflict(
                f"Backup target {row.name} is named by workload policy(ies) {', '.join(named)}; change "
                "their backup_target_id or delete them first."
            )
        s.delete(row)
