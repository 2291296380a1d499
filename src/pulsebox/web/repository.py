"""Every query on the admin UI's sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, insert, select
from sqlalchemy.engine import RowMapping

from pulsebox.models import UiSession

S = UiSession.__table__

_CURRENT = select(S.c.account_id, S.c.csrf).where(S.c.token_hash == bindparam("token_hash"),
                                                  S.c.expires_at > bindparam("now"))


def insert_session(conn: Connection, values: dict) -> None:
    conn.execute(insert(S), values)


def current(conn: Connection, token_hash: str, now: datetime) -> RowMapping | None:
    return conn.execute(_CURRENT, {"token_hash": token_hash, "now": now}).mappings().first()


def remove(conn: Connection, token_hash: str) -> None:
    conn.execute(delete(S).where(S.c.token_hash == token_hash))


def remove_expired(conn: Connection, now: datetime) -> None:
    conn.execute(delete(S).where(S.c.expires_at <= now))
