"""The outbox every message goes through: queueing, suppression, and what comes back.

Queueing stores the message and one queued delivery per recipient in the caller's transaction:
an answer sent after the commit means both are stored, and the worker's pump (``outbox/tasks.py``)
sends them. SMTP API mail (:func:`queue`) and system notices (:func:`queue_notice`: sender
activation, subscription confirmation, domain verification) take the same road, so they are
built, sent, retried, captured and bounced alike; campaigns, webhooks and push plug in here too.

What happens after sending (opens, clicks, unsubscribes, bounces, complaints) is recorded here,
whichever way it arrives: the tracking routes, the inbound listener, or a 5xx during delivery. Its
effect on the address in mailing lists belongs to ``addressbooks`` (above this area): callers
pass each :class:`Bounced` on to it.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.utils import parseaddr

from sqlalchemy import Connection

from pulsebox.blacklist import service as blacklist
from pulsebox.delivery import message as mime
from pulsebox.delivery.message import Address, Mail
from pulsebox.delivery.render import find_links
from pulsebox.errors import NOT_FOUND, ApiError
from pulsebox.models import utcnow
from pulsebox.outbox import content, repository
from pulsebox.pump import wake_after_commit
from pulsebox.webhooks import events as hook_events, service as webhooks

SMTP = "smtp"  # kinds of message
NOTICE = "system"
BOUNCE_WINDOW = timedelta(hours=24)


# ---- queueing ----

def check(mail: Mail) -> None:
    """Whatever cannot become a message is refused when it is queued, not in the worker (a
    message with no To is checked as one copy of it would be)."""
    try:
        mime.check(mail if mail.to else replace(mail, to=[Address("recipient@example.com")]))
    except mime.HeaderInjection:
        raise ApiError(800, "Header values (names, subject, headers) must not contain line breaks") from None
    except (ValueError, UnicodeError) as exc:
        raise ApiError(800, f"The message cannot be built: {exc}") from None


def store(conn: Connection, account_id: int, mail: Mail, *, kind: str, track_opens: bool = False,
          track_clicks: bool = False, list_unsubscribe: bool = True, task_id: int | None = None) -> tuple[int, str]:
    """Store ``mail`` with no copies yet; (message id, public id). A message with no To (a
    campaign's) goes to each copy's own address, personalised with the copy's variables;
    ``task_id`` is its campaign (webhook events name it)."""
    check(mail)
    public_id = secrets.token_hex(16)
    message_id = repository.insert_message(conn, {
        "public_id": public_id, "account_id": account_id, "kind": kind,
        "sender_email": mail.sender.email, "sender_name": mail.sender.name, "subject": mail.subject,
        "content": content.encode(mail, links=find_links(mail.html) if mail.html else [],
                                  list_unsubscribe=list_unsubscribe),
        "size": content.size(mail), "track_opens": track_opens, "track_clicks": track_clicks, "created_at": utcnow(),
        "task_id": task_id,
    })
    return message_id, public_id


def queue(conn: Connection, account_id: int, mail: Mail, *, kind: str, track_opens: bool = False,
          track_clicks: bool = False, list_unsubscribe: bool = True) -> str:
    """Store ``mail`` and a queued copy for each of its recipients (each address once: every copy
    has its own links and return path); its public id. The worker wakes after the commit."""
    message_id, public_id = store(conn, account_id, mail, kind=kind, track_opens=track_opens,
                                  track_clicks=track_clicks, list_unsubscribe=list_unsubscribe)
    repository.insert_deliveries(conn, message_id, account_id, list(dict.fromkeys(mail.recipients())), utcnow())
    wake_after_commit(conn)
    return public_id


@dataclass(frozen=True)
class Copy:
    """One recipient's copy to add to a stored message: its own placeholder values, or the reason
    it is not sent (recorded as ``suppressed``, so every recipient is counted somewhere)."""

    email: str
    variables: dict
    suppressed: str | None = None


def add_copies(conn: Connection, message_id: int, account_id: int, copies: Sequence[Copy]) -> None:
    now = utcnow()
    repository.insert_copies(conn, [
        {"message_id": message_id, "account_id": account_id, "email": c.email, "variables": c.variables,
         "status": "suppressed" if c.suppressed else "queued", "reason": c.suppressed,
         "next_attempt_at": now, "updated_at": now} for c in copies])
    if any(c.suppressed is None for c in copies):
        wake_after_commit(conn)


def stop(conn: Connection, message_id: int, reason: str) -> int:
    """The message's copies still waiting are not sent (``reason`` recorded); those a worker is
    sending right now finish. How many were stopped."""
    return repository.stop_copies(conn, message_id, reason)


def has_pending(conn: Connection, message_id: int) -> bool:
    """Whether a copy of the message still waits to be sent (or is being sent)."""
    return repository.has_pending(conn, message_id)


def has_sendable(conn: Connection, message_id: int) -> bool:
    """Whether any copy of the message was queued to be sent (not all suppressed)."""
    return repository.has_sendable(conn, message_id)


def queue_notice(conn: Connection, account_id: int, *, to: str, subject: str, text: str,
                 html: str | None = None, sender: str, to_name: str = "") -> str:
    """Queue a system notice to one address (no tracking, no List-Unsubscribe; its content is
    erased once sent, since it may carry a code or a signed link). ``sender`` may be ``Name <addr>``."""
    name, address = parseaddr(sender)
    mail = Mail(sender=Address(address or sender, name), to=[Address(to, to_name)], subject=subject,
                text=text, html=html)
    return queue(conn, account_id, mail, kind=NOTICE, list_unsubscribe=False)


def kept_after_sending(message: dict) -> dict:
    """What a message keeps once every copy is sent: a notice nothing (it carried a code or a
    signed link), other mail its links."""
    return content.after_sending(message["content"] or {}, keep_links=message["kind"] != NOTICE)


# ---- reading copies (GET /smtp/emails, /smtp/emails/{id}) ----

def _events_by_delivery(conn: Connection, rows: Sequence) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {r["delivery_id"]: [] for r in rows}
    if out:
        for event in repository.events(conn, list(out)):
            out[event["delivery_id"]].append(dict(event))
    return out


def copies(conn: Connection, account_id: int, kind: str, **filters) -> list[tuple[dict, list[dict]]]:  # noqa: ANN003
    """A page of the account's copies of ``kind``, newest first, each with its events."""
    rows = repository.list_deliveries(conn, account_id, kind=kind, **filters)
    events = _events_by_delivery(conn, rows)
    return [(dict(r), events[r["delivery_id"]]) for r in rows]


def copies_of(conn: Connection, account_id: int, kind: str, public_id: str) -> list[tuple[dict, list[dict]]]:
    rows = repository.deliveries_of(conn, account_id, kind, public_id.strip().lower()[:32])
    if not rows:
        raise ApiError(NOT_FOUND, "Email not found")
    events = _events_by_delivery(conn, rows)
    return [(dict(r), events[r["delivery_id"]]) for r in rows]


# ---- a message's figures ----

def outcome_counts(conn: Connection, message_id: int) -> list[dict]:
    return [dict(r) for r in repository.outcome_counts(conn, message_id)]


def clicks_by_url(conn: Connection, message_id: int) -> list[tuple[str, int]]:
    return repository.event_counts(conn, message_id, "click", "url")


def opens_by_country(conn: Connection, message_id: int) -> list[tuple[str, int]]:
    return repository.event_counts(conn, message_id, "open", "country")


def unsubscribes_from(conn: Connection, message_id: int) -> int:
    return sum(n for _, n in repository.event_counts(conn, message_id, "unsubscribe", "kind"))


def figures_by_address(conn: Connection, account_id: int, kind: str, emails: list[str]) -> dict[str, dict]:
    """``{email: {sent, opened, clicked}}`` over the account's messages of ``kind``."""
    return {r["email"]: {"sent": int(r["sent"] or 0), "opened": int(r["opened"] or 0), "clicked": int(r["clicked"] or 0)}
            for r in repository.figures_by_address(conn, account_id, kind, emails)}


def copy_to(conn: Connection, message_id: int, email: str) -> tuple[dict, list[dict]] | None:
    """The copy of the message sent to ``email``, with its events, or None."""
    row = repository.copy_to(conn, message_id, email)
    if row is None:
        return None
    return dict(row), [dict(e) for e in repository.events(conn, [row["id"]])]


def to_address(conn: Connection, account_id: int, email: str, *, kind: str | None = None,
               limit: int = 100) -> list[dict]:
    """The newest ``limit`` copies sent to one address (of messages of ``kind`` when given), each with
    its message's subject, kind and campaign (``task_id``), its ``events`` (opens, clicks,
    unsubscribes) and its ``bounces`` (bounces and complaints): one address's history."""
    rows = [dict(r) for r in repository.copies_to_address(conn, account_id, email, kind, limit)]
    events = _events_by_delivery(conn, rows)  # the copies are the account's: their events are too
    bounced: dict[int, list[dict]] = {r["delivery_id"]: [] for r in rows}
    if bounced:
        for bounce in repository.bounces_of_copies(conn, account_id, list(bounced)):
            bounced[bounce["delivery_id"]].append(dict(bounce))
    return [{**r, "events": events[r["delivery_id"]], "bounces": bounced[r["delivery_id"]]} for r in rows]


# ---- suppression: checked by the pump for every copy, right before it is built ----

def suppressed(conn: Connection, claimed: Sequence[dict], kinds: dict[int, str]) -> dict[int, str]:
    """``{delivery id: reason}`` for the copies that must not be sent: blacklisted addresses
    (every kind of mail), and for SMTP mail the account's unsubscribe list."""
    by_account: dict[int, list[dict]] = {}
    for d in claimed:
        by_account.setdefault(d["account_id"], []).append(d)
    out: dict[int, str] = {}
    for account_id, items in by_account.items():
        emails = list({d["email"] for d in items})
        banned = blacklist.listed(conn, account_id, emails)
        unsubscribed = repository.unsubscribed(conn, account_id, emails)
        for d in items:
            if d["email"] in banned:
                out[d["id"]] = "blacklisted"
            elif d["email"] in unsubscribed and kinds.get(d["message_id"]) == SMTP:
                out[d["id"]] = "unsubscribed"
    return out


# ---- what comes back: events, unsubscribes, bounces ----

def delivery(conn: Connection, delivery_id: int) -> dict | None:
    """A copy with its message's tracking switches and links, by id alone (for signed public
    links and bounces, whose token names the copy)."""
    row = repository.delivery(conn, delivery_id)
    if row is None:
        return None
    found = dict(row)
    found["links"] = content.links(found.pop("content"))
    return found


def record_event(conn: Connection, delivery: dict, kind: str, *, url: str | None = None, link: int = 0,
                 ip: str = "", country: str = "", browser: str = "", os: str = "") -> bool:
    """Record an open, a click (``link``: which of the message's links, one event each) or an
    unsubscribe of the copy, unless it has that one already: the first is kept. True if new (and
    then the account's webhooks get it)."""
    new = repository.add_event(conn, {"account_id": delivery["account_id"], "delivery_id": delivery["id"],
                                      "kind": kind, "link": link, "url": url, "ip": ip[:45], "country": country[:64],
                                      "browser": browser[:120], "os": os[:120], "created_at": utcnow()})
    if new:
        _emit_event(conn, delivery, kind, url=url, link=link, client={"browser": browser, "os": os})
    return new


def _client(client: dict) -> dict:
    name, _, version = (client.get("browser") or "").rpartition(" ")
    platform = client.get("os") or ""
    mobile = any(m in platform for m in ("Android", "iOS", "iPadOS"))
    return {"browser": name or client.get("browser") or "", "browser_version": version if name else "",
            "os": platform, "device": "mobile" if mobile else "desktop" if platform else ""}


def _emit_event(conn: Connection, delivery: dict, kind: str, *, url: str | None, link: int, client: dict) -> None:
    """Opens and clicks to the webhooks: a campaign copy's to the email service's (an unsubscribe
    through it is the lists' event: addressbooks sends it), a transactional copy's to the SMTP one's."""
    if delivery.get("kind") not in ("campaign", "smtp"):  # system notices have no webhooks
        return
    account_id, email = delivery["account_id"], delivery["email"]
    if delivery["kind"] == "campaign":
        task_id, info = delivery.get("task_id"), _client(client)
        if kind == "open":
            webhooks.emit(conn, account_id, "email", "open", [hook_events.opened(email, task_id, info)])
        elif kind == "click":
            webhooks.emit(conn, account_id, "email", "redirect",
                          [hook_events.redirected(email, task_id, info, url or "", link)])
    elif delivery.get("kind") == "smtp":
        name = {"open": "opened", "click": "clicked", "unsubscribe": "unsubscribed"}[kind]
        extra = {"link_url": url} if kind == "click" else {}
        webhooks.emit(conn, account_id, "smtp", name, [hook_events.smtp(
            name, message_id=delivery["public_id"], recipient=email, sender=delivery.get("sender_email") or "",
            subject=delivery.get("subject") or "", **extra)])


def unsubscribe(conn: Connection, delivery: dict, *, comment: str) -> None:
    """The recipient asked to get no more of this account's mail (List-Unsubscribe, RFC 8058)."""
    if repository.add_unsubscribes(conn, delivery["account_id"], [(delivery["email"], comment[:1000])]):
        record_event(conn, delivery, "unsubscribe")  # once: a repeated one-click POST adds nothing


@dataclass(frozen=True)
class Bounced:
    """A bounce or complaint as the areas above see it: whose address, and whether it counts
    against the address (``addressbooks.service.apply_bounces`` decides the lists' statuses)."""

    account_id: int
    email: str
    kind: str  # hard | soft | complaint
    address_fault: bool


def record_bounce(conn: Connection, delivery: dict, *, kind: str, status: str, smtp_code: int | None,
                  diagnostic: str, source: str, address_fault: bool = True) -> Bounced:
    """A hard or soft bounce, or a complaint, recorded on the copy. A complaint also puts the
    address on the unsubscribe list. ``address_fault=False``: a hard bounce that is not the
    address's (content refused) bounces the copy but leaves the address alone."""
    account_id, email = delivery["account_id"], delivery["email"]
    repository.add_bounce(conn, {"account_id": account_id, "delivery_id": delivery["id"], "email": email,
                                 "kind": kind, "status": status[:12], "smtp_code": smtp_code,
                                 "diagnostic": diagnostic[:2000], "source": source, "created_at": utcnow()})
    if kind == "hard":
        repository.set_status(conn, delivery["id"], "bounced", reason=f"bounce {status}".strip()[:40])
    elif kind == "complaint":
        repository.set_status(conn, delivery["id"], "complained", reason="spam complaint")
        repository.add_unsubscribes(conn, account_id, [(email, "spam complaint (ARF)")])
    if source != "smtp":  # a refusal during SMTP reaches the webhooks with the round's outcomes
        _emit_bounce(conn, delivery, kind, status, smtp_code, diagnostic)
    return Bounced(account_id, email, kind, address_fault)


def _emit_bounce(conn: Connection, delivery: dict, kind: str, status: str, smtp_code: int | None,
                 diagnostic: str) -> None:
    """A bounce by DSN or a complaint by ARF, to the webhooks (email service for a campaign's copy,
    the SMTP webhook for a transactional one)."""
    account_id, email = delivery["account_id"], delivery["email"]
    if delivery.get("kind") == "campaign":
        task_id = delivery.get("task_id")
        if kind == "complaint":
            webhooks.emit(conn, account_id, "email", "spam", [hook_events.spam(email, task_id)])
        else:
            webhooks.emit(conn, account_id, "email", f"{kind}_bounces",
                          [hook_events.bounced(kind, email, task_id, smtp_code, status, diagnostic[:2000])])
    elif delivery.get("kind") == "smtp":
        name = "spam_by_user" if kind == "complaint" else f"{kind}_bounces"
        answer = {} if kind == "complaint" else {"smtp_server_response_code": smtp_code,
                                                 "smtp_server_response_subcode": status,
                                                 "smtp_server_response": diagnostic[:2000]}
        webhooks.emit(conn, account_id, "smtp", name, [hook_events.smtp(
            name, message_id=delivery["public_id"], recipient=email, sender=delivery.get("sender_email") or "",
            subject=delivery.get("subject") or "", **answer)])


def bounces(conn: Connection, account_id: int, window: tuple | None, limit: int, offset: int) -> list[dict]:
    """Bounces of the last 24 hours (document 002), or of one ``day``."""
    since, until = window if window else (utcnow() - BOUNCE_WINDOW, None)
    return [dict(r) for r in repository.bounces_since(conn, account_id, since, until, limit, offset)]


# ---- the unsubscribe list (SendPulse's SMTP unsubscribe list) ----

def add_unsubscribes(conn: Connection, account_id: int, entries: list[tuple[str, str]]) -> None:
    repository.add_unsubscribes(conn, account_id, entries)


def remove_unsubscribes(conn: Connection, account_id: int, emails: list[str]) -> None:
    repository.remove_unsubscribes(conn, account_id, emails)


def unsubscribed(conn: Connection, account_id: int, emails: list[str]) -> set[str]:
    """Which of these addresses are on the account's unsubscribe list (no SMTP mail goes to them)."""
    return repository.unsubscribed(conn, account_id, emails)


def unsubscribes(conn: Connection, account_id: int, window: tuple | None, limit: int, offset: int) -> list[dict]:
    since, until = window if window else (None, None)
    return [dict(r) for r in repository.list_unsubscribes(conn, account_id, since, until, limit, offset)]


_OUTCOME_EVENTS = {  # (message kind, copy status) -> (service, webhook action)
    ("campaign", "sent"): ("email", "delivered"), ("campaign", "bounced"): ("email", "hard_bounces"),
    ("campaign", "deferred"): ("email", "soft_bounces"),
    ("smtp", "sent"): ("smtp", "delivered"), ("smtp", "bounced"): ("smtp", "hard_bounces"),
    ("smtp", "deferred"): ("smtp", "soft_bounces"), ("smtp", "failed"): ("smtp", "undelivered"),
}


def emit_outcomes(conn: Connection, messages: dict[int, dict], outcomes: list[tuple[dict, dict]]) -> None:
    """A round's outcomes to the webhooks, per account and event (a query each, not one a copy;
    the events are built only for a webhook that wants them): ``outcomes`` pairs each claimed
    copy with what became of it. Sent is ``delivered``, refused is a hard bounce, a retry a soft
    one; given up is the SMTP webhook's ``undelivered``."""
    grouped: dict[tuple[int, str, str], list[tuple[dict, dict, dict]]] = {}
    for delivery, outcome in outcomes:
        message = messages.get(delivery["message_id"])
        event = message and _OUTCOME_EVENTS.get((message["kind"], outcome["status"]))
        if event:
            grouped.setdefault((message["account_id"], *event), []).append((message, delivery, outcome))
    for (account_id, service, action), found in grouped.items():
        webhooks.emit(conn, account_id, service, action, (_outcome_event(action, *f) for f in found))


def _outcome_event(action: str, message: dict, delivery: dict, outcome: dict) -> dict:
    email = delivery["email"]
    answer = {"smtp_server_response_code": outcome.get("smtp_answer_code"),
              "smtp_server_response_subcode": outcome.get("smtp_answer_subcode") or "",
              "smtp_server_response": outcome.get("smtp_answer_data") or ""}
    if message["kind"] == "smtp":
        return hook_events.smtp(action, message_id=message["public_id"], recipient=email,
                                sender=message["sender_email"], subject=message["subject"], **answer)
    if action == "delivered":
        return hook_events.delivered(email, message.get("task_id"))
    return hook_events.bounced(action.partition("_")[0], email, message.get("task_id"),
                               answer["smtp_server_response_code"], answer["smtp_server_response_subcode"],
                               answer["smtp_server_response"])


# ---- an account's activity ----

ACTIVITY = ("sent", "delivered", "opened", "clicked", "bounced", "complained")


def activity(conn: Connection, account_id: int, days: int) -> dict[str, dict[str, int]]:
    """Per calendar day (UTC) of the last ``days``: copies sent (handed over: accepted or refused),
    delivered (accepted by the receiving server), opened and clicked (events), bounced (hard or soft,
    during SMTP or by DSN) and complained (ARF); every day present, oldest first."""
    today = utcnow().date()
    first = today - timedelta(days=days - 1)
    out = {(first + timedelta(days=i)).isoformat(): dict.fromkeys(ACTIVITY, 0) for i in range(days)}
    since = datetime.combine(first, datetime.min.time())
    for day, status, n in repository.copies_by_day(conn, account_id, since, ("sent", "bounced", "failed")):
        if day in out and status in ("sent", "bounced", "failed"):
            out[day]["sent"] += n
            if status == "sent":
                out[day]["delivered"] += n
    for day, kind, n in repository.events_by_day(conn, account_id, since):
        if day in out and kind in ("open", "click"):
            out[day]["opened" if kind == "open" else "clicked"] += n
    for day, kind, n in repository.bounces_by_day(conn, account_id, since):
        if day in out:
            out[day]["complained" if kind == "complaint" else "bounced"] += n
    return out


def waiting(conn: Connection, account_id: int) -> int:
    return repository.waiting(conn, account_id)


# ---- the transactional log (the admin UI) ----

LOG_OUTCOMES = ("queued", "sending", "sent", "deferred", "bounced", "complained", "failed", "suppressed",
                "opened", "clicked")  # a copy's status, or what its reader did
LOG_SCAN = 5000  # messages a page of the log looks at, at most, whatever its filters
DATE_SLACK = timedelta(minutes=1)  # ids follow creation times; a bound by date is widened by this much


@dataclass(frozen=True)
class LogFilter:
    """What the log shows: messages below ``before`` (an id: the page's keyset), made in [since, until],
    from ``sender``, with a copy to ``recipient``, with a copy of that outcome (``LOG_OUTCOMES``), whose
    subject holds every one of ``words``."""

    before: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    sender: str | None = None
    recipient: str | None = None
    outcome: str | None = None
    words: tuple[str, ...] = ()


def log(conn: Connection, account_id: int, kind: str, wanted: LogFilter, limit: int,
        scan: int | None = None) -> tuple[list[dict], int | None]:
    """A page of the account's messages of ``kind`` (newest first), each with its copies counted by
    status and its first recipient, and the id the next page starts below (None: no more). A page
    looks at ``scan`` messages at most: when they hold fewer than ``limit`` matches, the next page
    goes on from the last one looked at. Dates become id bounds first (``first_message_after``)."""
    scan = scan or LOG_SCAN
    if wanted.outcome is not None and wanted.outcome not in LOG_OUTCOMES:
        raise ApiError(800, f"status must be one of {', '.join(LOG_OUTCOMES)}")
    before, floor = wanted.before, None
    if wanted.since is not None and wanted.since > datetime.min + DATE_SLACK:  # (0001-01-01 bounds nothing)
        floor = repository.first_message_after(conn, account_id, wanted.since - DATE_SLACK)
        if floor is None:
            return [], None
    if wanted.until is not None and wanted.until < datetime.max - DATE_SLACK:
        bound = repository.first_message_after(conn, account_id, wanted.until + DATE_SLACK)
        before = bound if before is None or (bound is not None and bound < before) else before
    rows, next_window = repository.log_page(
        conn, account_id, kind, before=before, floor=floor, since=wanted.since, until=wanted.until,
        sender=wanted.sender, recipient=wanted.recipient, status=wanted.outcome, words=wanted.words,
        limit=limit + 1, scan=scan)
    following = rows[limit - 1]["id"] if len(rows) > limit else next_window
    rows = rows[:limit]
    found = {r["id"]: {**r, "copies": 0, "statuses": {}, "first": None} for r in rows}
    for group in repository.copies_by_status(conn, account_id, list(found)):
        message = found[group["message_id"]]
        message["copies"] += group["copies"]
        message["statuses"][group["status"]] = group["copies"]
        message["first"] = min(filter(None, (message["first"], group["first"])))
    return list(found.values()), following


def log_message(conn: Connection, account_id: int, kind: str, message_id: int, limit: int = 1000) -> dict:
    """One message of ``kind`` with its copies (at most ``limit``: an SMTP message has at most 1,000
    recipients), each with its events (opens, clicks, unsubscribes) and bounces, oldest first."""
    row = repository.log_message(conn, account_id, kind, message_id)
    if row is None:
        raise ApiError(NOT_FOUND, "Email not found")
    copies = [{**c, "events": [], "bounces": []} for c in repository.message_copies(conn, account_id, message_id,
                                                                                      limit)]
    by_id = {c["id"]: c for c in copies}
    for event in repository.message_events(conn, account_id, message_id):
        if event["delivery_id"] in by_id:
            by_id[event["delivery_id"]]["events"].append(dict(event))
    for bounce in repository.message_bounces(conn, account_id, message_id):
        if bounce["delivery_id"] in by_id:
            by_id[bounce["delivery_id"]]["bounces"].append(dict(bounce))
    return {**row, "copies": copies}


def unsubscribes_page(conn: Connection, account_id: int, before: tuple[datetime, str] | None, limit: int,
                      email: str | None = None) -> list[dict]:
    """The unsubscribe list newest first, a page after ``before`` (its last row's date and address)."""
    return [dict(r) for r in repository.unsubscribes_before(conn, account_id, before, limit, email)]
