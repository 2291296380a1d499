"""Indexes for the admin UI's pages on a 1,000,000-contact account (bench/ui.py):

- ``contacts (book_id, id)``: a list's contacts in id order. A page of a list (``id > after ORDER BY id
  LIMIT 50``) was read through ``(book_id, email)`` and sorted: every contact of the list, 180 ms a page
  of a million; a segment's count and a search by variable now read the list in the table's order.
- ``contacts (account_id, email, status)`` instead of ``(account_id, email)``: the account's distinct
  New/Active addresses (``current_subscribers`` of the balance, the settings page) counted from the index
  alone; each of the account's contacts was read from the table (300 ms for a million).
- ``deliveries (account_id, status, updated_at, sent_at)``: the account's queue depth (its copies queued,
  deferred or being sent) and its copies sent per day over 30 days, both from the index alone; they
  walked every copy the account ever had.
- ``deliveries (message_id, status, id)`` instead of ``(message_id, status)``: a campaign's first and last
  copy of each status and a page of its copies of one status in id order (the report, its recipients) are
  index seeks on PostgreSQL, whose index kept no id order (60 ms a 100,000-copy campaign, every page);
  SQLite's indexes end with the rowid already.
- ``tracking_events (created_at, account_id, kind)``: the account's opens and clicks per day, which
  scanned the events of every account, now read from the index for the days shown. Time first: an index
  led by the account drew SQLite (no statistics) away from the (delivery, kind, link) index for the events
  of one message (a campaign's report).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index("ix_contacts_book_id", ["book_id", "id"], unique=False)
        batch_op.create_index("ix_contacts_account_email_status", ["account_id", "email", "status"], unique=False)
        batch_op.drop_index("ix_contacts_account_email")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_deliveries_account_status", ["account_id", "status", "updated_at", "sent_at"],
                              unique=False)
        batch_op.drop_index("ix_deliveries_message_status")
        batch_op.create_index("ix_deliveries_message_status", ["message_id", "status", "id"], unique=False)
    with op.batch_alter_table("tracking_events", schema=None) as batch_op:
        batch_op.create_index("ix_tracking_events_time", ["created_at", "account_id", "kind"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tracking_events", schema=None) as batch_op:
        batch_op.drop_index("ix_tracking_events_time")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_message_status")
        batch_op.create_index("ix_deliveries_message_status", ["message_id", "status"], unique=False)
        batch_op.drop_index("ix_deliveries_account_status")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index("ix_contacts_account_email", ["account_id", "email"], unique=False)
        batch_op.drop_index("ix_contacts_account_email_status")
        batch_op.drop_index("ix_contacts_book_id")
