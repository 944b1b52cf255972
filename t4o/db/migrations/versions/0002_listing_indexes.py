"""listing indexes: (project_id, deleted, created_at, id) for keyset pagination

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TABLES = ("workloads", "snapshots", "restores")


def upgrade() -> None:
    # The listings filter by project and deleted and page by (created_at, id): one index serves
    # the filter, the order and the marker's range, so a page reads only its own rows.
    for table in _TABLES:
        op.drop_index(f"ix_{table}_project_deleted", table_name=table)
        op.create_index(
            f"ix_{table}_project_deleted", table, ["project_id", "deleted", "created_at", "id"], unique=False
        )


def downgrade() -> None:
    for table in _TABLES:
        op.drop_index(f"ix_{table}_project_deleted", table_name=table)
        op.create_index(f"ix_{table}_project_deleted", table, ["project_id", "deleted"], unique=False)
