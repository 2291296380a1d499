"""Every query on the ledger (money in and out, emails consumed)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, func, insert, select

from pulsebox.models import LedgerEntry

L = LedgerEntry.__table__


def add_ledger_entry(conn: Connection, account_id: int, kind: str, *, amount: Decimal = Decimal(0),
                     emails: int = 0, note: str = "") -> None:
    conn.execute(insert(L).values(account_id=account_id, kind=kind, amount=amount, emails=emails, note=note))


def money_by_kind(conn: Connection, account_id: int) -> dict[str, Decimal]:
    rows = conn.execute(select(L.c.kind, func.coalesce(func.sum(L.c.amount), 0))
                        .where(L.c.account_id == account_id).group_by(L.c.kind))
    return {kind: Decimal(str(total)) for kind, total in rows}


def emails_used_since(conn: Connection, account_id: int, since: datetime) -> int:
    return conn.execute(select(func.coalesce(func.sum(L.c.emails), 0))
                        .where(L.c.account_id == account_id, L.c.kind == "emails",
                               L.c.created_at >= since)).scalar_one()
