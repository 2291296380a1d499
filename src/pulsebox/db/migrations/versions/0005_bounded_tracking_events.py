"""Tracking events bounded per copy, in the database: one open and one unsubscribe per delivery,
one click per distinct link (concurrent replays of a pixel or a link on PostgreSQL too).

Existing duplicates are removed first (the earliest event of each is kept: the first open's time,
IP, country and browser), click events get the index of their URL among the message's links, and
the copies' open and click counts are recounted from the events that remain.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_BATCH = 2000

events = sa.table("tracking_events", sa.column("id", sa.Integer), sa.column("delivery_id", sa.Integer),
                  sa.column("kind", sa.String), sa.column("url", sa.Text), sa.column("link", sa.Integer))
deliveries = sa.table("deliveries", sa.column("id", sa.Integer), sa.column("message_id", sa.Integer))
messages = sa.table("outbox_messages", sa.column("id", sa.Integer), sa.column("content", sa.JSON))


def _number_clicks(conn: sa.Connection) -> None:
    """``link`` of each (now unique per URL) click: its URL's first index among the message's
    links; a URL the message does not list (none should) gets -1, -2, ... within its copy."""
    query = (sa.select(events.c.id, events.c.delivery_id, events.c.url, messages.c.content)
             .select_from(events.join(deliveries, deliveries.c.id == events.c.delivery_id)
                          .join(messages, messages.c.id == deliveries.c.message_id))
             .where(events.c.kind == "click", events.c.id > sa.bindparam("after"))
             .order_by(events.c.id).limit(_BATCH))
    renumber = (sa.update(events).where(events.c.id == sa.bindparam("b_id"))
                .values(link=sa.bindparam("b_link")))
    unlisted: dict[int, int] = {}
    after = 0
    while rows := conn.execute(query, {"after": after}).all():
        changes = []
        for event_id, delivery_id, url, content in rows:
            stored = content.get("links") if isinstance(content, dict) else None
            if isinstance(stored, list) and url in stored:
                link = stored.index(url)
            else:
                link = unlisted[delivery_id] = unlisted.get(delivery_id, 0) - 1
            if link:
                changes.append({"b_id": event_id, "b_link": link})
        if changes:
            conn.execute(renumber, changes)
        after = rows[-1][0]


def upgrade() -> None:
    with op.batch_alter_table("tracking_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("link", sa.Integer(), nullable=False, server_default="0"))

    # duplicates: an open or unsubscribe after the copy's first, a click on a URL clicked before
    op.execute("DELETE FROM tracking_events WHERE EXISTS (SELECT 1 FROM tracking_events AS earlier"
               " WHERE earlier.delivery_id = tracking_events.delivery_id AND earlier.kind = tracking_events.kind"
               " AND earlier.id < tracking_events.id"
               " AND (tracking_events.kind <> 'click' OR earlier.url = tracking_events.url))")
    _number_clicks(op.get_bind())
    op.execute("UPDATE deliveries SET"
               " opens = (SELECT count(*) FROM tracking_events AS e WHERE e.delivery_id = deliveries.id"
               " AND e.kind = 'open'),"
               " clicks = (SELECT count(*) FROM tracking_events AS e WHERE e.delivery_id = deliveries.id"
               " AND e.kind = 'click')"
               " WHERE id IN (SELECT delivery_id FROM tracking_events WHERE kind IN ('open', 'click'))")

    op.drop_index("ix_tracking_events_delivery", table_name="tracking_events")
    op.create_index("uq_tracking_events_once", "tracking_events", ["delivery_id", "kind", "link"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_tracking_events_once", table_name="tracking_events")
    op.create_index("ix_tracking_events_delivery", "tracking_events", ["delivery_id", "id"])
    with op.batch_alter_table("tracking_events", schema=None) as batch_op:
        batch_op.drop_column("link")
