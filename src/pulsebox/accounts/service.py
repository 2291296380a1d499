"""Account rules: creation with a fresh client_id/secret (secret stored as an scrypt hash), secret
rotation, the effective per-account limits (override or environment default), and the plan."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import Connection

from pulsebox import ratelimit
from pulsebox.accounts import repository
from pulsebox.config import Settings

# scrypt's work factor for new hashes (~40 ms each). A hash records its own factor when it is not
# this one, so the test suite can make its thousands of accounts with a cheap one
# (tests/conftest.py) while every hash a server makes stays at full cost.
SCRYPT_N = 2**14
_SCRYPT = {"r": 8, "p": 1, "dklen": 32}


class AccountError(ValueError):
    """An operator mistake on the command line (bad name, unknown account, bad limit)."""


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=SCRYPT_N, **_SCRYPT)
    scheme = "scrypt" if SCRYPT_N == 2**14 else f"scrypt-n{SCRYPT_N}"
    return f"{scheme}${salt.hex()}${digest.hex()}"


def verify_secret(secret: str, stored: str) -> bool:
    try:
        scheme, salt_hex, digest_hex = stored.split("$")
        n = 2**14 if scheme == "scrypt" else int(scheme.removeprefix("scrypt-n"), 10)
    except ValueError:
        return False
    if not scheme.startswith("scrypt") or not 2 <= n <= 2**20 or n & (n - 1):
        return False
    digest = hashlib.scrypt(secret.encode(), salt=bytes.fromhex(salt_hex), n=n, **_SCRYPT)
    return hmac.compare_digest(digest.hex(), digest_hex)


@dataclass(frozen=True)
class Limits:
    rate_rules: tuple[ratelimit.Rule, ...]
    email_quota: int
    max_subscribers: int
    campaigns_per_hour: int
    same_list_interval: int
    send_rules: tuple[ratelimit.Rule, ...] = ()  # copies this account may hand to transports


def limits(account: dict, settings: Settings) -> Limits:
    def pick(name: str) -> int:
        value = account[name]
        return getattr(settings, name) if value is None else value

    return Limits(
        rate_rules=ratelimit.parse(account["rate_limits"] or settings.api_rate_limits),
        email_quota=pick("email_quota"),
        max_subscribers=pick("max_subscribers"),
        campaigns_per_hour=pick("campaigns_per_hour"),
        same_list_interval=pick("same_list_interval"),
        send_rules=_rules(account.get("send_rate") or settings.account_send_rate),
    )


def _rules(spec: str) -> tuple[ratelimit.Rule, ...]:
    return () if spec.strip().lower() == "off" else ratelimit.parse(spec)


def _check_overrides(overrides: dict) -> dict:
    clean = {k: v for k, v in overrides.items() if v is not None}
    for spec in ("rate_limits", "send_rate"):
        if spec in clean and not (spec == "send_rate" and clean[spec].strip().lower() == "off"):
            try:
                ratelimit.parse(clean[spec])
            except ValueError as exc:
                raise AccountError(str(exc)) from None
    for key, value in clean.items():
        if key not in ("rate_limits", "send_rate", "tariff_name", "currency", "price_per_email") and value < 0:
            raise AccountError(f"{key} must not be negative")
    if "price_per_email" in clean:
        try:
            clean["price_per_email"] = Decimal(str(clean["price_per_email"]))
        except InvalidOperation:
            raise AccountError("price per email must be a decimal number") from None
    if "currency" in clean:
        clean["currency"] = str(clean["currency"]).upper()
    return clean


def create(conn: Connection, name: str, *, client_id: str | None = None, client_secret: str | None = None,
           **overrides: object) -> dict:
    name = name.strip()
    if not name:
        raise AccountError("an account needs a name")
    if repository.by_name(conn, name):
        raise AccountError(f"an account named {name!r} exists already")
    client_id = client_id or secrets.token_hex(16)
    client_secret = client_secret or secrets.token_hex(16)
    if repository.by_client_id(conn, client_id):
        raise AccountError("that client_id is taken")
    account_id = repository.insert_account(conn, name=name, client_id=client_id,
                                           secret_hash=hash_secret(client_secret),
                                           **_check_overrides(overrides))
    return {"id": account_id, "client_id": client_id, "client_secret": client_secret}


def configure(conn: Connection, account_ref: str, **overrides: object) -> dict:
    account = find(conn, account_ref)
    repository.update_account(conn, account["id"], **_check_overrides(overrides))
    return describe(repository.get(conn, account["id"]))


def rotate_secret(conn: Connection, account_ref: str) -> dict:
    """A new secret; the old one stops working at once. Its tokens are the oauth area's to revoke
    (``oauth.service.rotate_secret`` does both)."""
    account = find(conn, account_ref)
    secret = secrets.token_hex(16)
    repository.update_account(conn, account["id"], secret_hash=hash_secret(secret))
    return {"id": account["id"], "client_id": account["client_id"], "client_secret": secret}


MIN_PASSWORD = 10


def set_ui_password(conn: Connection, account_ref: str, password: str) -> dict:
    """The password the account signs in to the admin UI with (besides its API credentials)."""
    if len(password) < MIN_PASSWORD or len(password) > 1000:
        raise AccountError(f"a UI password has {MIN_PASSWORD} to 1000 characters")
    account = find(conn, account_ref)
    repository.update_account(conn, account["id"], ui_password_hash=hash_secret(password))
    return {"id": account["id"], "name": account["name"], "ui_password": "set"}


def signing_in(conn: Connection, who: str, secret: str) -> dict | None:
    """The account ``who`` (its client_id or name) if ``secret`` is its client_secret or its UI
    password; None otherwise (one answer for every reason: nobody learns which accounts exist)."""
    account = repository.by_client_id(conn, who) or repository.by_name(conn, who) if who else None
    if account is None or not secret:
        hash_secret(secret or "-")  # the same work either way: no timing tells a missing account
        return None
    if verify_secret(secret, account["secret_hash"]) or (
            account["ui_password_hash"] and verify_secret(secret, account["ui_password_hash"])):
        return dict(account)
    return None


def find(conn: Connection, account_ref: str) -> dict:
    account = None
    if str(account_ref).isascii() and str(account_ref).isdigit():
        account = repository.get(conn, int(account_ref))
    account = account or repository.by_name(conn, str(account_ref)) or repository.by_client_id(conn, str(account_ref))
    if account is None:
        raise AccountError(f"no account {account_ref!r}")
    return dict(account)


def get(conn: Connection, account_id: int) -> dict | None:
    row = repository.get(conn, account_id)
    return dict(row) if row else None


def serialise(conn: Connection, account_id: int) -> None:
    """Make the account's concurrent transactions that call this take turns until commit: a rule
    that counts the account's rows before adding one (a campaign's caps) holds under concurrency."""
    repository.lock(conn, account_id)


def list_accounts(conn: Connection) -> list[dict]:
    return [describe(row) for row in repository.all_accounts(conn)]


def describe(row: dict) -> dict:
    keys = ("id", "name", "client_id", "rate_limits", "email_quota", "max_subscribers",
            "campaigns_per_hour", "same_list_interval", "send_rate", "tariff_name", "currency")
    out = {k: row[k] for k in keys}
    out["price_per_email"] = str(row["price_per_email"])
    out["created_at"] = row["created_at"].strftime("%Y-%m-%d %H:%M:%S")
    return out
