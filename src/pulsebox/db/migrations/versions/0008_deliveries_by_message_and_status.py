"""A message's copies by status: ``(message_id, status)`` replaces ``(message_id)``. Whether a
campaign still has a copy waiting (asked every round, and before its content is dropped) walked
its copies from the first, past every one already sent: at 1,000,000 recipients each round read
hundreds of thousands of rows. With the status in the index it is a seek per status.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_deliveries_message_status", ["message_id", "status"], unique=False)
        batch_op.drop_index("ix_deliveries_message")


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_deliveries_message", ["message_id"], unique=False)
        batch_op.drop_index("ix_deliveries_message_status")
