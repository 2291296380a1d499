"""Web push: icons and images uploaded with a push task (SendPulse's {name, data}), served by Pulsebox.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('push_pictures',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('task_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=20), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['push_tasks.id'], name=op.f('fk_push_pictures_task_id_push_tasks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_pictures')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('push_pictures', schema=None) as batch_op:
        batch_op.create_index('ix_push_pictures_task', ['task_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('push_pictures', schema=None) as batch_op:
        batch_op.drop_index('ix_push_pictures_task')

    op.drop_table('push_pictures')
