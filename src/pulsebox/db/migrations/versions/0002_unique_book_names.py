"""Book names unique per account, in the database (concurrent creates on PostgreSQL).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_books_account_name", table_name="books")
    op.create_index("uq_books_account_name", "books", ["account_id", "name"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_books_account_name", table_name="books")
    op.create_index("ix_books_account_name", "books", ["account_id", "name"])
