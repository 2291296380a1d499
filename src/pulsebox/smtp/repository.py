"""Every query of the SMTP service's own table: sending domains (the outbox's are in ``outbox/``)."""

from __future__ import annotations

from sqlalchemy import Connection, func, select, update
from sqlalchemy.engine import RowMapping

from pulsebox.db.insert import InsertNew
from pulsebox.models import SendingDomain

SD = SendingDomain.__table__

def domains(conn: Connection, account_id: int) -> list[RowMapping]:
    return list(conn.execute(select(SD).where(SD.c.account_id == account_id).order_by(SD.c.created_at,
                                                                                     SD.c.domain)).mappings())


def domain(conn: Connection, account_id: int, name: str) -> RowMapping | None:
    return conn.execute(select(SD).where(SD.c.account_id == account_id, SD.c.domain == name)).mappings().first()


def lock_domain(conn: Connection, account_id: int, name: str) -> RowMapping | None:
    """The domain row, locked on PostgreSQL until commit (SQLite's write lock covers it already):
    concurrent code requests for one domain take turns, so only the first mails a code."""
    return conn.execute(select(SD).where(SD.c.account_id == account_id, SD.c.domain == name)
                        .with_for_update()).mappings().first()


_ADD_DOMAIN = InsertNew(SD, ["account_id", "domain"], returning=SD.c.domain)


def add_domain(conn: Connection, account_id: int, name: str, email: str) -> bool:
    """Add the domain unless the account has it (also when a concurrent transaction is adding it:
    the first address to verify with stays). True if it was new."""
    values = {"account_id": account_id, "domain": name, "email": email}
    return conn.execute(_ADD_DOMAIN(conn), values).first() is not None


def update_domain(conn: Connection, account_id: int, name: str, **values) -> None:  # noqa: ANN003
    conn.execute(update(SD).where(SD.c.account_id == account_id, SD.c.domain == name).values(**values))


def count_domains(conn: Connection, account_id: int) -> int:
    return conn.execute(select(func.count()).select_from(SD).where(SD.c.account_id == account_id)).scalar_one()
