"""Every query on senders."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.engine import RowMapping

from pulsebox.models import Sender

S = Sender.__table__


def all_senders(conn: Connection, account_id: int) -> list[RowMapping]:
    return list(conn.execute(select(S).where(S.c.account_id == account_id).order_by(S.c.id)).mappings())


def count(conn: Connection, account_id: int) -> int:
    return conn.execute(select(func.count()).select_from(S).where(S.c.account_id == account_id)).scalar_one()


def get(conn: Connection, account_id: int, email: str) -> RowMapping | None:
    return conn.execute(select(S).where(S.c.account_id == account_id, S.c.email == email)).mappings().first()


def insert_sender(conn: Connection, account_id: int, email: str, name: str) -> None:
    conn.execute(insert(S).values(account_id=account_id, email=email, name=name))


def delete_sender(conn: Connection, sender_id: int) -> None:
    conn.execute(delete(S).where(S.c.id == sender_id))


def store_code(conn: Connection, sender_id: int, code_hash: str, sent_at: datetime) -> None:
    conn.execute(update(S).where(S.c.id == sender_id).values(code_hash=code_hash, code_sent_at=sent_at))


def activate(conn: Connection, sender_id: int) -> None:
    conn.execute(update(S).where(S.c.id == sender_id).values(active=True, code_hash=None))
