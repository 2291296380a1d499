"""Every query on campaigns."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, and_, case, func, insert, literal, or_, select, update
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.engine import RowMapping

from pulsebox.models import BlacklistEntry, Campaign, Contact, Delivery

C = Campaign.__table__
P = Contact.__table__  # the people on the lists
D = Delivery.__table__
BL = BlacklistEntry.__table__


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
