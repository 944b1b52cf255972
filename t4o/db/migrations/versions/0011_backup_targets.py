"""backup_targets, workloads.backup_target_id: several backup targets, one per workload

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backup_targets",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("immutable", sa.Boolean(), nullable=False),
        sa.Column("credentials", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("name", name="uq_backup_targets_name"),
    )
    # NULL: the [backup_target] of the configuration (every workload created before this revision).
    op.add_column("workloads", sa.Column("backup_target_id", sa.String(36), nullable=True))
    op.create_index("ix_workloads_backup_target_id", "workloads", ["backup_target_id"])


def downgrade() -> None:
    op.drop_index("ix_workloads_backup_target_id", table_name="workloads")
    with op.batch_alter_table("workloads") as batch:
        batch.drop_column("backup_target_id")
    op.drop_table("backup_targets")
