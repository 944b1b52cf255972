"""snapshot_mounts and file_searches: snapshot disks attached to recovery VMs, and file searches

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "snapshot_mounts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("snapshot_id", sa.String(length=36), nullable=False),
        sa.Column("active_snapshot_id", sa.String(length=36), nullable=True),
        sa.Column("workload_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("mount_vm_id", sa.String(length=255), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("error_msg", sa.Text(), nullable=True),
        sa.Column("disks", sa.JSON(), nullable=False),
        sa.Column("mounted_at", sa.DateTime(), nullable=True),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("dismounted_at", sa.DateTime(), nullable=True),
        sa.Column("dismount_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["snapshot_id"], ["snapshots.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("active_snapshot_id"),
    )
    op.create_index("ix_snapshot_mounts_project", "snapshot_mounts", ["project_id", "status"])
    op.create_index("ix_snapshot_mounts_snapshot", "snapshot_mounts", ["snapshot_id"])
    op.create_table(
        "file_searches",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("vm_id", sa.String(length=255), nullable=False),
        sa.Column("filepath", sa.Text(), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("error_msg", sa.Text(), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("progress_percent", sa.Integer(), nullable=False),
        sa.Column("json_resp", sa.JSON(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_file_searches_project", "file_searches", ["project_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_file_searches_project", table_name="file_searches")
    op.drop_table("file_searches")
    op.drop_index("ix_snapshot_mounts_snapshot", table_name="snapshot_mounts")
    op.drop_index("ix_snapshot_mounts_project", table_name="snapshot_mounts")
    op.drop_table("snapshot_mounts")
