"""Every query on campaigns."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, and_, case, func, insert, literal, or_, select, union_all, update
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.engine import RowMapping

from pulsebox.models import BlacklistEntry, Campaign, Contact, Delivery, TrackingEvent

C = Campaign.__table__
P = Contact.__table__  # the people on the lists
D = Delivery.__table__
BL = BlacklistEntry.__table__
E = TrackingEvent.__table__


def insert_campaign(conn: Connection, values: dict) -> int:
    return conn.execute(insert(C).returning(C.c.id), values).scalar_one()


def get(conn: Connection, account_id: int, campaign_id: int, *, lock: bool = False) -> RowMapping | None:
    query = select(C).where(C.c.account_id == account_id, C.c.id == campaign_id)
    return conn.execute(query.with_for_update() if lock else query).mappings().first()


def page(conn: Connection, account_id: int, *, order: str, statuses: Sequence[int], scheduled: bool,
         limit: int, offset: int) -> list[RowMapping]:
    query = select(C).where(C.c.account_id == account_id)
    if statuses:
        query = query.where(C.c.status.in_(list(statuses)))
    if scheduled:
        query = query.where(C.c.status == 0, C.c.send_date.is_not(None))
    key = C.c.id.asc() if order == "asc" else C.c.id.desc()
    return list(conn.execute(query.order_by(key).limit(limit).offset(offset)).mappings())


def all_of(conn: Connection, account_id: int) -> list[RowMapping]:
    """Every campaign of the account, newest first (``list_ids`` is JSON: filtered by the caller)."""
    return list(conn.execute(select(C).where(C.c.account_id == account_id).order_by(C.c.id.desc())).mappings())


def names(conn: Connection, account_id: int, campaign_ids: Sequence[int]) -> dict[int, str]:
    """The account's campaigns' names (their subject when unnamed), by id."""
    ids = sorted(set(campaign_ids))
    if not ids:
        return {}
    rows = conn.execute(select(C.c.id, C.c.name, C.c.subject).where(C.c.account_id == account_id, C.c.id.in_(ids)))
    return {r.id: r.name or r.subject for r in rows}


def created_since(conn: Connection, account_id: int, since: datetime, statuses: Sequence[int]) -> list[RowMapping]:
    """The account's campaigns created since ``since`` that are not in ``statuses``."""
    return list(conn.execute(select(C.c.id, C.c.list_ids, C.c.created_at).where(
        C.c.account_id == account_id, C.c.created_at >= since, C.c.status.not_in(list(statuses)))).mappings())


def update_campaign(conn: Connection, campaign_id: int, **values: object) -> None:
    conn.execute(update(C).where(C.c.id == campaign_id).values(**values))


def _due(now: datetime, copying: int, test: int, scheduled: int):  # noqa: ANN202
    """Campaigns whose recipients are being copied, tests not copied yet, scheduled ones now due."""
    return or_(C.c.status == copying, and_(C.c.status == test, C.c.copied == 0),
               and_(C.c.status == scheduled, C.c.send_date <= now))


def claim_to_copy(conn: Connection, now: datetime, copying: int, test: int, scheduled: int) -> RowMapping | None:
    """One campaign to copy recipients of, locked until commit; ``SKIP LOCKED``: another worker's
    round takes another campaign, or waits a round."""
    query = (select(C).where(_due(now, copying, test, scheduled)).order_by(C.c.id).limit(1)
             .with_for_update(skip_locked=True))
    return conn.execute(query).mappings().first()


def in_status(conn: Connection, statuses: Sequence[int], limit: int) -> list[RowMapping]:
    return list(conn.execute(select(C.c.id, C.c.account_id, C.c.status, C.c.message_id, C.c.list_ids)
                             .where(C.c.status.in_(list(statuses))).order_by(C.c.id).limit(limit)).mappings())


def any_work(conn: Connection, now: datetime, copying: int, test: int, scheduled: int,
             sending: Sequence[int]) -> bool:
    """Whether a round has anything to do: copying, or sending campaigns to finish."""
    query = select(C.c.id).where(or_(_due(now, copying, test, scheduled), C.c.status.in_(list(sending)))).limit(1)
    return conn.execute(query).first() is not None


def by_id(conn: Connection, campaign_id: int) -> RowMapping | None:
    """By id alone: for a signed permalink, whose signature names the campaign."""
    return conn.execute(select(C).where(C.c.id == campaign_id)).mappings().first()


def of_message(conn: Connection, message_id: int) -> RowMapping | None:
    return conn.execute(select(C).where(C.c.message_id == message_id)).mappings().first()


def count(conn: Connection, account_id: int) -> int:
    return conn.execute(select(func.count()).select_from(C).where(C.c.account_id == account_id)).scalar_one()


# ---- copying recipients into the outbox ----

def _people(book_ids: Sequence[int], account_id: int, added_before: datetime | None):  # noqa: ANN202
    where = [P.c.account_id == account_id, P.c.book_id.in_(list(book_ids))]
    return where if added_before is None else [*where, P.c.added_at <= added_before]


def batch_end(conn: Connection, account_id: int, book_ids: Sequence[int], after: str, size: int,
              added_before: datetime | None) -> str | None:
    """The address that ends the next batch of ``size`` contacts after ``after`` (address order,
    keyset on the (book, email) index), or None when fewer are left: the batch runs to the end."""
    query = (select(P.c.email).where(*_people(book_ids, account_id, added_before), P.c.email > after)
             .order_by(P.c.email).limit(1).offset(size - 1))
    return conn.execute(query).scalar()


def copy_recipients(conn: Connection, *, message_id: int, account_id: int, book_ids: Sequence[int], after: str,
                    upto: str | None, added_before: datetime | None, now: datetime, deliverable: Sequence[int],
                    reasons: dict[int, str], other_reason: str, blacklisted: str) -> tuple[int, int]:
    """One batch of a list campaign's recipients (addresses after ``after``, up to ``upto``
    included) copied into the outbox in one INSERT ... SELECT: no contact passes through Python,
    which made a third of a sending worker's time. An address on several lists is copied once, with
    its best (lowest) status; one whose status is not ``deliverable`` or that is blacklisted is
    copied ``suppressed`` with its reason. (copies made, copies queued to be sent)."""
    where = [*_people(book_ids, account_id, added_before), P.c.email > after]
    if upto is not None:
        where.append(P.c.email <= upto)
    if len(book_ids) == 1:  # (book, email) is unique: nothing to merge
        people = select(P.c.email, P.c.variables, P.c.status).where(*where)
    elif conn.dialect.name == "postgresql":
        people = (select(P.c.email, P.c.variables, P.c.status).where(*where)
                  .ext(distinct_on(P.c.email)).order_by(P.c.email, P.c.status))
    else:  # SQLite: with min(), the bare columns come from the row that holds the minimum
        people = select(P.c.email, P.c.variables, func.min(P.c.status).label("status")).where(*where).group_by(P.c.email)
    people = people.subquery("people")
    listed = select(BL.c.email).where(BL.c.account_id == account_id, BL.c.email == people.c.email).exists()
    reason = case((listed, literal(blacklisted)), (people.c.status.in_(list(deliverable)), None),
                  *[(people.c.status == status, literal(text)) for status, text in reasons.items()],
                  else_=literal(other_reason))
    copies = select(people.c.email, people.c.variables, reason.label("reason")).subquery("copies")
    rows = select(literal(message_id), literal(account_id), copies.c.email, copies.c.variables,
                  case((copies.c.reason.is_(None), "queued"), else_="suppressed"), copies.c.reason,
                  literal(0), literal(0), literal(0), literal(now, D.c.next_attempt_at.type),
                  literal(now, D.c.updated_at.type))
    statement = insert(D).from_select(
        ["message_id", "account_id", "email", "variables", "status", "reason", "attempts", "opens", "clicks",
         "next_attempt_at", "updated_at"], rows).returning(D.c.status)
    statuses = conn.execute(statement).scalars().all()
    return len(statuses), statuses.count("queued")


# ---- a campaign's copies and events: the admin UI's report and the recipients behind each figure ----
# Copies are read a page at a time by copy id (keyset, never OFFSET) on the (message, status) index,
# whose entries SQLite keeps in row-id order within a status; events by the (delivery, kind, link)
# index over the span of the message's copy ids, so a page costs what it shows, not the campaign's size.

COPY_COLUMNS = (D.c.id, D.c.email, D.c.status, D.c.reason, D.c.smtp_answer_subcode, D.c.sent_at, D.c.updated_at,
                D.c.opens, D.c.clicks)


def newest(conn: Connection, account_id: int, before: int, limit: int) -> list[RowMapping]:
    """The account's campaigns before id ``before``, newest first (keyset on (account, id)); no bodies."""
    return list(conn.execute(select(C.c.id, C.c.name, C.c.subject, C.c.status, C.c.send_date, C.c.created_at,
                                    C.c.all_email_qty, C.c.copied, C.c.message_id)
                             .where(C.c.account_id == account_id, C.c.id < before)
                             .order_by(C.c.id.desc()).limit(limit)).mappings())


def copies_waiting(conn: Connection, account_id: int, campaign_id: int, statuses: Sequence[str]) -> int:
    """How many of the campaign's copies are in ``statuses``: counted on the (message, status) index
    alone (the account is checked on the campaign's row, not on every copy)."""
    message = select(C.c.message_id).where(C.c.id == campaign_id, C.c.account_id == account_id).scalar_subquery()
    return conn.execute(select(func.count()).select_from(D).where(D.c.message_id == message,
                                                                  D.c.status.in_(list(statuses)))).scalar_one()


class Span(NamedTuple):
    """The lowest and highest id of a message's copies; ``alone``: no other message's copy lies between."""

    low: int
    high: int
    alone: bool


def copy_span(conn: Connection, account_id: int, message_id: int, statuses: Sequence[str],
              copies: int) -> Span | None:
    """The span of the message's copies (of ``statuses``: every status there is), or None when it has none: a
    seek at each end of each status on the (message, status, id) index. ``copies``: how many the message has
    (the campaign's count): as many ids as copies in the span, and it holds no other message's."""
    ends = [select(agg(D.c.id).label("id")).where(D.c.message_id == message_id, D.c.status == status,
                                                  D.c.account_id == account_id)
            for status in statuses for agg in (func.min, func.max)]
    found = [i for i in conn.execute(union_all(*ends)).scalars() if i is not None]
    if not found:
        return None
    low, high = min(found), max(found)
    return Span(low, high, high - low + 1 == copies)


def copies_after(conn: Connection, account_id: int, message_id: int, status: str, span: Span,
                 after: int, limit: int) -> list[RowMapping]:
    """The message's copies in ``status`` after copy ``after``, by id: SQLite's index hands them in order;
    the span of the message's copy ids keeps PostgreSQL, which may walk its primary key instead, from
    starting at the account's first copy ever."""
    return list(conn.execute(select(*COPY_COLUMNS).where(
        D.c.message_id == message_id, D.c.status == status, D.c.id > max(after, span.low - 1), D.c.id <= span.high,
        D.c.account_id == account_id).order_by(D.c.id).limit(limit)).mappings())


def copies_by_id(conn: Connection, account_id: int, message_id: int, ids: Sequence[int]) -> list[RowMapping]:
    """The message's copies of these ids, by primary key; whose message they are is checked here: with
    ``message_id = ?`` in the statement, PostgreSQL's generic plan read the message's 100,000 copies for
    50 of them (80 ms a page of recipients)."""
    if not ids:
        return []
    rows = conn.execute(select(*COPY_COLUMNS, D.c.message_id).where(D.c.id.in_(list(ids)), D.c.account_id == account_id)
                        .order_by(D.c.id)).mappings()
    return [row for row in rows if row["message_id"] == message_id]


def _events_in(conn: Connection, account_id: int, message_id: int, span: Span, low: int,  # noqa: ANN202
               kinds: Sequence[str]):
    """The message's events of ``kinds`` on copies from ``low`` to the span's end: a range of the (delivery,
    kind, link) index; when other messages' copies may lie in the span, each event's copy is checked by its
    primary key (PostgreSQL then read all the message's copies: 40 ms of a 100,000-copy report). SQLite is
    told not to start from the copies (``message_id + 0``): that would probe the events of every copy."""
    where = [E.c.delivery_id >= low, E.c.delivery_id <= span.high, E.c.kind.in_(list(kinds)),
             E.c.account_id == account_id]
    if span.alone:
        return E, where
    message = D.c.message_id + 0 if conn.dialect.name == "sqlite" else D.c.message_id
    return E.join(D, D.c.id == E.c.delivery_id), [*where, message == message_id]


def event_copies_after(conn: Connection, account_id: int, message_id: int, span: Span, kind: str,
                       after: int, limit: int, *, url: str | None = None, country: str | None = None) -> list[int]:
    """Ids of the message's copies with an event of ``kind`` (of that ``url`` or ``country``) after
    copy ``after``, in id order: the index's own order, so a page stops as soon as it is full."""
    joined, where = _events_in(conn, account_id, message_id, span, max(span.low, after + 1), [kind])
    if url is not None:
        where.append(E.c.url == url)
    if country is not None:
        where.append(E.c.country == country)
    query = (select(E.c.delivery_id).select_from(joined).where(*where).group_by(E.c.delivery_id)
             .order_by(E.c.delivery_id).limit(limit))
    return list(conn.execute(query).scalars())


def _hour(conn: Connection, column):  # noqa: ANN001, ANN202 - a timestamp's hour (UTC)
    if conn.dialect.name == "sqlite":
        return func.strftime("%Y-%m-%d %H", column)  # text: SQLite keeps times as text
    return func.date_trunc("hour", column)  # a third of to_char's time (30 ms of a 100,000-copy report)


def event_figures(conn: Connection, account_id: int, message_id: int, span: Span,
                  kinds: Sequence[str]) -> list[tuple[str, str, str | None, str, int]]:
    """(kind, hour 'YYYY-MM-DD HH', url, country, events) of the message's events of ``kinds``: opens
    and clicks over time, clicks per link and opens by country in one pass over the events."""
    joined, where = _events_in(conn, account_id, message_id, span, span.low, kinds)
    hour = _hour(conn, E.c.created_at)
    rows = conn.execute(select(E.c.kind, hour, E.c.url, E.c.country, func.count()).select_from(joined).where(*where)
                        .group_by(E.c.kind, hour, E.c.url, E.c.country))
    return [(kind, h if isinstance(h, str) else h.strftime("%Y-%m-%d %H"), url, country, n)
            for kind, h, url, country, n in rows]


def first_events(conn: Connection, account_id: int, delivery_ids: Sequence[int]) -> list[tuple[int, str, datetime]]:
    """(copy, kind, when first) of these copies' events (the (delivery, kind, link) index)."""
    if not delivery_ids:
        return []
    rows = conn.execute(select(E.c.delivery_id, E.c.kind, func.min(E.c.created_at))
                        .where(E.c.delivery_id.in_(list(delivery_ids)), E.c.account_id == account_id)
                        .group_by(E.c.delivery_id, E.c.kind))
    return [tuple(r) for r in rows]
