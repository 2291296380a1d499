"""Value keys of contact variables (``contact_values``), filled in for the contacts there are.

A search by a variable's value read every contact of the list to compare one JSON value each
(306 ms on SQLite, 408 ms on PostgreSQL for a million contacts, bench/README.md "Admin UI pages");
with a key per value (``pulsebox.models.books.value_key``) it reads the primary key's entries of
its matches, one index seek a block of 4,096 contacts. The keys of the contacts already stored are
computed here, a batch at a time: 1,100,000 contacts with four variables each took 22 s on SQLite and
55 s on PostgreSQL (bench/ui.py's seeded account).

This migration uses the application's ``value_key``: the keys are data in its format, so a change
of that format needs a migration that computes them again.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from pulsebox.models.books import value_block, value_keys

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_BATCH = 20_000


def upgrade() -> None:
    values = op.create_table(
        "contact_values",
        sa.Column("book_id", sa.Integer(), nullable=False),
        sa.Column("block", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("contact_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(["book_id"], ["books.id"], name=op.f("fk_contact_values_book_id_books"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("book_id", "block", "key", "contact_id", name=op.f("pk_contact_values")),
        sqlite_with_rowid=False,
    )
    contacts = sa.table("contacts", sa.column("id", sa.Integer), sa.column("book_id", sa.Integer),
                        sa.column("variables", sa.JSON))
    conn = op.get_bind()
    after = 0
    while True:
        batch = conn.execute(sa.select(contacts.c.id, contacts.c.book_id, contacts.c.variables)
                             .where(contacts.c.id > after).order_by(contacts.c.id).limit(_BATCH)).all()
        if not batch:
            break
        rows = [{"book_id": book_id, "block": value_block(contact_id), "key": key, "contact_id": contact_id}
                for contact_id, book_id, variables in batch for key in value_keys(variables)]
        if rows:
            conn.execute(values.insert(), rows)
        after = batch[-1][0]


def downgrade() -> None:
    op.drop_table("contact_values")
