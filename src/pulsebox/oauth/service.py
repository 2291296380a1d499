"""Token rules: a token is 32 random bytes, stored as its SHA-256, valid ``token_ttl`` seconds.

Bearer checks run on every API request, so each process keeps a small cache of recently seen
tokens (their account and expiry never change); a miss costs one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time

from sqlalchemy import Connection

from pulsebox.accounts import repository as accounts_repository
from pulsebox.accounts.service import verify_secret
from pulsebox.oauth import repository
from pulsebox.oauth.schemas import InvalidClient

_CACHE_MAX = 10_000


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def authenticate(conn: Connection, client_id: str, client_secret: str) -> int:
    """The account of these client credentials, or InvalidClient. Run in a read transaction: the
    scrypt check (~40 ms) must never hold the write lock that every other write waits for."""
    account = accounts_repository.by_client_id(conn, client_id)
    if account is None or not verify_secret(client_secret, account["secret_hash"]):
        raise InvalidClient()
    return account["id"]


def issue_token(conn: Connection, account_id: int, ttl: int) -> str:
    """A new token for an authenticated account (write transaction)."""
    token = secrets.token_urlsafe(32)
    now = int(time.time())
    repository.insert_token(conn, _digest(token), account_id, now + ttl)
    if secrets.randbelow(100) == 0:  # now and then, forget long-expired tokens
        repository.delete_expired(conn, now - 86400)
    return token


class TokenCache:
    """token digest -> (account_id, expires_at), bounded; thread-safe enough for dict operations."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def account_for(self, conn_factory, token: str) -> int | None:  # noqa: ANN001
        """The account id of a valid token, or None. ``conn_factory`` opens a read connection."""
        digest = _digest(token)
        now = time.time()
        hit = self._entries.get(digest)
        if hit is None:
            with conn_factory() as conn:
                hit = repository.find(conn, digest)
            if hit is None:
                return None
            with self._lock:
                if len(self._entries) >= _CACHE_MAX:
                    self._entries.clear()
                self._entries[digest] = hit
        account_id, expires_at = hit
        return account_id if expires_at > now else None
