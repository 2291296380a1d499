"""Every query on webhooks, their events and their delivery log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, Text, bindparam, cast, delete, insert, select, update
from sqlalchemy.engine import RowMapping

from pulsebox.db.bulk import Bulk
from pulsebox.models import Webhook, WebhookAttempt, WebhookEvent

W = Webhook.__table__
E = WebhookEvent.__table__
A = WebhookAttempt.__table__

_INSERT_EVENTS = Bulk(insert(E).values(webhook_id=bindparam("webhook_id"), payload=bindparam("payload"),
                                        events=bindparam("events"), status=bindparam("status"),
                                        created_at=bindparam("created_at")))
KEEP_ATTEMPTS = 100  # log rows kept per webhook


def insert_webhooks(conn: Connection, rows: list[dict]) -> list[int]:
    return [conn.execute(insert(W).returning(W.c.id), r).scalar_one() for r in rows]


def of_account(conn: Connection, account_id: int) -> list[RowMapping]:
    return list(conn.execute(select(W).where(W.c.account_id == account_id).order_by(W.c.id)).mappings())


def get(conn: Connection, account_id: int, webhook_id: int) -> RowMapping | None:
    return conn.execute(select(W).where(W.c.account_id == account_id, W.c.id == webhook_id)).mappings().first()


def set_values(conn: Connection, account_id: int, webhook_id: int, **values: object) -> None:
    conn.execute(update(W).where(W.c.account_id == account_id, W.c.id == webhook_id).values(**values))


def remove(conn: Connection, account_id: int, webhook_id: int) -> None:
    conn.execute(delete(W).where(W.c.account_id == account_id, W.c.id == webhook_id))


# hot statements (every round of the mail pump asks _SUBSCRIBED; every post runs the rest), built once
_SUBSCRIBED = select(W.c.id).where(W.c.account_id == bindparam("account_id"), W.c.service == bindparam("service"),
                                   W.c.action == bindparam("action"))
# the stored JSON text as it is (a post joins the rows' arrays: no decoding and encoding again)
_PENDING = (select(E.c.id, cast(E.c.payload, Text).label("payload"), E.c.events, E.c.created_at)
            .where(E.c.webhook_id == bindparam("webhook_id"), E.c.status == "pending", E.c.id <= bindparam("upto"))
            .order_by(E.c.id).limit(bindparam("limit")))
_MARK_EVENTS = update(E).where(E.c.id.in_(bindparam("ids", expanding=True))).values(status=bindparam("status"))
_AFTER_POST = update(W).where(W.c.id == bindparam("webhook_id")).values(
    failures=bindparam("failures"), last_error=bindparam("last_error"), batch_end=bindparam("batch_end"),
    locked_until=bindparam("locked_until"), next_attempt_at=bindparam("next_attempt_at"))
_LOG_ATTEMPT = insert(A)
_TRIM_LOG = delete(A).where(A.c.webhook_id == bindparam("webhook_id"), A.c.id <= (
    select(A.c.id).where(A.c.webhook_id == bindparam("webhook_id")).order_by(A.c.id.desc())
    .offset(KEEP_ATTEMPTS).limit(1)).scalar_subquery())
_NO_END = 2**62


def subscribed(conn: Connection, account_id: int, service: str, action: str) -> list[int]:
    return list(conn.execute(_SUBSCRIBED, {"account_id": account_id, "service": service, "action": action}).scalars())


def insert_events(conn: Connection, rows: list[dict]) -> None:
    """A round of a campaign's copies writes hundreds at once: handed to the driver (``db.Bulk``)."""
    _INSERT_EVENTS(conn, rows)


# ---- delivery ----

def _due(now: datetime, limit: int):  # noqa: ANN202
    waiting = select(E.c.id).where(E.c.webhook_id == W.c.id, E.c.status == "pending").exists()
    return (select(W.c.id).where(W.c.next_attempt_at <= now, (W.c.locked_until.is_(None)) | (W.c.locked_until < now),
                                 waiting)
            .order_by(W.c.next_attempt_at, W.c.id).limit(limit))


def any_due(conn: Connection, now: datetime) -> bool:
    """Whether a round has a webhook to post (a read: no write transaction is opened for nothing)."""
    return conn.execute(_due(now, 1)).first() is not None


def claim(conn: Connection, now: datetime, lease_until: datetime, limit: int) -> list[RowMapping]:
    """Webhooks with events waiting, due and not leased to a worker: leased to this one (one
    worker at a time posts a webhook's events, so they arrive in order)."""
    ids = list(conn.execute(_due(now, limit).with_for_update(skip_locked=True)).scalars())
    if not ids:
        return []
    conn.execute(update(W).where(W.c.id.in_(ids)).values(locked_until=lease_until))
    return list(conn.execute(select(W).where(W.c.id.in_(ids)).order_by(W.c.id)).mappings())


def pending(conn: Connection, webhook_id: int, limit: int, upto: int | None) -> list[RowMapping]:
    """The oldest waiting rows of events (up to row ``upto``: a retried batch), as many as fit in
    ``limit`` events (always the first); ``payload`` is each row's JSON array as text, ``created_at``
    the first row's is the oldest waiting."""
    rows, total = [], 0
    found = conn.execute(_PENDING, {"webhook_id": webhook_id, "upto": _NO_END if upto is None else upto, "limit": limit})
    for row in found.mappings():
        if rows and total + row["events"] > limit:
            break
        rows.append(row)
        total += row["events"]
    return rows


def mark_events(conn: Connection, ids: Sequence[int], status: str) -> None:
    if ids:
        conn.execute(_MARK_EVENTS, {"ids": list(ids), "status": status})


def drop_older(conn: Connection, webhook_id: int, before: datetime) -> int:
    """Rows of events waiting since before ``before`` are dropped (asked only when the oldest is
    that old: a webhook with 100,000 events waiting must not read them all for every post)."""
    return conn.execute(update(E).where(E.c.webhook_id == webhook_id, E.c.status == "pending",
                                        E.c.created_at < before).values(status="dropped")).rowcount


def log_attempt(conn: Connection, values: dict) -> None:
    """One post in the webhook's log; the log is trimmed to its last ``KEEP_ATTEMPTS`` every tenth."""
    logged = conn.execute(_LOG_ATTEMPT, values).inserted_primary_key[0]
    if logged % 10 == 0:
        conn.execute(_TRIM_LOG, {"webhook_id": values["webhook_id"]})


def after_post(conn: Connection, webhook_id: int, *, failures: int, last_error: str | None, batch_end: int | None,
               locked_until: datetime | None, next_attempt_at: datetime) -> None:
    """The webhook's queue head after a post: its failures in a row, the batch to retry, lease, next time."""
    conn.execute(_AFTER_POST, {"webhook_id": webhook_id, "failures": failures, "last_error": last_error,
                               "batch_end": batch_end, "locked_until": locked_until,
                               "next_attempt_at": next_attempt_at})


def attempts(conn: Connection, webhook_id: int, limit: int) -> list[RowMapping]:
    return list(conn.execute(select(A).where(A.c.webhook_id == webhook_id).order_by(A.c.id.desc()).limit(limit))
                .mappings())


def prune_delivered(conn: Connection, before: datetime, limit: int) -> int:
    ids = list(conn.execute(select(E.c.id).where(E.c.status != "pending", E.c.created_at < before)
                            .order_by(E.c.id).limit(limit)).scalars())
    if ids:
        conn.execute(delete(E).where(E.c.id.in_(ids)))
    return len(ids)
