"""Every query on accounts and their ledger."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.engine import RowMapping

from pulsebox.models import Account

A = Account.__table__


def insert_account(conn: Connection, **values: object) -> int:
    return conn.execute(insert(A).values(**values).returning(A.c.id)).scalar_one()


def get(conn: Connection, account_id: int) -> RowMapping | None:
    return conn.execute(select(A).where(A.c.id == account_id)).mappings().first()


def lock(conn: Connection, account_id: int) -> None:
    """The account's row, locked until commit (PostgreSQL; SQLite's write lock covers it already)."""
    conn.execute(select(A.c.id).where(A.c.id == account_id).with_for_update())


def by_client_id(conn: Connection, client_id: str) -> RowMapping | None:
    return conn.execute(select(A).where(A.c.client_id == client_id)).mappings().first()


def by_name(conn: Connection, name: str) -> RowMapping | None:
    return conn.execute(select(A).where(A.c.name == name)).mappings().first()


def all_accounts(conn: Connection) -> list[RowMapping]:
    return list(conn.execute(select(A).order_by(A.c.id)).mappings())


def update_account(conn: Connection, account_id: int, **values: object) -> None:
    conn.execute(update(A).where(A.c.id == account_id).values(**values))
