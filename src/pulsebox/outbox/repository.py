"""Every query on the outbox: messages and their deliveries (the delivery queue), tracking events,
bounces and the unsubscribe list."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, case, delete, func, insert, select, union_all, update
from sqlalchemy.engine import RowMapping

from pulsebox.db.bulk import Bulk
from pulsebox.db.insert import InsertNew
from pulsebox.models import Bounce, Delivery, OutboxMessage, SmtpUnsubscribe, TrackingEvent, utcnow

M = OutboxMessage.__table__
D = Delivery.__table__
E = TrackingEvent.__table__
U = SmtpUnsubscribe.__table__
B = Bounce.__table__

_CHUNK = 500  # IN lists stay below SQLite's parameter limit


# ---- accepting ----

_INSERT_MESSAGE = insert(M).returning(M.c.id)  # built once: .values() per call costs ~100 us
_INSERT_DELIVERY = insert(D)


def insert_message(conn: Connection, values: dict) -> int:
    return conn.execute(_INSERT_MESSAGE, values).scalar_one()


def insert_deliveries(conn: Connection, message_id: int, account_id: int, emails: Sequence[str],
                      now: datetime) -> None:
    rows = [{"message_id": message_id, "account_id": account_id, "email": e, "status": "queued",
             "next_attempt_at": now, "updated_at": now} for e in emails]
    conn.execute(_INSERT_DELIVERY, rows[0] if len(rows) == 1 else rows)  # one row: no executemany set-up


def insert_copies(conn: Connection, rows: Sequence[dict]) -> None:
    """Copies made in bulk (a campaign's batch): dicts with message_id, account_id, email,
    variables, status (queued or suppressed) and reason."""
    if rows:
        conn.execute(_INSERT_DELIVERY, list(rows))


def stop_copies(conn: Connection, message_id: int, reason: str) -> int:
    """Copies of the message still waiting (not the ones a worker is sending) become suppressed."""
    return conn.execute(update(D).where(D.c.message_id == message_id, D.c.status.in_(("queued", "deferred")))
                        .values(status="suppressed", reason=reason, updated_at=utcnow())).rowcount


def has_pending(conn: Connection, message_id: int) -> bool:
    return conn.execute(select(D.c.id).where(D.c.message_id == message_id,
                                            D.c.status.in_(("queued", "deferred", "sending"))).limit(1)).first() is not None


def has_sendable(conn: Connection, message_id: int) -> bool:
    return conn.execute(select(D.c.id).where(D.c.message_id == message_id, D.c.status != "suppressed")
                        .limit(1)).first() is not None


# ---- the delivery queue ----

def claim_due(conn: Connection, limit: int, lease_until: datetime) -> list[dict]:
    """Lease up to ``limit`` due deliveries (queued or deferred and due, or leased by a worker
    whose lease ran out): ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, one UPDATE on SQLite."""
    now = utcnow()
    # one index-ordered range per status, merged: a single query with an OR over them made the
    # database sort every due copy at each claim (100,000 rows a round in a big campaign)
    ranges = [select(D.c.id, D.c.next_attempt_at).where(D.c.status == status, D.c.next_attempt_at <= now)
              for status in ("queued", "deferred")]
    ranges.append(select(D.c.id, D.c.next_attempt_at).where(D.c.status == "sending", D.c.locked_until < now))
    parts = [r.order_by(D.c.next_attempt_at, D.c.id).limit(limit).with_for_update(skip_locked=True).subquery()
             for r in ranges]
    merged = union_all(*(select(part.c.id, part.c.next_attempt_at) for part in parts)).subquery()
    due = select(merged.c.id).order_by(merged.c.next_attempt_at, merged.c.id).limit(limit)
    rows = conn.execute(update(D).where(D.c.id.in_(due.scalar_subquery()))
                        .values(status="sending", locked_until=lease_until, attempts=D.c.attempts + 1)
                        .returning(D.c.id, D.c.message_id, D.c.account_id, D.c.email, D.c.attempts,
                                   D.c.variables))
    return sorted((dict(r) for r in rows.mappings()), key=lambda r: r["id"])


def messages(conn: Connection, ids: Iterable[int]) -> dict[int, dict]:
    ids = sorted(set(ids))
    out: dict[int, dict] = {}
    for i in range(0, len(ids), _CHUNK):
        for row in conn.execute(select(M).where(M.c.id.in_(ids[i:i + _CHUNK]))).mappings():
            out[row["id"]] = dict(row)
    return out


_RECORD: dict[tuple[str, ...], Bulk] = {}  # one statement per shape of outcome


def _record(columns: tuple[str, ...]) -> Bulk:
    bulk = _RECORD.get(columns)
    if bulk is None:
        values = {("attempts" if c == "attempts_after" else c): bindparam(f"b_{c}") for c in columns}
        bulk = _RECORD[columns] = Bulk(
            update(D).where(D.c.id == bindparam("b_id"), D.c.attempts == bindparam("b_attempts"),
                            D.c.status == "sending")
            .values(locked_until=None, updated_at=bindparam("b_now"), **values))
    return bulk


def record_outcomes(conn: Connection, outcomes: Sequence[dict]) -> None:
    """``outcomes``: dicts with ``id``, ``attempts`` (the claim they report on) and the new values
    of status, reason, next_attempt_at, smtp_answer_*, capture_key, sent_at, size (and
    ``attempts_after``: a copy handed back unsent). A worker whose lease
    lapsed (another claim raised ``attempts``) changes nothing. One executemany per shape of
    outcome (sent, deferred, ...): a round of 500 copies is a handful of statements."""
    shapes: dict[tuple[str, ...], list[dict]] = {}
    for outcome in outcomes:
        columns = tuple(sorted(k for k in outcome if k not in ("id", "attempts")))
        shapes.setdefault(columns, []).append(
            {"b_id": outcome["id"], "b_attempts": outcome["attempts"], **{f"b_{c}": outcome[c] for c in columns}})
    now = utcnow()
    for columns, rows in shapes.items():
        _record(columns)(conn, rows, b_now=now)


def status_of(conn: Connection, delivery_id: int, attempts: int) -> str | None:
    """The copy's status if ``attempts`` is still its latest claim, else None."""
    return conn.execute(select(D.c.status).where(D.c.id == delivery_id, D.c.attempts == attempts)).scalar()


def retire_content(conn: Connection, kept: dict[int, dict]) -> None:
    """Once no copy of a message waits to be sent, its bodies and attachments are not needed:
    ``kept`` maps message id -> the content to keep (what later events still read)."""
    ids = sorted(kept)
    if not ids:
        return
    # one probe per message (the (message_id) index, stopping at the first copy still waiting), not
    # every waiting copy of a campaign of a million read back each round
    waiting = select(D.c.id).where(D.c.message_id == M.c.id, D.c.status.in_(("queued", "deferred", "sending")))
    pending = set(conn.execute(select(M.c.id).where(M.c.id.in_(ids), waiting.exists())).scalars())
    rows = [{"b_id": i, "b_content": kept[i]} for i in ids if i not in pending]
    if rows:
        conn.execute(update(M).where(M.c.id == bindparam("b_id"))
                     .values(content=bindparam("b_content", type_=M.c.content.type)), rows)


def prune(conn: Connection, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` messages created before ``before`` whose copies are all done, with
    their copies and events (foreign keys cascade; bounces keep their row without the copy)."""
    old = (select(M.c.id).where(M.c.created_at < before)
           .where(~select(D.c.id).where(D.c.message_id == M.c.id,
                                        D.c.status.in_(("queued", "deferred", "sending"))).exists())
           .order_by(M.c.id).limit(limit))
    ids = list(conn.execute(old).scalars())
    if ids:
        conn.execute(delete(M).where(M.c.id.in_(ids)))
    return len(ids)


# ---- suppression ----

def unsubscribed(conn: Connection, account_id: int, emails: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(emails), _CHUNK):
        found.update(conn.execute(select(U.c.email).where(U.c.account_id == account_id,
                                                         U.c.email.in_(emails[i:i + _CHUNK]))).scalars())
    return found


# ---- reading ----

def _listing(account_id: int):  # noqa: ANN202
    return (select(D.c.id.label("delivery_id"), D.c.email.label("recipient"), D.c.status, D.c.reason,
                   D.c.smtp_answer_code, D.c.smtp_answer_subcode, D.c.smtp_answer_data, D.c.sent_at,
                   D.c.opens, D.c.clicks, D.c.updated_at, D.c.capture_key, D.c.size.label("copy_size"),
                   M.c.id.label("message_id"), M.c.public_id, M.c.sender_email, M.c.sender_name, M.c.subject,
                   M.c.size, M.c.created_at, M.c.kind)
            .select_from(D.join(M, M.c.id == D.c.message_id))
            .where(D.c.account_id == account_id))


def list_deliveries(conn: Connection, account_id: int, *, kind: str, limit: int, offset: int,
                    since: datetime | None, until: datetime | None, sender: str | None,
                    recipient: str | None) -> list[RowMapping]:
    query = _listing(account_id).where(M.c.kind == kind)
    if since is not None:
        query = query.where(M.c.created_at >= since)
    if until is not None:
        query = query.where(M.c.created_at <= until)
    if sender:
        query = query.where(M.c.sender_email == sender)
    if recipient:
        query = query.where(D.c.email == recipient)
    return list(conn.execute(query.order_by(D.c.id.desc()).limit(limit).offset(offset)).mappings())


def deliveries_of(conn: Connection, account_id: int, kind: str, public_id: str) -> list[RowMapping]:
    query = _listing(account_id).where(M.c.public_id == public_id, M.c.kind == kind).order_by(D.c.id)
    return list(conn.execute(query).mappings())


def delivery(conn: Connection, delivery_id: int) -> RowMapping | None:
    """One delivery with its message, by id alone: for signed public links and bounces, whose
    token (not a bearer) names the account."""
    query = (select(D, M.c.public_id, M.c.kind, M.c.content, M.c.sender_email, M.c.subject,
                    M.c.track_opens, M.c.track_clicks, M.c.task_id)
             .select_from(D.join(M, M.c.id == D.c.message_id)).where(D.c.id == delivery_id))
    return conn.execute(query).mappings().first()


def events(conn: Connection, delivery_ids: Sequence[int]) -> list[RowMapping]:
    return list(conn.execute(select(E).where(E.c.delivery_id.in_(delivery_ids)).order_by(E.c.id)).mappings())


# ---- a message's figures (a campaign's statistics) ----

def outcome_counts(conn: Connection, message_id: int) -> list[RowMapping]:
    """Copies by status, reason and enhanced answer code, with how many were opened and clicked."""
    opened = func.sum(case((D.c.opens > 0, 1), else_=0))
    clicked = func.sum(case((D.c.clicks > 0, 1), else_=0))
    query = (select(D.c.status, D.c.reason, D.c.smtp_answer_subcode, func.count().label("copies"),
                    opened.label("opened"), clicked.label("clicked"))
             .where(D.c.message_id == message_id)
             .group_by(D.c.status, D.c.reason, D.c.smtp_answer_subcode))
    return list(conn.execute(query).mappings())


def event_counts(conn: Connection, message_id: int, kind: str, column: str) -> list[tuple]:
    """(value of ``column``, events) for the message's events of ``kind`` (clicks by url, opens by country)."""
    by = E.c[column]
    query = (select(by, func.count()).select_from(E.join(D, D.c.id == E.c.delivery_id))
             .where(D.c.message_id == message_id, E.c.kind == kind).group_by(by).order_by(func.count().desc(), by))
    return [tuple(r) for r in conn.execute(query)]


def figures_by_address(conn: Connection, account_id: int, kind: str, emails: Sequence[str]) -> list[RowMapping]:
    """Per address: copies of messages of ``kind`` a server took, opened ones, clicked ones."""
    taken = func.sum(case((D.c.status.in_(("sent", "complained")), 1), else_=0))
    opened = func.sum(case((D.c.opens > 0, 1), else_=0))
    clicked = func.sum(case((D.c.clicks > 0, 1), else_=0))
    rows: list[RowMapping] = []
    for i in range(0, len(emails), _CHUNK):
        query = (select(D.c.email, taken.label("sent"), opened.label("opened"), clicked.label("clicked"))
                 .select_from(D.join(M, M.c.id == D.c.message_id))
                 .where(D.c.account_id == account_id, D.c.email.in_(emails[i:i + _CHUNK]), M.c.kind == kind)
                 .group_by(D.c.email))
        rows += conn.execute(query).mappings().all()
    return rows


def copy_to(conn: Connection, message_id: int, email: str) -> RowMapping | None:
    return conn.execute(select(D).where(D.c.message_id == message_id, D.c.email == email)
                        .order_by(D.c.id).limit(1)).mappings().first()


# ---- tracking ----

_ADD_EVENT = InsertNew(E, ["delivery_id", "kind", "link"], returning=E.c.link)
_COUNT_EVENT = {kind: update(D).where(D.c.id == bindparam("b_id")).values({column: column + 1})
                for kind, column in (("open", D.c.opens), ("click", D.c.clicks))}


def add_event(conn: Connection, values: dict) -> bool:
    """Record the event unless the copy has it already (one open, one unsubscribe, one click per
    ``link``: the unique index decides, also between concurrent transactions); the copy's open or
    click count follows the events. True if it was new."""
    if conn.execute(_ADD_EVENT(conn), values).first() is None:
        return False
    counter = _COUNT_EVENT.get(values["kind"])
    if counter is not None:
        conn.execute(counter, {"b_id": values["delivery_id"]})
    return True


# ---- status changes after sending ----

def set_status(conn: Connection, delivery_id: int, status: str, **values) -> None:  # noqa: ANN003
    conn.execute(update(D).where(D.c.id == delivery_id).values(status=status, updated_at=utcnow(), **values))


def add_bounce(conn: Connection, values: dict) -> None:
    conn.execute(insert(B).values(**values))


def bounces_since(conn: Connection, account_id: int, since: datetime, until: datetime | None,
                  limit: int, offset: int) -> list[RowMapping]:
    query = select(B).where(B.c.account_id == account_id, B.c.created_at >= since)
    if until is not None:
        query = query.where(B.c.created_at < until)
    return list(conn.execute(query.order_by(B.c.id).limit(limit).offset(offset)).mappings())


# ---- the SMTP unsubscribe list ----

_ADD_UNSUBSCRIBE = InsertNew(U, ["account_id", "email"], returning=U.c.email)


def add_unsubscribes(conn: Connection, account_id: int, entries: Sequence[tuple[str, str]]) -> int:
    """Insert new addresses; an address already listed (or being listed by a concurrent
    transaction: two one-click POSTs at once) keeps its first date and comment. Returns how many
    were new."""
    rows: dict[str, dict] = {}
    for email, comment in entries:
        rows.setdefault(email, {"account_id": account_id, "email": email, "comment": comment})
    if not rows:
        return 0
    values = list(rows.values())
    return len(conn.execute(_ADD_UNSUBSCRIBE(conn), values[0] if len(values) == 1 else values).all())


def remove_unsubscribes(conn: Connection, account_id: int, emails: Sequence[str]) -> int:
    removed = 0
    for i in range(0, len(emails), _CHUNK):
        removed += conn.execute(delete(U).where(U.c.account_id == account_id,
                                                U.c.email.in_(emails[i:i + _CHUNK]))).rowcount
    return removed


def list_unsubscribes(conn: Connection, account_id: int, since: datetime | None, until: datetime | None,
                      limit: int, offset: int) -> list[RowMapping]:
    query = select(U).where(U.c.account_id == account_id)
    if since is not None:
        query = query.where(U.c.created_at >= since)
    if until is not None:
        query = query.where(U.c.created_at < until)
    return list(conn.execute(query.order_by(U.c.created_at, U.c.email).limit(limit).offset(offset)).mappings())


# ---- an account's activity (the admin UI's dashboard) ----

def _day(column):  # noqa: ANN001, ANN202 - the calendar day (UTC) of a timestamp, on both backends
    return func.date(column)


def copies_by_day(conn: Connection, account_id: int, since: datetime) -> list[tuple[str, str, int]]:
    """(day, status, copies) of the account's copies last changed since ``since``."""
    day = _day(func.coalesce(D.c.sent_at, D.c.updated_at))
    rows = conn.execute(select(day, D.c.status, func.count()).where(D.c.account_id == account_id,
                                                                    D.c.updated_at >= since)
                        .group_by(day, D.c.status))
    return [(str(d)[:10], status, n) for d, status, n in rows]


def events_by_day(conn: Connection, account_id: int, since: datetime) -> list[tuple[str, str, int]]:
    """(day, open | click | unsubscribe, events)."""
    day = _day(E.c.created_at)
    rows = conn.execute(select(day, E.c.kind, func.count()).where(E.c.account_id == account_id,
                                                                  E.c.created_at >= since)
                        .group_by(day, E.c.kind))
    return [(str(d)[:10], kind, n) for d, kind, n in rows]


def bounces_by_day(conn: Connection, account_id: int, since: datetime) -> list[tuple[str, str, int]]:
    """(day, hard | soft | complaint, bounces)."""
    day = _day(B.c.created_at)
    rows = conn.execute(select(day, B.c.kind, func.count()).where(B.c.account_id == account_id,
                                                                  B.c.created_at >= since)
                        .group_by(day, B.c.kind))
    return [(str(d)[:10], kind, n) for d, kind, n in rows]


def waiting(conn: Connection, account_id: int) -> int:
    """The account's copies still to send (queued, deferred, being sent): its queue's depth."""
    return conn.execute(select(func.count()).select_from(D).where(
        D.c.account_id == account_id, D.c.status.in_(("queued", "deferred", "sending")))).scalar_one()
