"""scheduled runs: the cron service's claims, one row per (workload, scheduled time)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scheduled_runs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("workload_id", sa.String(length=36), nullable=False),
        sa.Column("scheduled_time", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("snapshot_id", sa.String(length=36), nullable=True),
        sa.Column("snapshot_type", sa.String(length=32), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["workload_id"], ["workloads.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workload_id", "scheduled_time", name="uq_scheduled_runs_workload_time"),
    )
    op.create_index(
        "ix_scheduled_runs_workload_time", "scheduled_runs", ["workload_id", "scheduled_time"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_scheduled_runs_workload_time", table_name="scheduled_runs")
    op.drop_table("scheduled_runs")
