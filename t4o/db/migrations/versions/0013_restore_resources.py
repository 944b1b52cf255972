"""restore_resources: what a running restore created, so that another worker removes it when the restore's
worker dies

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "restore_resources",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("restore_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("resource_id", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("cleaner", sa.String(255), nullable=True),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_restore_resources_restore", "restore_resources", ["restore_id"])


def downgrade() -> None:
    op.drop_index("ix_restore_resources_restore", table_name="restore_resources")
    op.drop_table("restore_resources")
