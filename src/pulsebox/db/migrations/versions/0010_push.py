"""Web push (document 002): websites with their VAPID keys, subscriptions, variables, push tasks and
their sends.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('push_websites',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('appkey', sa.String(length=40), nullable=False),
    sa.Column('vapid_private', sa.Text(), nullable=False),
    sa.Column('vapid_public', sa.String(length=100), nullable=False),
    sa.Column('status', sa.SmallInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_task_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_push_websites_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_websites')),
    sa.UniqueConstraint('appkey', name=op.f('uq_push_websites_appkey')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('push_websites', schema=None) as batch_op:
        batch_op.create_index('ix_push_websites_account', ['account_id', 'id'], unique=False)

    op.create_table('push_subscriptions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('website_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('endpoint', sa.String(length=1000), nullable=False),
    sa.Column('p256dh', sa.String(length=100), nullable=False),
    sa.Column('auth', sa.String(length=40), nullable=False),
    sa.Column('browser', sa.String(length=40), nullable=False),
    sa.Column('lang', sa.String(length=10), nullable=False),
    sa.Column('os', sa.String(length=40), nullable=False),
    sa.Column('country_code', sa.String(length=2), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('variables', sa.JSON(), nullable=False),
    sa.Column('status', sa.SmallInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_push_subscriptions_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['website_id'], ['push_websites.id'], name=op.f('fk_push_subscriptions_website_id_push_websites'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_subscriptions')),
    sa.UniqueConstraint('website_id', 'endpoint', name=op.f('uq_push_subscriptions_website_id')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('push_subscriptions', schema=None) as batch_op:
        batch_op.create_index('ix_push_subscriptions_website', ['website_id', 'status', 'id'], unique=False)

    op.create_table('push_tasks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('website_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=2000), nullable=False),
    sa.Column('ttl', sa.Integer(), nullable=False),
    sa.Column('icon', sa.String(length=2000), nullable=True),
    sa.Column('image', sa.String(length=2000), nullable=True),
    sa.Column('buttons', sa.JSON(), nullable=False),
    sa.Column('filters', sa.JSON(), nullable=False),
    sa.Column('send_date', sa.DateTime(), nullable=False),
    sa.Column('stretch_time', sa.Integer(), nullable=False),
    sa.Column('status', sa.SmallInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('cursor', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('copied', sa.Integer(), nullable=False),
    sa.Column('planned', sa.Integer(), nullable=False),
    sa.Column('copied_all', sa.Boolean(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_push_tasks_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['website_id'], ['push_websites.id'], name=op.f('fk_push_tasks_website_id_push_websites'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_tasks')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('push_tasks', schema=None) as batch_op:
        batch_op.create_index('ix_push_tasks_account', ['account_id', 'id'], unique=False)
        batch_op.create_index('ix_push_tasks_due', ['copied_all', 'send_date'], unique=False)

    op.create_table('push_variables',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('website_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=10), nullable=False),
    sa.ForeignKeyConstraint(['website_id'], ['push_websites.id'], name=op.f('fk_push_variables_website_id_push_websites'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_variables')),
    sa.UniqueConstraint('website_id', 'name', name=op.f('uq_push_variables_website_id')),
    sqlite_autoincrement=True
    )
    op.create_table('push_sends',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('task_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('subscription_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('due_at', sa.DateTime(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(), nullable=True),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('delivered_at', sa.DateTime(), nullable=True),
    sa.Column('clicked_at', sa.DateTime(), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['subscription_id'], ['push_subscriptions.id'], name=op.f('fk_push_sends_subscription_id_push_subscriptions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['task_id'], ['push_tasks.id'], name=op.f('fk_push_sends_task_id_push_tasks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_sends')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('push_sends', schema=None) as batch_op:
        batch_op.create_index('ix_push_sends_due', ['status', 'due_at'], unique=False)
        batch_op.create_index('ix_push_sends_task', ['task_id', 'status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('push_sends', schema=None) as batch_op:
        batch_op.drop_index('ix_push_sends_task')
        batch_op.drop_index('ix_push_sends_due')

    op.drop_table('push_sends')
    op.drop_table('push_variables')
    with op.batch_alter_table('push_tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_push_tasks_due')
        batch_op.drop_index('ix_push_tasks_account')

    op.drop_table('push_tasks')
    with op.batch_alter_table('push_subscriptions', schema=None) as batch_op:
        batch_op.drop_index('ix_push_subscriptions_website')

    op.drop_table('push_subscriptions')
    with op.batch_alter_table('push_websites', schema=None) as batch_op:
        batch_op.drop_index('ix_push_websites_account')

    op.drop_table('push_websites')

