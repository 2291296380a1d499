"""Campaigns (one row each: what was asked, its plan figures, the state and checkpoint of its
send), each copy's own placeholder values (``deliveries.variables``: a campaign's contact), and
an index of copies by address (the ``/emails/{email}`` figures); segments of mailing lists; an
account's own sending limit (``accounts.send_rate``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('campaigns',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('status', sa.SmallInteger(), nullable=False),
    sa.Column('sender_name', sa.String(length=255), nullable=False),
    sa.Column('sender_email', sa.String(length=320), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('body_amp', sa.Text(), nullable=True),
    sa.Column('template_id', sa.String(length=64), nullable=True),
    sa.Column('attachments', sa.JSON(), nullable=False),
    sa.Column('list_ids', sa.JSON(), nullable=False),
    sa.Column('segment_id', sa.Integer(), nullable=True),
    sa.Column('send_date', sa.DateTime(), nullable=True),
    sa.Column('is_test', sa.Boolean(), nullable=False),
    sa.Column('dynamic', sa.Boolean(), nullable=False),
    sa.Column('track_opens', sa.Boolean(), nullable=False),
    sa.Column('track_clicks', sa.Boolean(), nullable=False),
    sa.Column('utm_campaign', sa.String(length=255), nullable=True),
    sa.Column('all_email_qty', sa.Integer(), nullable=False),
    sa.Column('tariff_email_qty', sa.Integer(), nullable=False),
    sa.Column('paid_email_qty', sa.Integer(), nullable=False),
    sa.Column('overdraft_price', sa.String(length=20), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('cursor', sa.String(length=320), nullable=False),
    sa.Column('copied', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_campaigns_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['outbox_messages.id'], name=op.f('fk_campaigns_message_id_outbox_messages'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.create_index('ix_campaigns_account', ['account_id', 'id'], unique=False)
        batch_op.create_index('ix_campaigns_due', ['status', 'send_date'], unique=False)
        batch_op.create_index('ix_campaigns_message', ['message_id'], unique=False)

    op.create_table('segments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('book_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('join', sa.String(length=3), nullable=False),
    sa.Column('filters', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_segments_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['book_id'], ['books.id'], name=op.f('fk_segments_book_id_books'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_segments'))
    )
    with op.batch_alter_table('segments', schema=None) as batch_op:
        batch_op.create_index('ix_segments_book', ['book_id'], unique=False)

    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('send_rate', sa.String(length=200), nullable=True))

    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('variables', sa.JSON(), nullable=True))
        batch_op.create_index('ix_deliveries_account_email', ['account_id', 'email'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_account_email')
        batch_op.drop_column('variables')

    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_index('ix_campaigns_message')
        batch_op.drop_index('ix_campaigns_due')
        batch_op.drop_index('ix_campaigns_account')

    op.drop_table('campaigns')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('send_rate')
    with op.batch_alter_table('segments', schema=None) as batch_op:
        batch_op.drop_index('ix_segments_book')
    op.drop_table('segments')
