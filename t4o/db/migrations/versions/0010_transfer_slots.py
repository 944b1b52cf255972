"""transfer_slots, transfer_slot_turns, transfer_slot_lock: deployment-wide disk transfer limits

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

# MySQL/MariaDB keep whole seconds unless told: requests a few milliseconds apart must keep their order.
MICROSECONDS = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transfer_slots",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("job_kind", sa.String(16), nullable=False),
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("worker", sa.String(255), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_at", MICROSECONDS, nullable=False),
        sa.Column("granted_at", MICROSECONDS, nullable=True),
        sa.Column("expires_at", MICROSECONDS, nullable=False),
    )
    op.create_index("ix_transfer_slots_state_requested", "transfer_slots", ["state", "requested_at"])
    op.create_table(
        "transfer_slot_turns",
        sa.Column("project_id", sa.String(255), primary_key=True),
        sa.Column("last_granted_at", MICROSECONDS, nullable=False),
    )
    lock = op.create_table(
        "transfer_slot_lock",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("passes", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(lock, [{"id": 1, "passes": 0}])


def downgrade() -> None:
    op.drop_table("transfer_slot_lock")
    op.drop_table("transfer_slot_turns")
    op.drop_index("ix_transfer_slots_state_requested", table_name="transfer_slots")
    op.drop_table("transfer_slots")
