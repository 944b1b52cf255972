"""workload_vms.volume_count: the volumes of each protected VM, for the project's Volumes quota

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing VMs count 0 until their next snapshot records their volumes.
    with op.batch_alter_table("workload_vms") as batch:
        batch.add_column(sa.Column("volume_count", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("workload_vms") as batch:
        batch.drop_column("volume_count")
