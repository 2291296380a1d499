"""Template slugs unique per account, in the database (concurrent creates on PostgreSQL).

Existing duplicates are renamed first: in each account the oldest template (lowest id) keeps the
slug, each later one gets the next free ``<slug>-<n>`` (n = 2, 3, ...), as ``POST /template`` names
a second template of the same name. System templates (no account) are not constrained.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SLUG_MAX = 255  # templates.name_slug is String(255)

templates = sa.table("templates", sa.column("id", sa.Integer), sa.column("account_id", sa.Integer),
                     sa.column("name_slug", sa.String))


def _deduplicate_slugs(conn: sa.Connection) -> None:
    dupes = (sa.select(templates.c.account_id, templates.c.name_slug)
             .where(templates.c.account_id.is_not(None))
             .group_by(templates.c.account_id, templates.c.name_slug)
             .having(sa.func.count() > 1))
    for account_id in sorted({account_id for account_id, _ in conn.execute(dupes).all()}):
        rows = conn.execute(sa.select(templates.c.id, templates.c.name_slug)
                            .where(templates.c.account_id == account_id).order_by(templates.c.id)).all()
        taken = {slug for _, slug in rows}
        seen: set[str] = set()
        for template_id, slug in rows:
            if slug not in seen:
                seen.add(slug)
                continue
            n = 2
            while True:
                suffix = f"-{n}"
                candidate = slug[:SLUG_MAX - len(suffix)] + suffix
                if candidate not in taken:
                    break
                n += 1
            taken.add(candidate)
            seen.add(candidate)
            conn.execute(sa.update(templates).where(templates.c.id == template_id).values(name_slug=candidate))


def upgrade() -> None:
    _deduplicate_slugs(op.get_bind())
    op.drop_index("ix_templates_account_slug", table_name="templates")
    op.create_index("uq_templates_account_slug", "templates", ["account_id", "name_slug"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_templates_account_slug", table_name="templates")
    op.create_index("ix_templates_account_slug", "templates", ["account_id", "name_slug"])
