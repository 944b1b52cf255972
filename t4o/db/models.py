"""Database tables of the control plane (SQLAlchemy 2 declarative models).

Snapshots and restores are the job rows: their ``status``, ``progress_percent``, ``progress_msg``,
``error_msg`` and ``time_taken`` are what a caller polls after a 202.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    pass


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow, nullable=False)


class WorkloadType(TimestampMixin, Base):
    __tablename__ = "workload_types"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str] = mapped_column(Text, default="", nullable=False)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict, nullable=False)


class Workload(TimestampMixin, Base):
    __tablename__ = "workloads"
    # Listings page by (created_at, id) inside a project: keyset queries walk this index.
    __table_args__ = (Index("ix_workloads_project_deleted", "project_id", "deleted", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(String(255), nullable=False)
    user_id: Mapped[str] = mapped_column(String(255), default="", nullable=False)
    name: Mapped[str] = mapped_column(String(255), default="", nullable=False)
    description: Mapped[str] = mapped_column(Text, default="", nullable=False)
    workload_type_id: Mapped[str] = mapped_column(ForeignKey("workload_types.id"), nullable=False)
    source_platform: Mapped[str] = mapped_column(String(64), default="openstack", nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    error_msg: Mapped[str | None] = mapped_column(Text)
    jobschedule: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict, nullable=False)
    encryption: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    secret_uuid: Mapped[str | None] = mapped_column(String(255))
    # Its backup target (backup_targets.id); NULL: the [backup_target] of the configuration.
    backup_target_id: Mapped[str | None] = mapped_column(String(36), index=True)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    vms: Mapped[list[WorkloadVM]] = relationship(
        back_populates="workload",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="WorkloadVM.vm_name",
    )


class WorkloadVM(Base):
    """An instance protected by a workload. ``vm_id`` is unique: a VM belongs to one workload at most."""

    __tablename__ = "workload_vms"
    # Covers the workload listing's VM lookup: a page's VMs come from the index without row reads.
    __table_args__ = (Index("ix_workload_vms_listing", "workload_id", "vm_id", "vm_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workload_id: Mapped[str] = mapped_column(ForeignKey("workloads.id", ondelete="CASCADE"), nullable=False)
    vm_id: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    vm_name: Mapped[str] = mapped_column(String(255), default="", nullable=False)
    # Cinder volumes attached to the VM, as Nova reported when the VM was added to the workload and
    # as the latest snapshot captured: the project's Volumes quota usage is their sum.
    volume_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0", nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)

    workload: Mapped[Workload] = relationship(back_populates="vms")


class Snapshot(TimestampMixin, Base):
    __tablename__ = "snapshots"
    __table_args__ = (
        Index("ix_snapshots_workload", "workload_id"),
        Index("ix_snapshots_project_deleted", "project_id", "deleted", "created_at", "id"),
        # The newest available snapshot of each workload of a listing's page (its RPO fields), from the
        # index alone.
        Index("ix_snapshots_newest", "workload_id", "status", "deleted", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workload_id: Mapped[str] = mapped_column(ForeignKey("workloads.id"), nullable=False)
    project_id: Mapped[str] = mapped_column(String(255), nullable=False)
    user_id: Mapped[str] = mapped_column(String(255), default="", nullable=False)
    name: Mapped[str] = mapped_column(String(255), default="", nullable=False)
    description: Mapped[str] = mapped_column(Text, default="", nullable=False)
    snapshot_type: Mapped[str] = mapped_column(String(32), default="full", nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    progress_percent: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    progress_msg: Mapped[str] = mapped_column(Text, default="", nullable=False)
    warning_msg: Mapped[str | None] = mapped_column(Text)
    error_msg: Mapped[str | None] = mapped_column(Text)
    time_taken: Mapped[float] = mapped_column(Float, default=0.0, nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    uploaded_size: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    host: Mapped[str | None] = mapped_column(String(255))
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict, nullable=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    vms: Mapped[list[SnapshotVM]] = relationship(
        back_populates="snapshot",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="SnapshotVM.vm_name",
    )


class SnapshotVM(Base):
    """What a snapshot recorded of one VM: its definition (flavor, image, networks, ...) and disks."""

    __tablename__ = "snapshot_vms"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    snapshot_id: Mapped[str] = mapped_column(ForeignKey("snapshots.id", ondelete="CASCADE"), nullable=False)
    vm_id: Mapped[str] = mapped_column(String(255), nullable=False)
    vm_name: Mapped[str] = mapped_column(String(255), default="", nullable=False)
    status: Mapped[str] = mapped_column(String(32), default="available", nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    disks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, nullable=False)

    snapshot: Mapped[Snapshot] = relationship(back_populates="vms")


class Restore(TimestampMixin, Base):
    __tablename__ = "restores"
    __table_args__ = (
        Index("ix_restores_snapshot", "snapshot_id"),
        Index("ix_restores_project_deleted", "project_id", "deleted", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    snapshot_id: Mapped[str] = mapped_column(ForeignKey("snapshots.id"), nullable=False)
    workload_id: Mapped[str] = mapped_column(ForeignKey("workloads.id"), nullable=False)
    project_id: Mapped[str] = mapped_column(String(255), nullable=False)
    user_id: Mapped[str] = mapped_column(String(255), default="", nullable=False)
    name: Mapped[str] = mapped_column(String(255), default="", nullable=False)
    description: Mapped[str] = mapped_column(Text, default="", nullable=False)
    restore_type: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    progress_percent: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    progress_msg: Mapped[str] = mapped_column(Text, default="", nullable=False)
    warning_msg: Mapped[str | None] = mapped_column(Text)
    error_msg: Mapped[str | None] = mapped_column(Text)
    time_taken: Mapped[float] = mapped_column(Float, default=0.0, nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    uploaded_size: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    host: Mapped[str | None] = mapped_column(String(255))
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    restore_options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    instances: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, nullable=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Setting(TimestampMixin, Base):
    __tablename__ = "settings"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_settings_project_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(String(255), nullable=False)
    user_id: Mapped[str] = mapped_column(String(255), default="", nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    value: Mapped[str] = mapped_column(Text, default="", nullable=False)
    category: Mapped[str] = mapped_column(String(255), default="", nullable=False)
    type: Mapped[str] = mapped_column(String(255), default="", nullable=False)
    description: Mapped[str] = mapped_column(Text, default="", nullable=False)
    is_public: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    is_hidden: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict, nullable=False)


class GlobalFlag(Base):
    """Cloud-wide switches, e.g. whether the global job scheduler runs."""

    __tablename__ = "global_flags"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(String(255), nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow, nullable=False)


class Service(Base):
    """A running service process; ``updated_at`` is its heartbeat."""

    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("host", "binary", name="uq_services_host_binary"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    host: Mapped[str] = mapped_column(String(255), nullable=False)
    binary: Mapped[str] = mapped_column(String(255), nullable=False)
    topic: Mapped[str] = mapped_column(String(255), nullable=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)


class SnapshotMount(TimestampMixin, Base):
    """A snapshot's disks attached read-only to a recovery VM (Trilio's snapshot mount).

    ``active_snapshot_id`` holds the snapshot id while the mount lives (mounting, mounted, dismounting)
    and NULL once it is dismounted or failed: its unique index lets one live mount per snapshot exist on
    every database, since NULLs never collide.
    """

    __tablename__ = "snapshot_mounts"
    __table_args__ = (
        Index("ix_snapshot_mounts_project", "project_id", "status"),
        Index("ix_snapshot_mounts_snapshot", "snapshot_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    snapshot_id: Mapped[str] = mapped_column(ForeignKey("snapshots.id"), nullable=False)
    active_snapshot_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    workload_id: Mapped[str] = mapped_column(String(36), nullable=False)
    project_id: Mapped[str] = mapped_column(String(255), nullable=False)
    user_id: Mapped[str] = mapped_column(String(255), default="", nullable=False)
    mount_vm_id: Mapped[str] = mapped_column(String(255), nullable=False)
    host: Mapped[str | None] = mapped_column(String(255))  # the recovery VM's compute host
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    error_msg: Mapped[str | None] = mapped_column(Text)
    # One entry per attached disk: vm_id, disk (vda), ref (vault), device (in the recovery VM), serial.
    disks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, nullable=False)
    mounted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # the last read of a disk
    dismounted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    dismount_reason: Mapped[str | None] = mapped_column(Text)


class FileSearch(TimestampMixin, Base):
    """A file search over some snapshots of one VM (Trilio's ``POST /search``), run by a worker."""

    __tablename__ = "file_searches"
    __table_args__ = (Index("ix_file_searches_project", "project_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(String(255), nullable=False)
    user_id: Mapped[str] = mapped_column(String(255), default="", nullable=False)
    vm_id: Mapped[str] = mapped_column(String(255), nullable=False)
    filepath: Mapped[str] = mapped_column(Text, nullable=False)
    # What was asked, as given: snapshot_ids, start, end, date_from, date_to.
    criteria: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False)  # executing, completed, error
    error_msg: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(String(255))
    progress_percent: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    # Results, one entry per snapshot searched (Trilio's json_resp).
    json_resp: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, nullable=False)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class AuditLog(Base):
    """One audited event: a mutating API call, or the start or end of a snapshot or restore job.

    Rows are only inserted, never updated; workloadmgr-cron deletes those older than ``[audit] keep_days``.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_created", "created_at"),
        Index("ix_audit_log_project_created", "project_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # api or job
    action: Mapped[str] = mapped_column(String(255), nullable=False)  # "POST /workloads", "snapshot.start"
    method: Mapped[str | None] = mapped_column(String(16))
    path: Mapped[str | None] = mapped_column(Text)
    object_type: Mapped[str | None] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(255))
    status_code: Mapped[int | None] = mapped_column(Integer)
    result: Mapped[str] = mapped_column(String(32), nullable=False)  # success, failure, or a job's status
    message: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[str] = mapped_column(String(255), default="", nullable=False)
    project_id: Mapped[str] = mapped_column(String(255), default="", nullable=False)
    request_id: Mapped[str | None] = mapped_column(String(255))


# Times that order requests a few milliseconds apart: MySQL/MariaDB keep whole seconds unless told.
MICROSECONDS = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


class TransferSlot(Base):
    """A disk transfer (one VM's datamover transfer) waiting for, or holding, one of the deployment's
    transfer slots (``[workflows] max_transfers_*``; t4o.db.transfer_slots_api).

    ``expires_at`` is a lease its worker renews: a row whose worker died (kill -9) expires and frees its
    slot without anyone else knowing about the death.
    """

    __tablename__ = "transfer_slots"
    __table_args__ = (Index("ix_transfer_slots_state_requested", "state", "requested_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    job_kind: Mapped[str] = mapped_column(String(16), nullable=False)  # snapshot or restore
    job_id: Mapped[str] = mapped_column(String(36), nullable=False)
    project_id: Mapped[str] = mapped_column(String(255), nullable=False)
    host: Mapped[str] = mapped_column(String(255), nullable=False)  # the VM's compute host
    target: Mapped[str] = mapped_column(String(255), nullable=False)  # the backup target
    worker: Mapped[str] = mapped_column(String(255), nullable=False)  # the workloads worker's host
    state: Mapped[str] = mapped_column(String(16), nullable=False)  # waiting or running
    requested_at: Mapped[dt.datetime] = mapped_column(MICROSECONDS, nullable=False)
    granted_at: Mapped[dt.datetime | None] = mapped_column(MICROSECONDS)
    expires_at: Mapped[dt.datetime] = mapped_column(MICROSECONDS, nullable=False)


class TransferSlotTurn(Base):
    """When a project was last granted a transfer slot: among projects with as many running transfers,
    the one served longest ago goes first, so projects take turns (rows unused for a day are dropped)."""

    __tablename__ = "transfer_slot_turns"

    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    last_granted_at: Mapped[dt.datetime] = mapped_column(MICROSECONDS, nullable=False)


class TransferSlotLock(Base):
    """One row that every grant of transfer slots updates first: the row lock (MariaDB, PostgreSQL) or
    the write lock (SQLite) it takes makes the grants of all workers happen one at a time."""

    __tablename__ = "transfer_slot_lock"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    passes: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)


class BackupTarget(Base):
    """A backup target an administrator defined (Trilio 5.x/6.x: several NFS and S3 targets)."""

    __tablename__ = "backup_targets"
    __table_args__ = (UniqueConstraint("name", name="uq_backup_targets_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    type: Mapped[str] = mapped_column(String(16), nullable=False)  # nfs | posix | s3
    url: Mapped[str] = mapped_column(String(2048), nullable=False)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    immutable: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)  # S3 Object Lock
    # S3 keys as sealed JSON (fernet:..., t4o.policies.setting_secrets); "" when none.
    credentials: Mapped[str] = mapped_column(Text, default="", nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow, nullable=False)


class RestoreResource(Base):
    """A server, volume, port or other resource a running restore created (t4o.db.restore_resources_api).

    The restore's worker writes a row as it creates each one and drops the rows when the restore ends
    (removed on a failure, the user's on success). Rows of a restore that ended without its worker (killed,
    its job failed by the scheduler or at its restart) are what another worker removes; ``cleaner`` and
    ``claimed_until`` are its lease, so one worker does it and a killed cleaner's work is taken up again.
    """

    __tablename__ = "restore_resources"
    __table_args__ = (Index("ix_restore_resources_restore", "restore_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)  # creation order
    restore_id: Mapped[str] = mapped_column(String(36), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)  # server, volume, port, network, ...
    resource_id: Mapped[str] = mapped_column(String(255), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    cleaner: Mapped[str | None] = mapped_column(String(255))
    claimed_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
