"""workload_vms (workload_id, vm_id, vm_name): the workload listing reads a page's VMs from the index alone

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_workload_vms_listing", "workload_vms", ["workload_id", "vm_id", "vm_name"])


def downgrade() -> None:
    op.drop_index("ix_workload_vms_listing", table_name="workload_vms")
