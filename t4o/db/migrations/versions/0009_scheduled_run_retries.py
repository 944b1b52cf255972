"""scheduled_runs.attempts and next_attempt_at: retries of scheduled snapshots, runs waiting in their window

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scheduled_runs") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(), nullable=True))
    # Runs from before made one attempt when they queued (or tried to queue) a snapshot.
    op.execute(
        "UPDATE scheduled_runs SET attempts = 1 WHERE status IN ('fired', 'completed', 'error', 'failed')"
    )


def downgrade() -> None:
    with op.batch_alter_table("scheduled_runs") as batch:
        batch.drop_column("next_attempt_at")
        batch.drop_column("attempts")
