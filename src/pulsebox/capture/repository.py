"""Every query of captured mail: the account's deliveries that the capture transport stored
(``deliveries.capture_key``), with their message."""

from __future__ import annotations

from sqlalchemy import Connection, func, select, update
from sqlalchemy.engine import RowMapping

from pulsebox.models import Delivery, OutboxMessage

D = Delivery.__table__
M = OutboxMessage.__table__

_COLUMNS = (D.c.id, D.c.email, D.c.capture_key, D.c.sent_at, M.c.public_id, M.c.kind, M.c.sender_email,
            M.c.sender_name, M.c.subject, M.c.created_at)


def _captured(account_id: int):  # noqa: ANN202
    return (select(*_COLUMNS).select_from(D.join(M, M.c.id == D.c.message_id))
            .where(D.c.account_id == account_id, D.c.capture_key.is_not(None)))


def page(conn: Connection, account_id: int, limit: int, offset: int, recipient: str | None,
         subject: str | None) -> list[RowMapping]:
    query = _captured(account_id)
    if recipient:
        query = query.where(func.lower(D.c.email) == recipient.lower())
    if subject:
        query = query.where(func.lower(M.c.subject).contains(subject.lower(), autoescape=True))
    return list(conn.execute(query.order_by(D.c.id.desc()).limit(limit).offset(offset)).mappings())


def one(conn: Connection, account_id: int, delivery_id: int) -> RowMapping | None:
    return conn.execute(_captured(account_id).where(D.c.id == delivery_id)).mappings().first()


def keys(conn: Connection, account_id: int) -> list[str]:
    return list(conn.execute(select(D.c.capture_key).where(D.c.account_id == account_id,
                                                           D.c.capture_key.is_not(None))).scalars())


def forget(conn: Connection, account_id: int) -> int:
    return conn.execute(update(D).where(D.c.account_id == account_id, D.c.capture_key.is_not(None))
                        .values(capture_key=None)).rowcount
