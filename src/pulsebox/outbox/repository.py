"""Every query on the outbox: messages and their deliveries (the delivery queue), tracking events,
bounces and the unsubscribe list."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, case, delete, func, insert, or_, select, union_all, update
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


def _sent(query, since: datetime | None, until: datetime | None, sender: str | None):  # noqa: ANN001, ANN202
    """``query`` narrowed to messages made from ``since`` to ``until`` (each optional) from ``sender``."""
    if since is not None:
        query = query.where(M.c.created_at >= since)
    if until is not None:
        query = query.where(M.c.created_at <= until)
    if sender:
        query = query.where(M.c.sender_email == sender)
    return query


def list_deliveries(conn: Connection, account_id: int, *, kind: str, limit: int, offset: int,
                    since: datetime | None, until: datetime | None, sender: str | None,
                    recipient: str | None) -> list[RowMapping]:
    query = _sent(_listing(account_id).where(M.c.kind == kind), since, until, sender)
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


def copies_to_address(conn: Connection, account_id: int, email: str, kind: str | None,
                      limit: int) -> list[RowMapping]:
    """The account's newest copies to one address (of messages of ``kind`` when given), with their
    messages: the (account_id, email) index hands the address's copies, which are few."""
    query = _listing(account_id).add_columns(M.c.task_id).where(D.c.email == email)
    if kind is not None:
        query = query.where(M.c.kind == kind)
    return list(conn.execute(query.order_by(D.c.id.desc()).limit(limit)).mappings())


def bounces_of_copies(conn: Connection, account_id: int, delivery_ids: Sequence[int]) -> list[RowMapping]:
    """The bounces and complaints of these copies of the account, oldest first: read through the
    (delivery_id) index, the account checked on each copy (a condition on the bounce's own account drew
    SQLite to the account's every bounce)."""
    rows: list[RowMapping] = []
    for i in range(0, len(delivery_ids), _CHUNK):
        rows += conn.execute(select(B).join(D, D.c.id == B.c.delivery_id).where(
            B.c.delivery_id.in_(delivery_ids[i:i + _CHUNK]), D.c.account_id == account_id)
            .order_by(B.c.id)).mappings().all()
    return rows


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


def copies_by_day(conn: Connection, account_id: int, since: datetime,
                  statuses: Sequence[str]) -> list[tuple[str, str, int]]:
    """(day, status, copies) of the account's copies in ``statuses`` last changed since ``since``: a range
    of the (account, status, updated_at, sent_at) index a status, read from the index alone."""
    day = _day(func.coalesce(D.c.sent_at, D.c.updated_at))
    rows = conn.execute(select(day, D.c.status, func.count()).where(D.c.account_id == account_id,
                                                                    D.c.status.in_(list(statuses)),
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


# ---- the transactional log (the admin UI): messages newest first, a message's copies ----

_LOG_COLUMNS = (M.c.id, M.c.public_id, M.c.sender_email, M.c.sender_name, M.c.subject, M.c.size, M.c.created_at,
                M.c.track_opens, M.c.track_clicks)


def _window_end(account_id: int, before: int | None, floor: int | None, scan: int):  # noqa: ANN202
    """The lowest id of the log's window: the ``scan``-th of the account's messages below ``before`` (a
    bounded offset on the (account_id, id) index), none when fewer are left above ``floor``."""
    query = select(M.c.id).where(M.c.account_id == account_id)
    if before is not None:
        query = query.where(M.c.id < before)
    if floor is not None:
        query = query.where(M.c.id >= floor)
    return query.order_by(M.c.id.desc()).offset(scan - 1).limit(1)


def _recipient_window(account_id: int, before: int | None, floor: int | None, recipient: str,  # noqa: ANN202
                      scan: int):
    """The log's window for one recipient: the ids of at most ``scan`` messages with a copy to the address
    (its copies, from the (account_id, email) index), newest first."""
    query = select(D.c.message_id).where(D.c.account_id == account_id, D.c.email == recipient)
    if before is not None:
        query = query.where(D.c.message_id < before)
    if floor is not None:
        query = query.where(D.c.message_id >= floor)
    return query.order_by(D.c.message_id.desc()).limit(scan)


def _outcome(status: str, recipient: str | None):  # noqa: ANN202
    """A copy of the message (the recipient's, if named) with this outcome: a status, or opened/clicked."""
    copy = select(D.c.id).where(D.c.message_id == M.c.id)
    if recipient:
        copy = copy.where(D.c.email == recipient)
    if status == "opened":
        return copy.where(D.c.opens > 0).exists()
    if status == "clicked":
        return copy.where(D.c.clicks > 0).exists()
    return copy.where(D.c.status == status).exists()


def _log_filtered(account_id: int, kind: str, since: datetime | None, until: datetime | None,  # noqa: ANN202
                  sender: str | None, recipient: str | None, status: str | None, words: Sequence[str]):
    query = _sent(select(*_LOG_COLUMNS).where(M.c.account_id == account_id, M.c.kind == kind), since, until, sender)
    for word in words:
        query = query.where(func.lower(M.c.subject).contains(word.lower(), autoescape=True))
    if status:
        query = query.where(_outcome(status, recipient))
    return query


def log_page(conn: Connection, account_id: int, kind: str, *, before: int | None, floor: int | None,
             since: datetime | None, until: datetime | None, sender: str | None, recipient: str | None,
             status: str | None, words: Sequence[str], limit: int,
             scan: int) -> tuple[list[RowMapping], int | None]:
    """The account's messages of ``kind`` below ``before`` (from ``floor``) that pass the filters, newest
    first, at most ``limit``, looked for among ``scan`` messages at most (so a page costs the same however
    rare its matches): the account's next ``scan`` by id (an id range, read on an index), or the
    recipient's. With the id the next window starts below when this one was full (None: no more)."""
    query = _log_filtered(account_id, kind, since, until, sender, recipient, status, words)
    if recipient is None:
        end = conn.execute(_window_end(account_id, before, floor, scan)).scalar()
        if before is not None:
            query = query.where(M.c.id < before)
        if end is not None or floor is not None:
            query = query.where(M.c.id >= (end if end is not None else floor))
        return list(conn.execute(query.order_by(M.c.id.desc()).limit(limit)).mappings()), end
    ids = list(conn.execute(_recipient_window(account_id, before, floor, recipient, scan)).scalars())
    rows: list[RowMapping] = []
    for i in range(0, len(ids), _CHUNK):  # by primary key, a chunk of the window at a time, newest first
        chunk = query.where(M.c.id.in_(ids[i:i + _CHUNK])).order_by(M.c.id.desc()).limit(limit - len(rows))
        rows += conn.execute(chunk).mappings().all()
        if len(rows) >= limit:
            break
    return rows, ids[-1] if len(ids) == scan else None


def copies_by_status(conn: Connection, account_id: int, message_ids: Sequence[int]) -> list[RowMapping]:
    """(message_id, status, copies, the first recipient in address order) for each of these messages
    (of the account: scoped through the message, so the copies are read by their message's index)."""
    if not message_ids:
        return []
    query = (select(D.c.message_id, D.c.status, func.count().label("copies"), func.min(D.c.email).label("first"))
             .select_from(M.join(D, D.c.message_id == M.c.id))
             .where(M.c.account_id == account_id, M.c.id.in_(list(message_ids)))
             .group_by(D.c.message_id, D.c.status))
    return list(conn.execute(query).mappings())


_FIRST_FROM = (select(M.c.id, M.c.created_at).where(M.c.account_id == bindparam("b_account"),
                                                   M.c.id >= bindparam("b_id"))
               .order_by(M.c.id).limit(1))


def first_message_after(conn: Connection, account_id: int, when: datetime) -> int | None:
    """The id of the account's first message made after ``when`` (None: none), by bisecting ids:
    messages get ids in the order they are made, so a date becomes an id bound in ~log2(ids) index
    lookups (messages have no index by date, and the log must not walk them)."""
    top = conn.execute(select(func.max(M.c.id)).where(M.c.account_id == account_id)).scalar()
    lo, hi, found = 0, (top or 0) + 1, None
    while lo < hi:
        mid = (lo + hi) // 2
        row = conn.execute(_FIRST_FROM, {"b_account": account_id, "b_id": mid}).first()
        if row is None or row.id >= hi:  # no message in [mid, hi)
            hi = mid
        elif row.created_at > when:  # the answer is this one or an earlier one
            found, hi = row.id, mid
        else:
            lo = row.id + 1
    return found


def log_message(conn: Connection, account_id: int, kind: str, message_id: int) -> RowMapping | None:
    """One message of the account of ``kind``, with its visible recipients while they are kept
    (until every copy is sent; not the bodies, which may be megabytes)."""
    query = select(*_LOG_COLUMNS, M.c.content["to"].label("to"), M.c.content["cc"].label("cc")).where(
        M.c.id == message_id, M.c.account_id == account_id, M.c.kind == kind)
    return conn.execute(query).mappings().first()


def _of_message(account_id: int, message_id: int, *joined):  # noqa: ANN001, ANN202
    """The account's message ``message_id`` joined to its copies (and ``joined``: (table, on) pairs): read
    from the message by its key, then its copies by the (message_id) index, never the account's copies."""
    source = M.join(D, D.c.message_id == M.c.id)
    for table, on in joined:
        source = source.join(table, on)
    return lambda *columns: select(*columns).select_from(source).where(M.c.id == message_id,
                                                                      M.c.account_id == account_id)


def message_copies(conn: Connection, account_id: int, message_id: int, limit: int) -> list[RowMapping]:
    query = _of_message(account_id, message_id)(
        D.c.id, D.c.email, D.c.status, D.c.reason, D.c.attempts, D.c.next_attempt_at, D.c.smtp_answer_code,
        D.c.smtp_answer_subcode, D.c.smtp_answer_data, D.c.capture_key, D.c.size, D.c.sent_at, D.c.opens,
        D.c.clicks, D.c.updated_at)
    return list(conn.execute(query.order_by(D.c.id).limit(limit)).mappings())


def message_events(conn: Connection, account_id: int, message_id: int) -> list[RowMapping]:
    """Opens, clicks and unsubscribes of the message's copies, oldest first."""
    query = _of_message(account_id, message_id, (E, E.c.delivery_id == D.c.id))(E)
    return list(conn.execute(query.order_by(E.c.id)).mappings())


def message_bounces(conn: Connection, account_id: int, message_id: int) -> list[RowMapping]:
    """Bounces and complaints of the message's copies (the (delivery_id) index), oldest first."""
    query = _of_message(account_id, message_id, (B, B.c.delivery_id == D.c.id))(B)
    return list(conn.execute(query.order_by(B.c.id)).mappings())


def unsubscribes_before(conn: Connection, account_id: int, before: tuple[datetime, str] | None, limit: int,
                        email: str | None = None) -> list[RowMapping]:
    """The unsubscribe list newest first (by date, then address), after the page that ended at
    ``before`` (keyset on the (account_id, created_at) index, never an offset); or the one ``email``."""
    query = select(U).where(U.c.account_id == account_id)
    if email is not None:
        query = query.where(U.c.email == email)
    if before is not None:
        at, address = before
        query = query.where(U.c.created_at <= at, or_(U.c.created_at < at, U.c.email < address))
    return list(conn.execute(query.order_by(U.c.created_at.desc(), U.c.email.desc()).limit(limit)).mappings())
