"""Every query on the blacklist."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, delete, select

from pulsebox.db.insert import InsertNew
from pulsebox.models import BlacklistEntry

T = BlacklistEntry.__table__
# Built once per backend: an address already listed (or being listed by a concurrent transaction:
# the same POST /blacklist twice at once) is skipped, not an error; it keeps its first comment.
_ADD = InsertNew(T, ["account_id", "email"])


def all_emails(conn: Connection, account_id: int, limit: int | None, offset: int) -> list[str]:
    query = select(T.c.email).where(T.c.account_id == account_id).order_by(T.c.created_at, T.c.email)
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return list(conn.execute(query).scalars())


def listed(conn: Connection, account_id: int, emails: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(emails), 500):
        found.update(conn.execute(select(T.c.email).where(T.c.account_id == account_id,
                                                         T.c.email.in_(emails[i:i + 500]))).scalars())
    return found


def add(conn: Connection, account_id: int, emails: Sequence[str], comment: str) -> None:
    """Insert the addresses not listed yet (also against concurrent transactions: ON CONFLICT DO
    NOTHING), in one order (two requests listing the same addresses wait on each other, never deadlock)."""
    rows = [{"account_id": account_id, "email": e, "comment": comment} for e in sorted(set(emails))]
    if rows:
        conn.execute(_ADD(conn), rows)


def remove(conn: Connection, account_id: int, emails: Sequence[str]) -> int:
    removed = 0
    for i in range(0, len(emails), 500):
        removed += conn.execute(delete(T).where(T.c.account_id == account_id,
                                                T.c.email.in_(emails[i:i + 500]))).rowcount
    return removed
