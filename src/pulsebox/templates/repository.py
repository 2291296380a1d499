"""Every query on templates. System templates have no account (account_id IS NULL)."""

from __future__ import annotations

from sqlalchemy import Connection, insert, or_, select, union_all, update
from sqlalchemy.engine import RowMapping

from pulsebox.db.insert import InsertNew
from pulsebox.models import Template

T = Template.__table__


def _visible(account_id: int):  # noqa: ANN202
    return or_(T.c.account_id == account_id, T.c.account_id.is_(None))


def insert_template(conn: Connection, **values: object) -> int:
    return conn.execute(insert(T).values(**values).returning(T.c.id)).scalar_one()


_INSERT_WITH_FREE_SLUG = InsertNew(T, ["account_id", "name_slug"], returning=T.c.id)


def insert_template_with_free_slug(conn: Connection, **values: object) -> int | None:
    """The new template's id, or None when the account has a template with that slug already
    (a concurrent insert of the slug is waited for on PostgreSQL; nothing is raised, no savepoint)."""
    return conn.execute(_INSERT_WITH_FREE_SLUG(conn), values).scalar()


def by_real_id(conn: Connection, account_id: int, real_id: int) -> RowMapping | None:
    return conn.execute(select(T).where(T.c.id == real_id, _visible(account_id))).mappings().first()


def by_uid(conn: Connection, account_id: int, uid: str) -> RowMapping | None:
    return conn.execute(select(T).where(T.c.uid == uid, _visible(account_id))).mappings().first()


def by_slug(conn: Connection, account_id: int, slug: str) -> RowMapping | None:
    return conn.execute(select(T).where(T.c.name_slug == slug, _visible(account_id))
                        .order_by(T.c.account_id.is_(None))).mappings().first()


def slug_taken(conn: Connection, account_id: int | None, slug: str) -> bool:
    owner = T.c.account_id.is_(None) if account_id is None else T.c.account_id == account_id
    return conn.execute(select(T.c.id).where(owner, T.c.name_slug == slug).limit(1)).first() is not None


def listing(conn: Connection, account_id: int, owner: str | None, lang: str | None, limit: int,
            offset: int) -> list[RowMapping]:
    query = select(T)
    if owner == "me":
        query = query.where(T.c.account_id == account_id)
    elif owner == "sendpulse":
        query = query.where(T.c.account_id.is_(None))
    else:
        query = query.where(_visible(account_id))
    if lang:
        query = query.where(T.c.lang == lang)
    return list(conn.execute(query.order_by(T.c.id).limit(limit).offset(offset)).mappings())


def update_template(conn: Connection, real_id: int, **values: object) -> None:
    conn.execute(update(T).where(T.c.id == real_id).values(**values))


def system_slugs(conn: Connection) -> set[str]:
    return set(conn.execute(select(T.c.name_slug).where(T.c.account_id.is_(None))).scalars())


_LISTED = (T.c.id, T.c.uid, T.c.name, T.c.name_slug, T.c.lang, T.c.account_id, T.c.category, T.c.created_at)


def recent(conn: Connection, account_id: int, before: int | None, limit: int) -> list[RowMapping]:
    """The account's templates and the system ones below ``before`` (a real_id), newest first, without
    their bodies: two index-ordered ranges (the account's, the system's) merged, so other accounts'
    templates are never walked."""
    parts = []
    for owner in (T.c.account_id == account_id, T.c.account_id.is_(None)):
        part = select(*_LISTED).where(owner)
        if before is not None:
            part = part.where(T.c.id < before)
        parts.append(part.order_by(T.c.id.desc()).limit(limit).subquery())
    merged = union_all(*(select(p) for p in parts)).subquery()
    return list(conn.execute(select(merged).order_by(merged.c.id.desc()).limit(limit)).mappings())
