"""scheduled_runs.details: each attempt of a scheduled run, and why a run was missed, for the API;
ix_snapshots_newest: the newest available snapshot of each workload of a listing page (its RPO fields)

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: MariaDB refuses a literal default on a JSON (LONGTEXT) column before 10.2, and
    # runs from before the upgrade have no attempt record to show.
    with op.batch_alter_table("scheduled_runs") as batch:
        batch.add_column(sa.Column("details", sa.JSON(), nullable=True))
    op.create_index("ix_snapshots_newest", "snapshots", ["workload_id", "status", "deleted", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_snapshots_newest", table_name="snapshots")
    with op.batch_alter_table("scheduled_runs") as batch:
        batch.drop_column("details")
