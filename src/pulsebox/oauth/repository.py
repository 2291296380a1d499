"""Every query on access tokens."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, delete, insert, select

from pulsebox.models import AccessToken

T = AccessToken.__table__


def insert_token(conn: Connection, token_hash: str, account_id: int, expires_at: int) -> None:
    conn.execute(insert(T).values(token_hash=token_hash, account_id=account_id, expires_at=expires_at))


_FIND = select(T.c.account_id, T.c.expires_at).where(T.c.token_hash == bindparam("token_hash"))


def find(conn: Connection, token_hash: str) -> tuple[int, int] | None:
    """Hot: every bearer token not in (or due for a recheck in) the process's cache."""
    row = conn.execute(_FIND, {"token_hash": token_hash}).first()
    return (row[0], row[1]) if row else None


def delete_expired(conn: Connection, now: int) -> int:
    return conn.execute(delete(T).where(T.c.expires_at < now)).rowcount


def delete_for_account(conn: Connection, account_id: int) -> int:
    return conn.execute(delete(T).where(T.c.account_id == account_id)).rowcount
