"""Every query on access tokens."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select

from pulsebox.models import AccessToken

T = AccessToken.__table__


def insert_token(conn: Connection, token_hash: str, account_id: int, expires_at: int) -> None:
    conn.execute(insert(T).values(token_hash=token_hash, account_id=account_id, expires_at=expires_at))


def find(conn: Connection, token_hash: str) -> tuple[int, int] | None:
    row = conn.execute(select(T.c.account_id, T.c.expires_at).where(T.c.token_hash == token_hash)).first()
    return (row[0], row[1]) if row else None


def delete_expired(conn: Connection, now: int) -> int:
    return conn.execute(delete(T).where(T.c.expires_at < now)).rowcount
