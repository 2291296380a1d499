"""Every query on web push: websites, variables, subscriptions, push tasks and their sends."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection, ScalarSelect, and_, bindparam, case, func, insert, or_, select, union_all, update
from sqlalchemy.engine import RowMapping

from pulsebox.db.bulk import Bulk
from pulsebox.db.insert import InsertNew
from pulsebox.models import PushPicture, PushSend, PushSubscription, PushTask, PushVariable, PushWebsite

W = PushWebsite.__table__
V = PushVariable.__table__
S = PushSubscription.__table__
T = PushTask.__table__
P = PushSend.__table__
PP = PushPicture.__table__

_INSERT_SENDS = Bulk(insert(P).values(task_id=bindparam("task_id"), subscription_id=bindparam("subscription_id"),
                                      status="queued", due_at=bindparam("due_at"), attempts=0))
_NEW_VARIABLE = InsertNew(V, ["website_id", "name"])
_NEW_SUBSCRIPTION = InsertNew(S, ["website_id", "endpoint"], returning=S.c.id)


# ---- websites ----

def insert_website(conn: Connection, values: dict) -> int:
    return conn.execute(insert(W).returning(W.c.id), values).scalar_one()


def websites(conn: Connection, account_id: int, limit: int, offset: int) -> list[RowMapping]:
    return list(conn.execute(select(W).where(W.c.account_id == account_id).order_by(W.c.id)
                             .limit(limit).offset(offset)).mappings())


def count_websites(conn: Connection, account_id: int) -> int:
    return conn.execute(select(func.count()).select_from(W).where(W.c.account_id == account_id)).scalar_one()


def website(conn: Connection, account_id: int, website_id: int) -> RowMapping | None:
    return conn.execute(select(W).where(W.c.account_id == account_id, W.c.id == website_id)).mappings().first()


def website_for_update(conn: Connection, account_id: int, website_id: int) -> RowMapping | None:
    """The website, its row locked until the transaction ends (one push task per interval: two
    requests at once must not both see the last task as old enough)."""
    return conn.execute(select(W).where(W.c.account_id == account_id, W.c.id == website_id).with_for_update()) \
        .mappings().first()


def website_by_appkey(conn: Connection, appkey: str) -> RowMapping | None:
    return conn.execute(select(W).where(W.c.appkey == appkey)).mappings().first()


def websites_by_id(conn: Connection, ids: Iterable[int]) -> dict[int, RowMapping]:
    return {w["id"]: w for w in conn.execute(select(W).where(W.c.id.in_(sorted(set(ids))))).mappings()}


def set_last_task(conn: Connection, website_id: int, at: datetime) -> None:
    conn.execute(update(W).where(W.c.id == website_id).values(last_task_at=at))


# ---- variables ----

def variables(conn: Connection, website_id: int) -> list[RowMapping]:
    return list(conn.execute(select(V).where(V.c.website_id == website_id).order_by(V.c.id)).mappings())


def add_variables(conn: Connection, website_id: int, named: dict[str, str]) -> None:
    """Variables the website's subscribers carry, with the type of the first value seen."""
    known = set(conn.execute(select(V.c.name).where(V.c.website_id == website_id)).scalars())
    for name, kind in named.items():
        if name not in known:
            conn.execute(_NEW_VARIABLE(conn), {"website_id": website_id, "name": name, "type": kind})


# ---- subscriptions ----

def subscription_by_endpoint(conn: Connection, website_id: int, endpoint: str) -> RowMapping | None:
    return conn.execute(select(S).where(S.c.website_id == website_id, S.c.endpoint == endpoint)).mappings().first()


def insert_subscription(conn: Connection, values: dict) -> int | None:
    """The new subscription's id; None when the endpoint is already there (two posts raced)."""
    return conn.execute(_NEW_SUBSCRIPTION(conn), values).scalar()


def update_subscription(conn: Connection, subscription_id: int, values: dict) -> None:
    conn.execute(update(S).where(S.c.id == subscription_id).values(**values))


def subscriptions(conn: Connection, website_id: int, limit: int, offset: int) -> list[RowMapping]:
    return list(conn.execute(select(S).where(S.c.website_id == website_id).order_by(S.c.id)
                             .limit(limit).offset(offset)).mappings())


def subscription_counts(conn: Connection, website_id: int, today: datetime) -> dict:
    row = conn.execute(select(
        func.count(),
        func.coalesce(func.sum(case((S.c.status == 1, 1), else_=0)), 0),
        func.coalesce(func.sum(case((S.c.status == 6, 1), else_=0)), 0),
        func.coalesce(func.sum(case((S.c.created_at >= today, 1), else_=0)), 0),
    ).where(S.c.website_id == website_id)).one()
    return {"total": row[0], "active": row[1], "unsubscribed": row[2], "today": row[3]}


def subscription_of_account(conn: Connection, account_id: int, subscription_id: int) -> RowMapping | None:
    return conn.execute(select(S).where(S.c.account_id == account_id, S.c.id == subscription_id)).mappings().first()


def set_subscription_status(conn: Connection, ids: Sequence[int], status: int, now: datetime) -> None:
    if ids:
        conn.execute(update(S).where(S.c.id.in_(list(ids))).values(status=status, updated_at=now))


def active_after(conn: Connection, website_id: int, after: int, limit: int) -> list[RowMapping]:
    return list(conn.execute(select(S.c.id, S.c.lang, S.c.browser, S.c.country_code, S.c.url, S.c.variables)
                             .where(S.c.website_id == website_id, S.c.status == 1, S.c.id > after)
                             .order_by(S.c.id).limit(limit)).mappings())


def count_active(conn: Connection, website_id: int) -> int:
    return conn.execute(select(func.count()).select_from(S)
                        .where(S.c.website_id == website_id, S.c.status == 1)).scalar_one()


# ---- push tasks ----

def insert_task(conn: Connection, values: dict) -> int:
    return conn.execute(insert(T).returning(T.c.id), values).scalar_one()


def insert_picture(conn: Connection, values: dict) -> int:
    return conn.execute(insert(PP).returning(PP.c.id), values).scalar_one()


def picture(conn: Connection, picture_id: int) -> RowMapping | None:
    return conn.execute(select(PP.c.content_type, PP.c.data).where(PP.c.id == picture_id)).mappings().first()


def tasks(conn: Connection, account_id: int, limit: int, offset: int, website_id: int | None,
          since: datetime | None, until: datetime | None) -> list[RowMapping]:
    query = select(T).where(T.c.account_id == account_id)
    if website_id is not None:
        query = query.where(T.c.website_id == website_id)
    if since is not None:
        query = query.where(T.c.send_date >= since)
    if until is not None:
        query = query.where(T.c.send_date <= until)
    return list(conn.execute(query.order_by(T.c.id.desc()).limit(limit).offset(offset)).mappings())


def task(conn: Connection, account_id: int, task_id: int) -> RowMapping | None:
    return conn.execute(select(T).where(T.c.account_id == account_id, T.c.id == task_id)).mappings().first()


def send_counts(conn: Connection, task_id: int) -> dict:
    row = conn.execute(select(
        func.coalesce(func.sum(case((P.c.status == "sent", 1), else_=0)), 0),
        func.count(P.c.delivered_at), func.count(P.c.clicked_at),
    ).where(P.c.task_id == task_id)).one()
    return {"send": row[0], "delivered": row[1], "redirect": row[2]}


def any_to_copy(conn: Connection, now: datetime) -> bool:
    return conn.execute(select(T.c.id).where(T.c.copied_all.is_(False), T.c.send_date <= now).limit(1)).first() \
        is not None


def lock_task_to_copy(conn: Connection, now: datetime) -> RowMapping | None:
    """The oldest due task with subscribers left to copy, its row locked (SKIP LOCKED on PostgreSQL:
    another worker takes the next one)."""
    return conn.execute(select(T).where(T.c.copied_all.is_(False), T.c.send_date <= now)
                        .order_by(T.c.send_date, T.c.id).limit(1).with_for_update(skip_locked=True)).mappings().first()


def set_task(conn: Connection, task_id: int, **values: object) -> None:
    conn.execute(update(T).where(T.c.id == task_id).values(**values))


def insert_sends(conn: Connection, rows: list[dict]) -> None:
    _INSERT_SENDS(conn, rows)


def finish_tasks(conn: Connection, ids: Iterable[int], now: datetime) -> int:
    """Of the tasks ``ids``, those copied whole whose every send is done (none queued or being sent)
    are marked sent."""
    waiting = select(P.c.id).where(P.c.task_id == T.c.id, P.c.status.in_(("queued", "sending"))).exists()
    return conn.execute(update(T).where(T.c.id.in_(sorted(set(ids))), T.c.copied_all.is_(True), T.c.status != 3,
                                        ~waiting).values(status=3, finished_at=now)).rowcount


# ---- sends (the push queue) ----

def any_due(conn: Connection, now: datetime) -> bool:
    return conn.execute(select(P.c.id).where(
        or_(and_(P.c.status == "queued", P.c.due_at <= now), and_(P.c.status == "sending", P.c.locked_until < now)))
        .limit(1)).first() is not None


def claim_due(conn: Connection, limit: int, now: datetime, lease_until: datetime) -> list[dict]:
    """Lease up to ``limit`` due sends (queued and due, or leased by a worker whose lease ran out),
    one index range per status, as the outbox claims its copies."""
    ranges = [select(P.c.id, P.c.due_at).where(P.c.status == "queued", P.c.due_at <= now),
              select(P.c.id, P.c.due_at).where(P.c.status == "sending", P.c.locked_until < now)]
    parts = [r.order_by(P.c.due_at, P.c.id).limit(limit).with_for_update(skip_locked=True).subquery() for r in ranges]
    merged = union_all(*(select(part.c.id, part.c.due_at) for part in parts)).subquery()
    due = select(merged.c.id).order_by(merged.c.due_at, merged.c.id).limit(limit)
    rows = conn.execute(update(P).where(P.c.id.in_(due.scalar_subquery()))
                        .values(status="sending", locked_until=lease_until, attempts=P.c.attempts + 1)
                        .returning(P.c.id, P.c.task_id, P.c.subscription_id, P.c.attempts))
    return sorted((dict(r) for r in rows.mappings()), key=lambda r: r["id"])


def tasks_by_id(conn: Connection, ids: Iterable[int]) -> dict[int, RowMapping]:
    return {t["id"]: t for t in conn.execute(select(T).where(T.c.id.in_(sorted(set(ids))))).mappings()}


def subscriptions_by_id(conn: Connection, ids: Iterable[int]) -> dict[int, RowMapping]:
    ids = sorted(set(ids))
    out: dict[int, RowMapping] = {}
    for i in range(0, len(ids), 500):
        for row in conn.execute(select(S.c.id, S.c.endpoint, S.c.p256dh, S.c.auth, S.c.status)
                                .where(S.c.id.in_(ids[i:i + 500]))).mappings():
            out[row["id"]] = row
    return out


_RECORD = Bulk(update(P).where(P.c.id == bindparam("b_id"), P.c.attempts == bindparam("b_attempts"),
                               P.c.status == "sending")
               .values(status=bindparam("b_status"), due_at=bindparam("b_due_at"), sent_at=bindparam("b_sent_at"),
                       error=bindparam("b_error"), attempts=bindparam("b_attempts_after"), locked_until=None))


def record_outcomes(conn: Connection, outcomes: Sequence[dict]) -> None:
    """Each: ``id``, ``attempts`` (of the claim it reports on), ``status``, ``due_at``, ``sent_at``,
    ``error``, ``attempts_after``. A send whose lease passed to another worker is left to it."""
    _RECORD(conn, [{f"b_{k}": v for k, v in o.items()} for o in outcomes])


def mark_send(conn: Connection, send_id: int, column: str, now: datetime) -> RowMapping | None:
    """The first delivery report or click of a send is recorded; the send (with its task) either way."""
    conn.execute(update(P).where(P.c.id == send_id, P.c[column].is_(None)).values(**{column: now}))
    return conn.execute(select(P.c.id, P.c.task_id, T.c.link, T.c.buttons).join(T, T.c.id == P.c.task_id)
                        .where(P.c.id == send_id)).mappings().first()


# ---- what the admin UI shows: bounded reads, each an index range (scoped by the account in the WHERE) ----

def _owned_website(account_id: int, website_id: int) -> ScalarSelect[int]:
    """The website's id if the account owns it, else NULL (so a row of another account's website matches
    nothing); one primary-key lookup, and the subscriptions' index is still walked by ``website_id``."""
    return select(W.c.id).where(W.c.id == website_id, W.c.account_id == account_id).scalar_subquery()


def count_by_status(conn: Connection, account_id: int, website_id: int, status: int, cap: int) -> int:
    """The website's subscriptions of ``status``, counted up to ``cap`` (the count stops there: its time
    is bounded however many there are)."""
    found = select(S.c.id).where(S.c.website_id == _owned_website(account_id, website_id), S.c.status == status) \
        .limit(cap).subquery()
    return conn.execute(select(func.count()).select_from(found)).scalar_one()


def subscriptions_before(conn: Connection, account_id: int, website_id: int, before: int, statuses: Sequence[int],
                         limit: int) -> list[RowMapping]:
    """Up to ``limit`` of the website's subscriptions of ``statuses`` with an id below ``before``, newest
    first: one index range per status, each read to ``limit`` at most (as ``claim_due`` merges its two)."""
    owned = _owned_website(account_id, website_id)
    parts = [select(S.c.id).where(S.c.website_id == owned, S.c.status == status, S.c.id < before)
             .order_by(S.c.id.desc()).limit(limit).subquery() for status in statuses]
    merged = union_all(*(select(part.c.id) for part in parts)).subquery()
    newest = select(merged.c.id).order_by(merged.c.id.desc()).limit(limit)
    return list(conn.execute(select(S).where(S.c.id.in_(newest.scalar_subquery()), S.c.account_id == account_id)
                             .order_by(S.c.id.desc())).mappings())


def variables_of(conn: Connection, account_id: int, website_id: int, limit: int) -> list[RowMapping]:
    return list(conn.execute(select(V).where(V.c.website_id == _owned_website(account_id, website_id))
                             .order_by(V.c.id).limit(limit)).mappings())


def tasks_before(conn: Connection, account_id: int, website_id: int | None, before: int,
                 limit: int) -> list[RowMapping]:
    """The account's push tasks (of one website, if given) with an id below ``before``, newest first."""
    query = select(T).where(T.c.account_id == account_id, T.c.id < before)
    if website_id is not None:
        query = query.where(T.c.website_id == website_id)
    return list(conn.execute(query.order_by(T.c.id.desc()).limit(limit)).mappings())


_FIGURES = (select(P.c.status, func.count(), func.count(P.c.delivered_at), func.count(P.c.clicked_at))
            .where(P.c.task_id == select(T.c.id).where(T.c.id == bindparam("task_id"),
                                                         T.c.account_id == bindparam("account_id")).scalar_subquery())
            .group_by(P.c.status))


def send_figures(conn: Connection, account_id: int, task_id: int) -> dict:
    """A task of the account: its sends by status, and how many were shown and clicked (one index range
    of its sends; a task of another account has none)."""
    figures = {"delivered": 0, "redirect": 0}
    for status, count, shown, clicked in conn.execute(_FIGURES, {"task_id": task_id, "account_id": account_id}):
        figures[status] = count
        figures["delivered"] += shown
        figures["redirect"] += clicked
    return figures
