"""Every query on senders."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.engine import RowMapping

from pulsebox.db.insert import InsertNew
from pulsebox.models import Sender

S = Sender.__table__


def all_senders(conn: Connection, account_id: int) -> list[RowMapping]:
    return list(conn.execute(select(S).where(S.c.account_id == account_id).order_by(S.c.id)).mappings())


def count(conn: Connection, account_id: int) -> int:
    return conn.execute(select(func.count()).select_from(S).where(S.c.account_id == account_id)).scalar_one()


def get(conn: Connection, account_id: int, email: str) -> RowMapping | None:
    return conn.execute(select(S).where(S.c.account_id == account_id, S.c.email == email)).mappings().first()


def lock(conn: Connection, account_id: int, email: str) -> RowMapping | None:
    """The sender row, locked on PostgreSQL until commit (SQLite's write lock covers it already):
    concurrent code requests for one sender take turns, so only the first mails a code."""
    return conn.execute(select(S).where(S.c.account_id == account_id, S.c.email == email)
                        .with_for_update()).mappings().first()


# Built once per backend: the sender's id, or nothing when the account has that address already
# (also when a concurrent transaction is adding it: the unique index decides, never a 500).
_INSERT = InsertNew(S, ["account_id", "email"], returning=S.c.id)


def insert_sender(conn: Connection, account_id: int, email: str, name: str) -> int | None:
    return conn.execute(_INSERT(conn), {"account_id": account_id, "email": email, "name": name}).scalar()


def delete_sender(conn: Connection, sender_id: int) -> None:
    conn.execute(delete(S).where(S.c.id == sender_id))


def store_code(conn: Connection, sender_id: int, code_hash: str, sent_at: datetime) -> None:
    conn.execute(update(S).where(S.c.id == sender_id).values(code_hash=code_hash, code_sent_at=sent_at))


def activate(conn: Connection, sender_id: int) -> None:
    conn.execute(update(S).where(S.c.id == sender_id).values(active=True, code_hash=None))
