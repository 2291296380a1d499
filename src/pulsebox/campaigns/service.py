"""Campaign rules: creating, editing, cancelling, the copying of recipients into the outbox, and
the figures every statistic is read from. No HTTP, no commit.

A campaign moves through document 004's statuses: 26 draft (never sends), 0 scheduled (ours:
waits for ``send_date``), 13 while its recipients are copied into the outbox (sending starts with
the first batch), 2 once all are copied, 3 when no copy waits any more; 12 when the lists held no
deliverable address, 16 when cancelled; a test campaign is 4, then 8. Each recipient is one
outbox copy with the contact's variables, so every figure is a count over copies and their events.
"""

from __future__ import annotations

import html as html_text
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import Connection

from pulsebox import links
from pulsebox.accounts import service as accounts
from pulsebox.accounts.service import Limits
from pulsebox.addressbooks import service as books
from pulsebox.balance import service as balance
from pulsebox.blacklist import service as blacklist
from pulsebox.campaigns import repository
from pulsebox.campaigns.schemas import (CANCELLED, COPYING, DRAFT, EDITABLE, NEW, NO_ACTIVE_ADDRESSES, RUNNING,
                                        SENDING, SENT, STATUS, TEST, TEST_SENT, CampaignRequest, Edit)
from pulsebox.config import Settings
from pulsebox.delivery import markup
from pulsebox.delivery.message import Address, Mail
from pulsebox.errors import ApiError
from pulsebox.models import utcnow
from pulsebox.outbox import content, service as outbox
from pulsebox.pump import wake_after_commit
from pulsebox.senders import service as senders
from pulsebox.templates import service as templates
from pulsebox.webhooks import events as hook_events, service as webhooks

KIND = "campaign"  # the outbox messages of campaigns
BATCH = 2000  # recipients copied a transaction


# ---- creating ----

def _check_sender(conn: Connection, account_id: int, email: str, settings: Settings) -> None:
    if not settings.verify_senders:
        return
    try:
        senders.require_active(conn, account_id, email)
    except ApiError as error:
        if error.code == 1003:
            raise
        raise ApiError(704, f"Sender {email} is not activated: activate it first") from None


def _body(conn: Connection, account_id: int, body: str | None, template_id: str | None) -> str:
    if template_id is not None:
        try:
            return templates.get(conn, account_id, template_id)["body"]
        except ApiError:
            raise ApiError(721, f"Template {template_id[:64]!r} not found") from None
    assert body is not None
    return body


def _lists(conn: Connection, account_id: int, list_ids: list[int]) -> None:
    for book_id in list_ids:
        try:
            books.book(conn, account_id, book_id)
        except ApiError:
            raise ApiError(703) from None


def _check_caps(conn: Connection, account_id: int, list_ids: list[int], limits: Limits) -> None:
    """SendPulse's two creation caps, each a per-account setting: campaigns an hour (791) and a
    second campaign to the same list within an interval (711). Drafts and tests count for neither."""
    now = utcnow()
    hour, interval = timedelta(hours=1), timedelta(seconds=limits.same_list_interval)
    recent = repository.created_since(conn, account_id, now - max(hour, interval), (DRAFT, TEST, TEST_SENT))
    if sum(1 for r in recent if r["created_at"] >= now - hour) >= limits.campaigns_per_hour:
        raise ApiError(791, f"At most {limits.campaigns_per_hour} campaigns an hour")
    if interval and any(r["created_at"] >= now - interval and set(r["list_ids"]) & set(list_ids) for r in recent):
        raise ApiError(711, f"Wait {max(1, limits.same_list_interval // 60)} minutes before sending to the same "
                            "list again")


def create(conn: Connection, account: dict, limits: Limits, request: CampaignRequest, settings: Settings) -> dict:
    """Check everything a send needs before anything is stored; the new campaign's row. Nothing
    is copied or sent here: the worker copies the recipients (status 13) in batches."""
    account_id = account["id"]
    rule = books.segment_rule(conn, account_id, request.segment_id) if request.segment_id is not None else None
    list_ids = [rule.book_id] if rule is not None else request.list_ids  # a segment is of one list
    if rule is not None and request.list_ids and request.list_ids != list_ids:
        raise ApiError(800, "Invalid operation: a segment sends to its own list (list_id names another)")
    _check_sender(conn, account_id, request.sender_email, settings)
    body = _body(conn, account_id, request.body, request.template_id)
    _lists(conn, account_id, list_ids)
    outbox.check(_mail(request.sender_name, request.sender_email, request.subject, body, request.attachments))
    now = utcnow()
    if request.is_test:
        count, status = 1, TEST
    else:
        if not request.draft:
            accounts.serialise(conn, account_id)  # concurrent creations count each other
            _check_caps(conn, account_id, list_ids, limits)
        if not any(books.book(conn, account_id, i)["all_email_qty"] for i in list_ids):
            raise ApiError(211)
        count = (books.count_matching(conn, account_id, rule)[1] if rule is not None
                 else books.deliverable_count(conn, account_id, book_ids=list_ids))
        status = DRAFT if request.draft else NEW if request.send_date else COPYING
    cost = balance.campaign_cost(conn, account, limits, count)
    if not cost["result"] and status != DRAFT:
        raise ApiError(707)
    campaign_id = repository.insert_campaign(conn, {
        "account_id": account_id, "name": request.name, "status": status, "sender_name": request.sender_name,
        "sender_email": request.sender_email, "subject": request.subject, "body": body,
        "body_amp": request.body_amp, "template_id": request.template_id,
        "attachments": content.attachments_to_json(request.attachments),
        "list_ids": list_ids, "segment_id": request.segment_id,
        "send_date": request.send_date or (None if status == DRAFT else now), "is_test": request.is_test,
        "dynamic": request.dynamic, "track_opens": request.track_opens, "track_clicks": request.track_clicks,
        "utm_campaign": request.utm_campaign, "all_email_qty": count,
        "tariff_email_qty": cost["addressesDeltaFromTariff"], "paid_email_qty": cost["addressesDeltaFromBalance"],
        "overdraft_price": str(account["price_per_email"].normalize()), "currency": account["currency"],
        "cursor": "", "copied": 0, "created_at": now})
    if status in (COPYING, TEST):
        wake_after_commit(conn)
    return get(conn, account_id, campaign_id)


def _mail(sender_name: str, sender_email: str, subject: str, body: str, attachments: list,
          amp: str | None = None) -> Mail:
    """The campaign's message: no To (each copy goes to its own recipient, personalised)."""
    return Mail(sender=Address(sender_email, sender_name), to=[], subject=subject, html=body,
                attachments=list(attachments), amp=amp)


def _priced(row: dict) -> dict:
    """The row with ``company_price``: what the emails beyond the plan cost."""
    return {**row, "company_price": str((Decimal(row["overdraft_price"]) * row["paid_email_qty"]).normalize())}


def get(conn: Connection, account_id: int, campaign_id: int, *, lock: bool = False) -> dict:
    row = repository.get(conn, account_id, campaign_id, lock=lock)
    if row is None:
        raise ApiError(802)
    return _priced(dict(row))


def require_editable(row: dict) -> None:
    """``PATCH``'s rule: only a scheduled campaign or a draft can change (error 602)."""
    if row["status"] not in EDITABLE:
        raise ApiError(602, "Only a scheduled campaign or a draft can be edited")


def edit(conn: Connection, account_id: int, campaign_id: int, change: Edit, settings: Settings) -> None:
    """``PATCH``: a scheduled campaign or a draft only; a draft given a ``send_date`` is scheduled."""
    row = get(conn, account_id, campaign_id, lock=True)
    require_editable(row)
    values: dict = {}
    if change.sender_email is not None:
        _check_sender(conn, account_id, change.sender_email, settings)
        values |= {"sender_name": change.sender_name, "sender_email": change.sender_email}
    if change.name is not None:
        values["name"] = change.name
    if change.subject is not None:
        values["subject"] = change.subject
    if change.body is not None or change.template_id is not None:
        values["body"] = _body(conn, account_id, change.body, change.template_id)
        values["template_id"] = change.template_id
    if change.send_date is not None:
        values |= {"send_date": change.send_date, "status": NEW}
        wake_after_commit(conn)
    merged = {**row, **values}
    outbox.check(_mail(merged["sender_name"], merged["sender_email"], merged["subject"], merged["body"], []))
    if values:
        _update(conn, row, **values)


def _update(conn: Connection, row: dict, **values: object) -> None:
    """Change a campaign; a new status is also the webhooks' ``task_status_update`` (its first list
    is the event's ``book_id``)."""
    repository.update_campaign(conn, row["id"], **values)
    status = values.get("status")
    if status is not None and status != row["status"]:
        books_of = row.get("list_ids") or [None]
        webhooks.emit(conn, row["account_id"], "email", "task_status_update",
                      [hook_events.task_status(row["id"], books_of[0], status, STATUS.get(status, ""))])


def cancel(conn: Connection, account_id: int, campaign_id: int) -> None:
    """``DELETE``: a campaign not finished stops; copies not yet handed to a transport are not
    sent (recorded as suppressed, "campaign cancelled"); those in flight finish."""
    row = get(conn, account_id, campaign_id, lock=True)
    if row["status"] not in (*EDITABLE, *RUNNING):
        raise ApiError(602)
    _update(conn, row, status=CANCELLED, finished_at=utcnow())
    if row["message_id"] is not None:
        outbox.stop(conn, row["message_id"], "campaign cancelled")


def listing(conn: Connection, account_id: int, *, order: str, statuses: list[int], scheduled: bool, limit: int,
            offset: int) -> list[tuple[dict, dict]]:
    rows = repository.page(conn, account_id, order=order, statuses=statuses, scheduled=scheduled, limit=limit,
                           offset=offset)
    return [(_priced(dict(r)), short_figures(general(conn, dict(r)))) for r in rows]


def of_book(conn: Connection, account_id: int, book_id: int, limit: int, offset: int) -> list[dict]:
    books.book(conn, account_id, book_id)
    rows = [dict(r) for r in repository.all_of(conn, account_id) if book_id in (r["list_ids"] or [])]
    return rows[offset:offset + limit]


# ---- figures ----

# document 004, statistics.general: code -> explanation
GENERAL = [(0, "In queue"), (1, "Sent"), (2, "Delivered"), (3, "Opened"), (4, "Link redirected"),
           (5, "User unsubscribe"), (6, "Mail server answer :: No such email"),
           (7, "Temporary unavailable (will be sent later)"), (8, "Unavailable"),
           (9, "Mail server answer :: Rejected by server as spam"), (10, "Mail server answer :: Mailbox is full"),
           (11, "Mail server answer :: Marked as spam by user"), (12, "Delivery failure"), (13, "Not sent"),
           (14, "Not such domain"), (15, "Unsubscribe from newsletter"), (16, "Not valid email"),
           (17, "Temporary blocked"), (18, "Disable by administrator"), (20, "Already unsubscribed")]
EXPLAIN = dict(GENERAL)

# why a recipient was not copied as a queued copy (the outbox's "suppressed" reason) -> code
SUPPRESSED = {"blacklisted": 18, "unsubscribed": 20, "unsubscribed from the list": 15, "sending error": 8,
              "not active": 13, "campaign cancelled": 13}


def _bounce_code(enhanced: str) -> int:
    """RFC 3463 enhanced status -> the document's per-email code."""
    if enhanced in ("5.1.1", "5.1.6"):
        return 6
    if enhanced in ("5.1.2", "5.1.10", "5.4.4"):
        return 14
    if enhanced == "5.1.3":
        return 16
    if enhanced == "5.2.2":
        return 10
    if enhanced.startswith("5.7."):
        return 9
    return 12


def copy_code(status: str, reason: str | None, enhanced: str | None) -> int:
    """The document's code for one copy's outcome (what ``global_status`` answers)."""
    if status in ("queued", "sending"):
        return 0
    if status == "sent":
        return 1
    if status == "complained":
        return 11
    if status == "deferred":
        return 17 if (enhanced or "").startswith("4.7.") else 7
    if status == "failed":
        return 8
    if status == "bounced":
        code = reason[len("bounce "):] if reason and reason.startswith("bounce ") else (enhanced or "")
        return _bounce_code(code)
    return SUPPRESSED.get(reason or "", 13)


def general(conn: Connection, row: dict) -> list[dict]:
    """``statistics.general``: every code of document 004 with its count. A copy counts under its
    outcome's code, and also as sent (1) and delivered (2) if a server took it (a complaint later
    included), opened (3) and redirected (4) if it was."""
    counts = dict.fromkeys(EXPLAIN, 0)
    if row["message_id"] is not None:
        for c in outbox.outcome_counts(conn, row["message_id"]):
            counts[copy_code(c["status"], c["reason"], c["smtp_answer_subcode"])] += c["copies"]
            if c["status"] == "complained":
                counts[1] += c["copies"]
            if c["status"] in ("sent", "complained"):
                counts[2] += c["copies"]
            counts[3] += c["opened"]
            counts[4] += c["clicked"]
        counts[5] = outbox.unsubscribes_from(conn, row["message_id"])
    return [{"code": code, "count": counts[code], "explain": text} for code, text in GENERAL]


def short_figures(general_rows: list[dict]) -> dict:
    """The list's ``statistics``: sent, delivered, opening, link_redirected, unsubscribe, error."""
    by = {g["code"]: g["count"] for g in general_rows}
    return {"sent": by[1], "delivered": by[2], "opening": by[3], "link_redirected": by[4], "unsubscribe": by[5],
            "error": sum(by[c] for c in (6, 8, 9, 10, 12, 14, 16))}


def clicks(conn: Connection, row: dict) -> list[dict]:
    if row["message_id"] is None:
        return []
    return [{"url": url, "count": n} for url, n in outbox.clicks_by_url(conn, row["message_id"])]


def countries(conn: Connection, account_id: int, campaign_id: int) -> dict[str, int]:
    row = get(conn, account_id, campaign_id)
    if row["message_id"] is None:
        return {}
    return {country or "unknown": n for country, n in outbox.opens_by_country(conn, row["message_id"])}


def email_status(conn: Connection, account_id: int, campaign_id: int, email: str) -> dict:
    row = get(conn, account_id, campaign_id)
    found = outbox.copy_to(conn, row["message_id"], email) if row["message_id"] is not None else None
    if found is None:
        raise ApiError(502)
    copy, events = found
    global_status = copy_code(copy["status"], copy["reason"], copy["smtp_answer_subcode"])
    kinds = {e["kind"] for e in events}
    detail = (5 if "unsubscribe" in kinds else 4 if "click" in kinds else 3 if "open" in kinds
              else 2 if copy["status"] in ("sent", "complained") else global_status)
    return {"sent_date": (copy["sent_at"] or copy["updated_at"]).strftime("%Y-%m-%d %H:%M:%S"),
            "global_status": global_status, "global_status_explain": EXPLAIN[global_status],
            "detail_status": detail, "detail_status_explain": EXPLAIN[detail]}


def address_figures(conn: Connection, account_id: int, emails: list[str]) -> dict[str, dict]:
    """Per address, over every campaign of the account: ``{sent, opened, clicked}``."""
    return outbox.figures_by_address(conn, account_id, KIND, emails)


def of_address(conn: Connection, account_id: int, email: str, limit: int = 100) -> list[dict]:
    """The account's campaigns sent to one address, newest first: each campaign's id and name, and
    the address's copy: its outcome (document 004's code and words), when, whether a server took
    it, whether it was opened and clicked."""
    copies = outbox.to_address(conn, account_id, email, kind=KIND, limit=limit)
    names = repository.names(conn, account_id, [c["task_id"] for c in copies if c["task_id"] is not None])
    out = []
    for c in copies:
        code = copy_code(c["status"], c["reason"], c["smtp_answer_subcode"])
        out.append({"id": c["task_id"], "name": names.get(c["task_id"]) or c["subject"], "code": code,
                    "explain": EXPLAIN[code], "when": c["sent_at"] or c["updated_at"],
                    "sent": c["status"] in ("sent", "complained"), "opened": c["opens"] > 0,
                    "clicked": c["clicks"] > 0})
    return out


def permalink(row: dict, settings: Settings) -> str:
    """The public web version of the campaign (signed: ids cannot be walked)."""
    return links.web_version_url(settings.public_url, settings.signing_key, row["id"])


def web_version(conn: Connection, campaign_id: int) -> str | None:
    """The html of a campaign named by a signed permalink (no account: the signature is the proof)."""
    row = repository.by_id(conn, campaign_id)
    return row["body"] if row is not None and row["status"] != DRAFT else None


# ---- the admin UI: a page of campaigns, figures over time, the recipients behind each figure ----

COPY_STATUSES = ("queued", "sending", "deferred", "sent", "bounced", "failed", "suppressed", "complained")
WAITING = ("queued", "sending", "deferred")
HOURS = 48  # after sending starts, opens and clicks are shown an hour at a time for this long...
DAYS = 60  # ...then a day at a time for this many days; whatever comes later is one last bar
# the copy statuses a per-email code of statistics.general is found in (``copy_code`` and ``general``)
CODE_STATUSES = {0: ("queued", "sending"), 1: ("sent", "complained"), 2: ("sent", "complained"),
                 6: ("bounced",), 7: ("deferred",), 8: ("failed", "suppressed"), 9: ("bounced",), 10: ("bounced",),
                 11: ("complained",), 12: ("bounced",), 13: ("suppressed",), 14: ("bounced",), 15: ("suppressed",),
                 16: ("bounced",), 17: ("deferred",), 18: ("suppressed",), 20: ("suppressed",)}
EVERY_COPY = (0, 1, 2, 11)  # codes every copy of their statuses counts under
CODE_EVENTS = {3: "open", 4: "click", 5: "unsubscribe"}  # codes counted from the copies' events
SCAN = 5000  # copies read at most for one page of a code only some copies of its statuses have


def newest(conn: Connection, account_id: int, before: int, limit: int) -> list[dict]:
    """A page of the account's campaigns before id ``before``, newest first, each with its progress:
    copies done (no longer waiting) of those planned. Only a campaign under way counts its waiting
    copies (on the (message, status) index), so the page never walks a finished campaign's copies."""
    out = []
    for r in repository.newest(conn, account_id, before, limit):
        row = dict(r)
        planned = max(row["all_email_qty"] or 0, row["copied"] or 0)
        if row["status"] in RUNNING:
            done = row["copied"] - repository.copies_waiting(conn, account_id, row["id"], WAITING)
        else:
            done = row["copied"] if row["status"] not in EDITABLE else 0
        percent = 100 if row["status"] in (SENT, TEST_SENT) else round(100 * done / planned) if planned else 0
        out.append({**row, "status_text": STATUS.get(row["status"], str(row["status"])), "done": max(0, done),
                    "planned": planned, "percent": min(100, percent)})
    return out


def _span(conn: Connection, account_id: int, row: dict) -> repository.Span | None:
    """The span of the campaign's copy ids (None: it has none)."""
    if row["message_id"] is None:
        return None
    return repository.copy_span(conn, account_id, row["message_id"], COPY_STATUSES, row["copied"])


def report_figures(conn: Connection, account_id: int, row: dict) -> dict:
    """Opens and clicks over time (an hour at a time for the ``HOURS`` after sending started, then a day
    at a time up to today), clicks per link and opens by country: one pass over the campaign's events,
    grouped by the database (a row per hour, link and country comes back, not a row per event)."""
    figures: dict = {"hours": [], "days": [], "clicks": [], "countries": [], "hour_peak": 1, "day_peak": 1}
    span = _span(conn, account_id, row)
    if span is None:
        return figures
    start = (row["send_date"] or row["created_at"]).replace(minute=0, second=0, microsecond=0)
    hours = [_bar(start + timedelta(hours=i), timedelta(hours=1)) for i in range(HOURS)]
    days: list[dict] = []
    clicks: Counter = Counter()
    countries: Counter = Counter()
    elapsed = (utcnow() - start - timedelta(hours=HOURS)) // timedelta(days=1)
    if elapsed >= 0:  # every day up to today has its bar, the quiet ones too
        _day(days, start, min(DAYS - 1, elapsed))
    indexes: dict[str, int] = {}  # an hour comes back once per link and country: parsed once
    for kind, hour, url, country, n in repository.event_figures(conn, account_id, row["message_id"], span,
                                                                ("open", "click")):
        if kind == "click":
            clicks[url or ""] += n
        else:
            countries[country or "unknown"] += n
        index = indexes.get(hour)
        if index is None:  # 'YYYY-MM-DD HH' (fromisoformat: a tenth of strptime's time)
            index = indexes[hour] = max(0, (datetime.fromisoformat(f"{hour}:00") - start) // timedelta(hours=1))
        bar = hours[index] if index < HOURS else _day(days, start, min(DAYS, (index - HOURS) // 24))
        bar["opened" if kind == "open" else "clicked"] += n
    return figures | {
        "hours": hours, "days": days, "hour_peak": _peak(hours), "day_peak": _peak(days),
        "clicks": [{"url": u, "count": n} for u, n in sorted(clicks.items(), key=lambda kv: (-kv[1], kv[0]))],
        "countries": sorted(countries.items(), key=lambda kv: (-kv[1], kv[0]))}


def _bar(start: datetime, length: timedelta, *, later: bool = False) -> dict:
    """One bar of a chart: from ``start`` for ``length`` (``later``: from ``start`` on)."""
    return {"start": start, "end": start + length, "later": later, "opened": 0, "clicked": 0}


def _day(days: list[dict], start: datetime, number: int) -> dict:
    """Day ``number`` after the first ``HOURS`` (``DAYS``: every later one), the days before it made too."""
    while len(days) <= number:
        days.append(_bar(start + timedelta(hours=HOURS + 24 * len(days)), timedelta(days=1), later=len(days) == DAYS))
    return days[number]


def _peak(bars: list[dict]) -> int:
    return max([1] + [max(b["opened"], b["clicked"]) for b in bars])


@dataclass(frozen=True)
class Figure:
    """The copies behind one figure of a report: a per-email ``code`` of statistics.general, or the
    copies that clicked ``url``, or whose open came from ``country`` ("" unknown)."""

    code: int | None = None
    url: str | None = None
    country: str | None = None


def recipients(conn: Connection, account_id: int, campaign_id: int, figure: Figure, after: int,
               limit: int = 50) -> tuple[list[dict], int | None]:
    """A page of the copies behind ``figure``, by copy id after ``after`` (keyset: the last page of a
    million copies costs what the first does), each with its outcome and when it was sent, first opened,
    clicked and unsubscribed; and the id the next page starts after (None: this is the last)."""
    row = get(conn, account_id, campaign_id)
    span = _span(conn, account_id, row)
    if span is None:
        return [], None
    if figure.code in CODE_STATUSES:
        copies, more = _copies_of_code(conn, account_id, row["message_id"], span, figure.code, after, limit)
    else:
        kind = "click" if figure.url is not None else "open" if figure.country is not None else CODE_EVENTS[figure.code]
        ids = repository.event_copies_after(conn, account_id, row["message_id"], span, kind, after, limit + 1,
                                            url=figure.url, country=figure.country)
        more = ids[limit - 1] if len(ids) > limit else None
        copies = [dict(c) for c in repository.copies_by_id(conn, account_id, row["message_id"], ids[:limit])]
    return _with_times(conn, account_id, copies), more


def _copies_of_code(conn: Connection, account_id: int, message_id: int, span: repository.Span, code: int,
                    after: int, limit: int) -> tuple[list[dict], int | None]:
    """The copies whose outcome counts under ``code``, read status by status in id order and merged.
    A code only some copies of its statuses have (a bounce's kind) is checked here with ``copy_code``,
    the function that counts them, reading at most ``SCAN`` copies a page: such a page may be short,
    and says where to read on."""
    every = code in EVERY_COPY
    size, found, read = (limit + 1 if every else 500), [], 0
    while True:
        batches = [repository.copies_after(conn, account_id, message_id, s, span, after, size)
                   for s in CODE_STATUSES[code]]
        full = [b[-1]["id"] for b in batches if len(b) == size]
        bound = min(full) if full else None  # past it, a status may hold copies not read yet
        merged = sorted((dict(c) for b in batches for c in b if bound is None or c["id"] <= bound),
                        key=lambda c: c["id"])
        for c in merged:
            if every or copy_code(c["status"], c["reason"], c["smtp_answer_subcode"]) == code:
                found.append(c)
                if len(found) > limit:
                    return found[:limit], found[limit - 1]["id"]
        read += len(merged)
        if bound is None:
            return found, None
        after = bound
        if read >= SCAN:
            return found, after


def _with_times(conn: Connection, account_id: int, copies: list[dict]) -> list[dict]:
    firsts: dict[int, dict] = {}
    for delivery_id, kind, when in repository.first_events(conn, account_id, [c["id"] for c in copies]):
        firsts.setdefault(delivery_id, {})[kind] = when
    out = []
    for c in copies:
        code, times = copy_code(c["status"], c["reason"], c["smtp_answer_subcode"]), firsts.get(c["id"], {})
        out.append({"id": c["id"], "email": c["email"], "code": code, "explain": EXPLAIN[code],
                    "sent_at": c["sent_at"], "updated_at": c["updated_at"], "opened_at": times.get("open"),
                    "clicked_at": times.get("click"), "unsubscribed_at": times.get("unsubscribe")})
    return out


# ---- what comes back ----

def unsubscribed(conn: Connection, delivery: dict) -> None:
    """A recipient unsubscribed through a campaign's copy: it leaves the campaign's lists."""
    if delivery.get("kind") != KIND:
        return
    row = repository.of_message(conn, delivery["message_id"])
    if row is not None:
        books.unsubscribe_everywhere_in(conn, row["account_id"], row["list_ids"], delivery["email"], task_id=row["id"])


# ---- copying recipients into the outbox (the worker's campaign pump) ----

def with_utm(body: str, utm_campaign: str) -> str:
    """Every http(s) link with ``utm_campaign`` added to its query (Google Analytics style)."""
    out, last = [], 0
    for start, end, url, quote in markup.links(body):
        parts = urlsplit(url)
        query = f"{parts.query}&" if parts.query else ""
        query += "utm_campaign=" + "".join(c if c.isalnum() or c in "-._~" else f"%{ord(c):02X}"
                                             for c in utm_campaign.encode().decode("latin-1"))
        value = html_text.escape(urlunsplit(parts._replace(query=query)), quote=True)
        out += [body[last:start], value if quote else f'"{value}"']
        last = end
    out.append(body[last:])
    return "".join(out)


def any_work(conn: Connection) -> bool:
    """Whether the campaign pump has anything to do this round (a read: no write transaction
    is opened for nothing)."""
    return repository.any_work(conn, utcnow(), COPYING, TEST, NEW, (SENDING, TEST))


def copy_batch(conn: Connection, settings: Settings, batch: int | None = None) -> int:
    """Copy the next batch of one due campaign's recipients into the outbox, in this transaction
    (which holds the campaign's row); how many recipients were handled (0: none was due)."""
    row = repository.claim_to_copy(conn, utcnow(), COPYING, TEST, NEW)
    if row is None:
        return 0
    row = dict(row)
    if row["status"] == NEW:
        _update(conn, row, status=COPYING)
        row["status"] = COPYING
    if row["message_id"] is None:
        body = with_utm(row["body"], row["utm_campaign"]) if row["utm_campaign"] else row["body"]
        attachments = content.attachments_from_json(row["attachments"])
        message_id, _ = outbox.store(conn, row["account_id"],
                                     _mail(row["sender_name"], row["sender_email"], row["subject"], body, attachments,
                                           row["body_amp"]),
                                     kind=KIND, track_opens=settings.tracking and row["track_opens"],
                                     track_clicks=settings.tracking and row["track_clicks"], task_id=row["id"])
        row["message_id"] = message_id
        repository.update_campaign(conn, row["id"], message_id=message_id)
    if row["status"] == TEST:
        outbox.add_copies(conn, row["message_id"], row["account_id"], [outbox.Copy(row["sender_email"], {})])
        repository.update_campaign(conn, row["id"], copied=1)
        return 1
    added_before = None if row["dynamic"] else row["created_at"]
    copy = _copy_list if row["segment_id"] is None else _copy_segment
    copied, queued, after = copy(conn, row, batch or BATCH, added_before)
    if queued:
        account = _account(conn, row["account_id"], settings)
        balance.charge_emails(conn, account[0], account[1], queued, note=f"campaign {row['id']}")
    values: dict = {"copied": row["copied"] + copied, "cursor": after or row["cursor"]}
    if after is None:  # every recipient is copied
        sent_any = queued or outbox.has_sendable(conn, row["message_id"])
        values["status"] = SENDING if sent_any else NO_ACTIVE_ADDRESSES
        if not sent_any:
            values["finished_at"] = utcnow()
    _update(conn, row, **values)
    return max(1, copied)


def _copy_list(conn: Connection, row: dict, size: int, added_before: datetime | None) -> tuple[int, int, str | None]:
    """The next batch of a list campaign, copied by the database alone (see
    ``repository.copy_recipients``); (copies, queued, the address to continue after or None)."""
    upto = repository.batch_end(conn, row["account_id"], row["list_ids"], row["cursor"], size, added_before)
    copied, queued = repository.copy_recipients(
        conn, message_id=row["message_id"], account_id=row["account_id"], book_ids=row["list_ids"],
        after=row["cursor"], upto=upto, added_before=added_before, now=utcnow(), deliverable=books.ACTIVE_STATUSES,
        reasons=NOT_SENT, other_reason=NOT_ACTIVE, blacklisted=BLACKLISTED)
    if queued:
        wake_after_commit(conn)
    return copied, queued, upto


def _copy_segment(conn: Connection, row: dict, size: int, added_before: datetime | None) -> tuple[int, int, str | None]:
    """The next batch of a segment campaign: its condition is matched here, on each contact's
    variables (``filters.py``), so the contacts pass through Python."""
    recipients, after = books.recipients(conn, row["account_id"], row["list_ids"], row["cursor"], size, added_before)
    rule = _segment(conn, row)  # contacts outside the segment are not the campaign's recipients
    recipients = [r for r in recipients if rule is not None and rule(r.variables)]
    banned = blacklist.listed(conn, row["account_id"], [r.email for r in recipients])
    copies = [outbox.Copy(r.email, r.variables, _not_sent(r, banned)) for r in recipients]
    outbox.add_copies(conn, row["message_id"], row["account_id"], copies)
    return len(copies), sum(1 for c in copies if c.suppressed is None), after


def _segment(conn: Connection, row: dict) -> books.SegmentRule | None:
    """The campaign's segment as it is now (a segment deleted since selects nobody)."""
    try:
        return books.segment_rule(conn, row["account_id"], row["segment_id"])
    except ApiError:
        return None


# why a contact of the list is copied but not sent (the copy's reason; statistics.general counts it)
BLACKLISTED, NOT_ACTIVE = "blacklisted", "not active"
NOT_SENT = {books.UNSUBSCRIBED: "unsubscribed from the list", books.UNSUBSCRIBED_EVERYWHERE: "unsubscribed",
            books.SENDING_ERROR: "sending error"}


def _not_sent(recipient: books.Recipient, banned: set[str]) -> str | None:
    if recipient.email in banned:
        return BLACKLISTED
    if books.deliverable(recipient.status):
        return None
    return NOT_SENT.get(recipient.status, NOT_ACTIVE)


def _account(conn: Connection, account_id: int, settings: Settings) -> tuple[dict, Limits]:
    account = accounts.get(conn, account_id)
    assert account is not None
    return account, accounts.limits(account, settings)


def finish(conn: Connection, limit: int = 100) -> int:
    """Campaigns whose every copy is done become Sent (3), tests Test sent (8); how many."""
    done = 0
    for r in repository.in_status(conn, (SENDING, TEST), limit):
        if r["message_id"] is not None and not outbox.has_pending(conn, r["message_id"]):
            _update(conn, r, status=SENT if r["status"] == SENDING else TEST_SENT, finished_at=utcnow())
            done += 1
    return done
