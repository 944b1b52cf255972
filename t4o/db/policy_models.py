"""Tables of schedules: one row per scheduled run a cron process claimed.

The unique (workload_id, scheduled_time) row is the claim: of several cron processes, the one whose insert
succeeds fires the run; the others see the conflict and skip it. The rows also say, after a restart, which
run was the last one, so no run is missed (within the grace time) or fired twice.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from t4o.db.models import Base, new_id, utcnow

# ScheduledRun.status
RUN_FIRED = "fired"  # a snapshot was queued for it
RUN_MISSED = "missed"  # found later than the misfire grace time
RUN_SKIPPED = "skipped"  # the workload was busy, paused, or the global scheduler was off
RUN_FAILED = "failed"  # the snapshot could not be queued (e.g. the trust is gone)


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
