"""Tables of schedules and policies: scheduled runs, workload policies, project quotas.

Scheduled runs: one row per run a cron process claimed.

The unique (workload_id, scheduled_time) row is the claim: of several cron processes, the one whose insert
succeeds fires the run; the others see the conflict and skip it. The rows also say, after a restart, which
run was the last one, so no run is missed (within the grace time) or fired twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from t4o.db.models import Base, new_id, utcnow

# ScheduledRun.status
RUN_FIRED = "fired"  # a snapshot was queued for it
RUN_MISSED = "missed"  # found later than the misfire grace time
RUN_SKIPPED = "skipped"  # the workload was busy, paused, or the global scheduler was off
RUN_FAILED = "failed"  # the snapshot could not be queued (e.g. the trust is gone)
RUN_COMPLETED = "completed"  # its snapshot ended available (after fired)
RUN_ERROR = "error"  # its snapshot ended in error or was cancelled (after fired)
RUN_WAITING = "waiting"  # in its backup window, the workload busy: tried again until the window closes
RUN_RETRYING = "retrying"  # an attempt failed for a transient reason: the next one is due at next_attempt_at


class ScheduledRun(Base):
    __tablename__ = "scheduled_runs"
    __table_args__ = (
        UniqueConstraint("workload_id", "scheduled_time", name="uq_scheduled_runs_workload_time"),
        Index("ix_scheduled_runs_workload_time", "workload_id", "scheduled_time"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workload_id: Mapped[str] = mapped_column(ForeignKey("workloads.id", ondelete="CASCADE"), nullable=False)
    scheduled_time: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)  # naive UTC
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    snapshot_id: Mapped[str | None] = mapped_column(String(36))
    snapshot_type: Mapped[str | None] = mapped_column(String(32))
    host: Mapped[str] = mapped_column(String(255), default="", nullable=False)
    message: Mapped[str] = mapped_column(Text, default="", nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    # Snapshots started for the run (retries included), and when a waiting or retrying run is next tried
    # (naive UTC): typed columns, as the cron service selects and compares them.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0", nullable=False)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # What the API shows of the run beyond its status: {"attempts": [one entry per attempt: started_at,
    # ended_at, result, snapshot_id, error, will_retry, next_attempt_at, retry_reason], "missed": {reason,
    # ...}}, written with the status change it explains (t4o.cron.manager). NULL for runs from before.
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class WorkloadPolicy(Base):
    """An admin-defined schedule and retention template (Trilio's workload policy)."""

    __tablename__ = "workload_policies"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str] = mapped_column(Text, default="", nullable=False)
    field_values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow, nullable=False)


class WorkloadPolicyAssignment(Base):
    __tablename__ = "workload_policy_assignments"
    __table_args__ = (
        UniqueConstraint("policy_id", "project_id", name="uq_policy_assignments_policy_project"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    policy_id: Mapped[str] = mapped_column(
        ForeignKey("workload_policies.id", ondelete="CASCADE"), nullable=False
    )
    project_id: Mapped[str] = mapped_column(String(255), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)


class ProjectQuota(Base):
    """An allowed quota of a project (Trilio's project_allowed_quotas)."""

    __tablename__ = "project_quotas"
    __table_args__ = (UniqueConstraint("project_id", "quota_type_id", name="uq_project_quotas_project_type"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(String(255), nullable=False)
    quota_type_id: Mapped[str] = mapped_column(String(36), nullable=False)
    allowed_value: Mapped[int] = mapped_column(BigInteger, nullable=False)
    high_watermark: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow, nullable=False)
