"""Token rules: a token is 32 random bytes, stored as its SHA-256, valid ``token_ttl`` seconds.

Bearer checks run on every API request, so each process keeps a small cache of recently seen
tokens; a miss costs one indexed lookup. A cached token is looked up again once it is
``RECHECK_SECONDS`` old, so a token deleted from the database (secret rotated, account deleted)
stops working in every process within that many seconds, with no state shared between processes.

Client credentials cost ~40 ms of scrypt each; ``VerifiedSecrets`` remembers, per process, which
secrets scrypt has lately accepted, so a client that knows its secret skips scrypt (and the failure
caps the endpoint puts in front of it).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable

from sqlalchemy import Connection

from pulsebox.accounts import repository as accounts_repository
from pulsebox.accounts import service as accounts_service
from pulsebox.accounts.service import verify_secret
from pulsebox.oauth import repository
from pulsebox.oauth.schemas import InvalidClient

_CACHE_MAX = 10_000
RECHECK_SECONDS = 5.0  # a cached token (or account) is read again after this long: the revocation bound
VERIFIED_SECONDS = 3600.0  # how long a secret scrypt accepted skips scrypt (while its stored hash is unchanged)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class VerifiedSecrets:
    """Secrets this process checked with scrypt and found right, remembered as an HMAC (under a
    random per-process key) of the account's stored hash and the secret: never the secret itself.
    A hit means "this exact secret matched this exact stored hash", so a rotated secret (a new
    stored hash, read from the database on every token request) misses at once, in every process.
    Entries are only ever added after a successful check, so guessing cannot fill it."""

    def __init__(self, ttl: float = VERIFIED_SECONDS) -> None:
        self.ttl = ttl
        self._key = secrets.token_bytes(32)
        self._entries: dict[bytes, float] = {}
        self._lock = threading.Lock()

    def _mac(self, stored: str, secret: str) -> bytes:
        message = stored.encode() + b"\0" + secret.encode("utf-8", "surrogatepass")
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def known(self, stored: str, secret: str) -> bool:
        until = self._entries.get(self._mac(stored, secret))
        return until is not None and until > time.monotonic()

    def remember(self, stored: str, secret: str) -> None:
        mac = self._mac(stored, secret)
        with self._lock:
            if len(self._entries) >= _CACHE_MAX:
                self._entries.clear()
            self._entries[mac] = time.monotonic() + self.ttl


def authenticate(conn: Connection, client_id: str, client_secret: str, verified: VerifiedSecrets,
                 before_scrypt: Callable[[], None] | None = None) -> int:
    """The account of these client credentials, or InvalidClient. Run in a read transaction: the
    scrypt check (~40 ms) must never hold the write lock that every other write waits for.
    A secret ``verified`` remembers for the account's current stored hash skips scrypt; otherwise
    ``before_scrypt`` runs first (the endpoint's failure caps: it raises to refuse the check).
    An unknown client_id costs no scrypt."""
    account = accounts_repository.by_client_id(conn, client_id)
    if account is None:
        raise InvalidClient()
    stored = account["secret_hash"]
    if not verified.known(stored, client_secret):
        if before_scrypt is not None:
            before_scrypt()
        if not verify_secret(client_secret, stored):
            raise InvalidClient()
        verified.remember(stored, client_secret)
    return account["id"]


def issue_token(conn: Connection, account_id: int, ttl: int) -> str:
    """A new token for an authenticated account (write transaction). Earlier tokens stay valid until
    they expire, as at SendPulse: several clients sharing one client_id each hold a token."""
    token = secrets.token_urlsafe(32)
    now = int(time.time())
    repository.insert_token(conn, _digest(token), account_id, now + ttl)
    if secrets.randbelow(100) == 0:  # now and then, forget long-expired tokens
        repository.delete_expired(conn, now - 86400)
    return token


def revoke_tokens(conn: Connection, account_id: int) -> int:
    """Delete every token of an account (same transaction as the change that calls for it). Other
    processes notice within ``RECHECK_SECONDS``."""
    return repository.delete_for_account(conn, account_id)


def rotate_secret(conn: Connection, account_ref: str) -> dict:
    """A new client secret, and the tokens issued with the old one deleted in the same transaction:
    a secret is rotated because it leaked, and so may have its tokens."""
    out = accounts_service.rotate_secret(conn, account_ref)
    return {**out, "revoked_tokens": revoke_tokens(conn, out["id"])}


class TokenCache:
    """token digest -> (account_id, expires_at, recheck_at), bounded; thread-safe enough for dict
    operations. An entry older than ``recheck`` seconds is read from the database again."""

    def __init__(self, recheck: float = RECHECK_SECONDS) -> None:
        self.recheck = recheck
        self._entries: dict[str, tuple[int, int, float]] = {}
        self._lock = threading.Lock()

    def account_for(self, conn_factory, token: str) -> int | None:  # noqa: ANN001
        """The account id of a valid token, or None. ``conn_factory`` opens a read connection."""
        digest = _digest(token)
        hit = self._entries.get(digest)
        if hit is None or hit[2] <= time.monotonic():
            with conn_factory() as conn:
                found = repository.find(conn, digest)
            with self._lock:
                if found is None:
                    self._entries.pop(digest, None)
                    return None
                if len(self._entries) >= _CACHE_MAX:
                    self._entries.clear()
                hit = (found[0], found[1], time.monotonic() + self.recheck)
                self._entries[digest] = hit
        account_id, expires_at, _ = hit
        return account_id if expires_at > time.time() else None
