"""Webhook rules: subscriptions (checked URLs, one row per action, one signing secret per create),
and :func:`emit`, which every area that causes an event calls in the transaction of the change.

Secrets are stored encrypted (``sealed``): the database alone does not let anyone sign events, and
they still can be shown to their owner.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection

from pulsebox import outbound, sealed
from pulsebox.config import Settings
from pulsebox.models import utcnow
from pulsebox.pump import wake_after_commit
from pulsebox.webhooks import repository
from pulsebox.webhooks.schemas import Create, invalid, not_found, row

BATCH = 100  # events to a POST at most (SendPulse's batch); events are stored in rows of at most this many
SEALED_AS = b"pulsebox webhook secrets"


def seal(settings: Settings, secret: str) -> str:
    return sealed.seal(settings.signing_key, SEALED_AS, secret)


def unseal(settings: Settings, secret: str) -> str:
    """The secret; "" when it was sealed under another PULSEBOX_SECRET_KEY (rotate it)."""
    return sealed.unseal(settings.signing_key, SEALED_AS, secret)


def new_secret() -> str:
    """Standard Webhooks' form: ``whsec_`` and base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def check_target(settings: Settings, url: str) -> str:
    """A URL webhooks may post to: http(s), and (unless the operator allows private targets) not
    resolving to loopback, private, link-local or metadata addresses. Checked again at every post."""
    try:
        outbound.check_url(url)
        outbound.resolve(url, allow_private=settings.webhooks_allow_private)
    except outbound.UnsafeTarget as refused:
        raise invalid(f"url: {refused}") from None
    return url


def _shown(settings: Settings, webhook: dict) -> dict:
    return row(webhook, unseal(settings, webhook["secret"]))


def create(conn: Connection, settings: Settings, account_id: int, request: Create) -> list[dict]:
    url = check_target(settings, request.url)
    secret = new_secret()
    sealed, now = seal(settings, secret), utcnow()
    ids = repository.insert_webhooks(conn, [
        {"account_id": account_id, "url": url, "action": action, "service": request.service, "secret": sealed,
         "created_at": now, "next_attempt_at": now, "failures": 0} for action in request.actions])
    return [row({"id": i, "account_id": account_id, "url": url, "action": a, "service": request.service,
                 "failures": 0}, secret) for i, a in zip(ids, request.actions, strict=True)]


def listing(conn: Connection, settings: Settings, account_id: int) -> list[dict]:
    return [_shown(settings, w) for w in repository.of_account(conn, account_id)]


def _own(conn: Connection, account_id: int, webhook_id: int) -> dict:
    found = repository.get(conn, account_id, webhook_id)
    if found is None:
        raise not_found()
    return dict(found)


def get(conn: Connection, settings: Settings, account_id: int, webhook_id: int) -> dict:
    return _shown(settings, _own(conn, account_id, webhook_id))


def update(conn: Connection, settings: Settings, account_id: int, webhook_id: int, url: str) -> None:
    _own(conn, account_id, webhook_id)
    repository.set_values(conn, account_id, webhook_id, url=check_target(settings, url))


def delete(conn: Connection, account_id: int, webhook_id: int) -> None:
    _own(conn, account_id, webhook_id)
    repository.remove(conn, account_id, webhook_id)


def rotate_secret(conn: Connection, settings: Settings, account_id: int, webhook_id: int) -> dict:
    webhook = _own(conn, account_id, webhook_id)
    secret = new_secret()
    repository.set_values(conn, account_id, webhook_id, secret=seal(settings, secret))
    return row(webhook, secret)


def log(conn: Connection, account_id: int, webhook_id: int, limit: int = 100) -> list[dict]:
    _own(conn, account_id, webhook_id)
    return [dict(a) for a in repository.attempts(conn, webhook_id, limit)]


def emit(conn: Connection, account_id: int, service: str, action: str, events: Iterable[dict]) -> None:
    """Queue ``events`` (each a complete event object: ``event``, ``timestamp``, ...) for every
    webhook of the account subscribed to ``action`` of ``service``, in the caller's transaction:
    committed with the change that caused them, or not at all. One indexed query when none is;
    ``events`` may be a generator, run only then (a million contacts loaded build no event)."""
    if isinstance(events, Sequence) and not events:
        return
    hooks = repository.subscribed(conn, account_id, service, action)
    if not hooks:
        return
    events = list(events)
    if events:
        now = utcnow()
        chunks = [events[i:i + BATCH] for i in range(0, len(events), BATCH)]
        repository.insert_events(conn, [{"webhook_id": h, "payload": chunk, "events": len(chunk), "status": "pending",
                                         "created_at": now} for h in hooks for chunk in chunks])
        wake_after_commit(conn)
