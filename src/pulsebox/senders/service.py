"""Sender rules: one address once per account, an optional operator ban on free-mail domains
(errors 20/97), activation by a code mailed to the address (valid until used; a new one at most
every 15 minutes: error 1004). The code is stored only as its SHA-256."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import Connection

from pulsebox import addresses
from pulsebox.errors import ApiError
from pulsebox.models import utcnow
from pulsebox.outbox import service as outbox
from pulsebox.senders import repository

MAX_SENDERS = 100  # error 905 beyond this
RESEND_AFTER = timedelta(minutes=15)


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def list_senders(conn: Connection, account_id: int) -> list[dict]:
    return [dict(r) for r in repository.all_senders(conn, account_id)]


def add(conn: Connection, account_id: int, email: str, name: str, free_mail_domains: tuple[str, ...]) -> None:
    if addresses.domain(email) in free_mail_domains:
        raise ApiError(20)
    if repository.get(conn, account_id, email):
        raise ApiError(902)
    if repository.count(conn, account_id) >= MAX_SENDERS:
        raise ApiError(905)
    if repository.insert_sender(conn, account_id, email, name) is None:
        raise ApiError(902)  # added meanwhile by a concurrent request: the same answer as in turn


def _sender(conn: Connection, account_id: int, email: str, *, missing: int, lock: bool = False) -> dict:
    row = (repository.lock if lock else repository.get)(conn, account_id, email)
    if row is None:
        raise ApiError(missing)
    return dict(row)


def delete(conn: Connection, account_id: int, email: str) -> None:
    repository.delete_sender(conn, _sender(conn, account_id, email, missing=704)["id"])


def activation_text(name: str, email: str, code: str) -> str:
    return (f"Hello {name},\n\n"
            f"someone asked to send email from {email} through Pulsebox.\n"
            f"To confirm that this address is yours, use this code:\n\n"
            f"Activation code: {code}\n\n"
            f"If you did not ask for this, ignore this message.\n")


def request_code(conn: Connection, account_id: int, email: str, system_from: str) -> None:
    """Make a new activation code and queue the message that carries it to the sender (through
    the outbox, from ``system_from``: built, sent, retried and captured like any other mail)."""
    sender = _sender(conn, account_id, email, missing=1003, lock=True)
    if sender["active"]:
        raise ApiError(800, "This sender is already active")
    now = utcnow()
    if sender["code_sent_at"] and now - sender["code_sent_at"] < RESEND_AFTER:
        raise ApiError(1004)
    code = secrets.token_hex(16)
    repository.store_code(conn, sender["id"], _hash(code), now)
    outbox.queue_notice(conn, account_id, to=email, sender=system_from,
                        subject="Confirm your sender address", text=activation_text(sender["name"], email, code))


def activate(conn: Connection, account_id: int, email: str, code: str) -> None:
    sender = _sender(conn, account_id, email, missing=1003, lock=True)
    if sender["active"]:
        return
    if not sender["code_hash"]:
        raise ApiError(21)
    if not hmac.compare_digest(sender["code_hash"], _hash(code.strip())):
        raise ApiError(800, "Wrong activation code")
    repository.activate(conn, sender["id"])


def require_active(conn: Connection, account_id: int, email: str) -> dict:
    """The account's active sender with this address, or error 1003 / 800."""
    sender = _sender(conn, account_id, email, missing=1003)
    if not sender["active"]:
        raise ApiError(800, f"Sender {email} is not activated")
    return sender
