"""The SMTP (transactional) service and the outbox every message goes through.

Accepting a message stores it and one queued delivery per recipient in the caller's transaction:
the ``{"result": true, "id": ...}`` answer means both are committed, and the worker
(``smtp/tasks.py``) sends them. System notices (sender activation, subscription confirmation,
domain verification) take the same road through :func:`queue_notice`, so they are built, sent,
retried, captured and bounced like any other message.

What happens after sending (opens, clicks, unsubscribes, bounces, complaints) is recorded here
too, whichever way it arrives: the tracking routes, the inbound listener, or a 5xx during delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from email.utils import parseaddr

from sqlalchemy import Connection

from pulsebox import addresses
from pulsebox.blacklist import service as blacklist
from pulsebox.config import Settings
from pulsebox.delivery import message as mime
from pulsebox.delivery.render import TooLarge, find_links, personalise
from pulsebox.errors import NOT_FOUND, ApiError
from pulsebox.models import utcnow
from pulsebox.smtp import repository
from pulsebox.smtp.schemas import MAX_HTML, MAX_SUBJECT, Outgoing, Person, SendRequest
from pulsebox.templates import service as templates
from pulsebox.worker import wake

SMTP = "smtp"
NOTICE = "system"
BOUNCE_WINDOW = timedelta(hours=24)
DOMAIN_CODE_RESEND = timedelta(minutes=15)
MAX_DOMAINS = 100

# contact statuses (document 004) set by what comes back
SENDING_ERROR = 9
UNSUBSCRIBED_EVERYWHERE = 6


# ---- accepting ----

def _store(conn: Connection, account_id: int, outgoing: Outgoing, kind: str, track: bool) -> str:
    public_id = secrets.token_hex(16)
    now = utcnow()
    message_id = repository.insert_message(conn, {
        "public_id": public_id, "account_id": account_id, "kind": kind,
        "sender_email": outgoing.sender.email, "sender_name": outgoing.sender.name,
        "subject": outgoing.subject, "content": outgoing.content(), "size": outgoing.size(),
        "track_opens": track and outgoing.track_opens, "track_clicks": track and outgoing.track_clicks,
        "created_at": now,
    })
    repository.insert_deliveries(conn, message_id, account_id, outgoing.envelope_recipients(), now)
    wake.after_this_commit(conn)
    return public_id


def _check_sender(conn: Connection, account_id: int, email: str) -> None:
    from pulsebox.senders import service as senders  # senders queue notices through this module

    if verified_domain(conn, account_id, email):
        return
    senders.require_active(conn, account_id, email)


def accept(conn: Connection, account_id: int, request: SendRequest, settings: Settings) -> str:
    """Validate, personalise and store an SMTP API message; the public id for the answer. The
    request is not changed (the group commit may run this twice: personalising twice would
    fill in placeholders that a variable's value happened to contain)."""
    outgoing = replace(request.outgoing)
    if settings.verify_senders:
        _check_sender(conn, account_id, outgoing.sender.email)
    if request.template_id is not None:
        outgoing.html = templates.get(conn, account_id, request.template_id)["body"]
    if request.variables:
        try:
            outgoing.subject = personalise(outgoing.subject, request.variables, MAX_SUBJECT)
            outgoing.html = personalise(outgoing.html, request.variables, MAX_HTML) if outgoing.html else None
            outgoing.text = personalise(outgoing.text, request.variables, MAX_HTML) if outgoing.text else None
        except TooLarge as exc:
            raise ApiError(8, f"The message is too large: subject, html or text is {exc}") from None
    outgoing.links = find_links(outgoing.html) if outgoing.html else []
    try:  # whatever cannot become a message is refused here, not in the worker
        mime.check(as_mail(outgoing))
    except mime.HeaderInjection:
        raise ApiError(800, "Header values (names, subject, headers) must not contain line breaks") from None
    except (ValueError, UnicodeError) as exc:
        raise ApiError(800, f"The message cannot be built: {exc}") from None
    return _store(conn, account_id, outgoing, SMTP, settings.tracking)


def as_mail(outgoing: Outgoing) -> mime.Mail:
    def address(p: Person) -> mime.Address:
        return mime.Address(p.email, p.name)

    return mime.Mail(sender=address(outgoing.sender), to=[address(p) for p in outgoing.to],
                     cc=[address(p) for p in outgoing.cc], bcc=[address(p) for p in outgoing.bcc],
                     subject=outgoing.subject, text=outgoing.text,
                     html=outgoing.html, reply_to=address(outgoing.reply_to) if outgoing.reply_to else None,
                     headers=dict(outgoing.headers),
                     attachments=[mime.Attachment(a["filename"], b"", a["content_type"]) for a in outgoing.attachments])


def queue_notice(conn: Connection, account_id: int, *, to: str, subject: str, text: str,
                 html: str | None = None, sender: str, to_name: str = "") -> str:
    """Queue a system notice to one address (no tracking, no List-Unsubscribe; its content is
    erased once sent, since it may carry a code or a signed link). ``sender`` may be ``Name <addr>``."""
    name, address = parseaddr(sender)
    outgoing = Outgoing(sender=Person(address or sender, name), to=[Person(to, to_name)], subject=subject,
                        text=text, html=html, list_unsubscribe=False)
    return _store(conn, account_id, outgoing, NOTICE, False)


def kept_after_sending(message: dict) -> dict:
    """What a message keeps once every copy is sent: a notice nothing (it carried a code or a
    signed link); SMTP mail its links, which click redirects still resolve. Bodies and
    attachments go: at thousands of messages a second they would fill the disk."""
    if message["kind"] == NOTICE:
        return {}
    return {"links": (message["content"] or {}).get("links", [])}


# ---- reading (GET /smtp/emails, /smtp/emails/{id}) ----

def _events_by_delivery(conn: Connection, rows: Sequence) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {r["delivery_id"]: [] for r in rows}
    if out:
        for event in repository.events(conn, list(out)):
            out[event["delivery_id"]].append(dict(event))
    return out


def list_emails(conn: Connection, account_id: int, **filters) -> list[tuple[dict, list[dict]]]:  # noqa: ANN003
    rows = repository.list_deliveries(conn, account_id, **filters)
    events = _events_by_delivery(conn, rows)
    return [(dict(r), events[r["delivery_id"]]) for r in rows]


def email_copies(conn: Connection, account_id: int, public_id: str) -> list[tuple[dict, list[dict]]]:
    rows = repository.deliveries_of(conn, account_id, public_id.strip().lower()[:32])
    if not rows:
        raise ApiError(NOT_FOUND, "Email not found")
    events = _events_by_delivery(conn, rows)
    return [(dict(r), events[r["delivery_id"]]) for r in rows]


# ---- suppression: checked by the worker for every copy, right before it is built ----

def suppressed(conn: Connection, claimed: Sequence[dict], kinds: dict[int, str]) -> dict[int, str]:
    """``{delivery id: reason}`` for the copies that must not be sent: blacklisted addresses
    (every kind of mail), and for SMTP mail the account's SMTP unsubscribe list."""
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
    row = repository.delivery(conn, delivery_id)
    return dict(row) if row else None


def record_event(conn: Connection, delivery: dict, kind: str, *, url: str | None = None, link: int = 0,
                 ip: str = "", country: str = "", browser: str = "", os: str = "") -> bool:
    """Record an open, a click (``link``: which of the message's links, one event each) or an
    unsubscribe of the copy, unless it has that one already: the first is kept. True if new."""
    return repository.add_event(conn, {"account_id": delivery["account_id"], "delivery_id": delivery["id"],
                                       "kind": kind, "link": link, "url": url, "ip": ip[:45], "country": country[:64],
                                       "browser": browser[:120], "os": os[:120], "created_at": utcnow()})


def unsubscribe(conn: Connection, delivery: dict, *, comment: str) -> None:
    """The recipient asked to get no more of this account's mail (List-Unsubscribe, RFC 8058)."""
    if repository.add_unsubscribes(conn, delivery["account_id"], [(delivery["email"], comment[:1000])]):
        record_event(conn, delivery, "unsubscribe")  # once: a repeated one-click POST adds nothing


def record_bounce(conn: Connection, delivery: dict, *, kind: str, status: str, smtp_code: int | None,
                  diagnostic: str, source: str, address_fault: bool = True) -> int | None:
    """A hard or soft bounce, or a complaint, recorded on the copy; the status the address must now
    have in every mailing list of the account (the caller sets it through addressbooks: 9 "sending
    error" for a hard bounce, 6 "unsubscribed from all" for a complaint), or None. A complaint also
    puts the address on the SMTP unsubscribe list. ``address_fault=False``: a hard bounce that is
    not the address's (content refused) bounces the copy but leaves the address alone."""
    account_id, email = delivery["account_id"], delivery["email"]
    repository.add_bounce(conn, {"account_id": account_id, "delivery_id": delivery["id"], "email": email,
                                 "kind": kind, "status": status[:12], "smtp_code": smtp_code,
                                 "diagnostic": diagnostic[:2000], "source": source, "created_at": utcnow()})
    if kind == "hard":
        repository.set_status(conn, delivery["id"], "bounced", reason=f"bounce {status}".strip()[:40])
        return SENDING_ERROR if address_fault else None
    if kind == "complaint":
        repository.set_status(conn, delivery["id"], "complained", reason="spam complaint")
        repository.add_unsubscribes(conn, account_id, [(email, "spam complaint (ARF)")])
        return UNSUBSCRIBED_EVERYWHERE
    return None


def bounces(conn: Connection, account_id: int, window: tuple | None, limit: int, offset: int) -> list[dict]:
    """Bounces of the last 24 hours (document 002), or of one ``day``."""
    since, until = window if window else (utcnow() - BOUNCE_WINDOW, None)
    return [dict(r) for r in repository.bounces_since(conn, account_id, since, until, limit, offset)]


# ---- the SMTP unsubscribe list ----

def add_unsubscribes(conn: Connection, account_id: int, entries: list[tuple[str, str]]) -> None:
    repository.add_unsubscribes(conn, account_id, entries)


def remove_unsubscribes(conn: Connection, account_id: int, emails: list[str]) -> None:
    repository.remove_unsubscribes(conn, account_id, emails)


def unsubscribes(conn: Connection, account_id: int, window: tuple | None, limit: int, offset: int) -> list[dict]:
    since, until = window if window else (None, None)
    return [dict(r) for r in repository.list_unsubscribes(conn, account_id, since, until, limit, offset)]


# ---- sending domains (/smtp/domains): verified by a code mailed to an address in the domain ----

def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def verified_domain(conn: Connection, account_id: int, email: str) -> bool:
    row = repository.domain(conn, account_id, addresses.domain(email))
    return bool(row and row["verified"])


def allowed_domains(conn: Connection, account_id: int) -> list[str]:
    return [f"@{r['domain']}" for r in repository.domains(conn, account_id) if r["verified"]]


def add_domain(conn: Connection, account_id: int, email: str, settings: Settings) -> None:
    name = addresses.domain(email)
    if name in addresses.PUBLIC_MAILBOX_DOMAINS or name in settings.free_mail_domains:
        raise ApiError(97, f"{name} is a public mailbox service: it cannot be verified as a sending domain")
    if repository.domain(conn, account_id, name) is not None:
        return  # adding twice is harmless; the address to verify with stays the first one
    if repository.count_domains(conn, account_id) >= MAX_DOMAINS:
        raise ApiError(800, f"At most {MAX_DOMAINS} domains per account")
    repository.add_domain(conn, account_id, name, email)


def _domain_for(conn: Connection, account_id: int, email: str) -> dict:
    """The account's domain of ``email``, locked until commit (concurrent code requests or
    verifications of one domain take turns)."""
    row = repository.lock_domain(conn, account_id, addresses.domain(email))
    if row is None:
        raise ApiError(NOT_FOUND, "Domain not found: add it with POST /smtp/domains first")
    return dict(row)


def send_domain_code(conn: Connection, account_id: int, email: str, settings: Settings) -> None:
    """Mail a verification code to ``email`` (an address of the domain, document 002)."""
    row = _domain_for(conn, account_id, email)
    if row["verified"]:
        return
    now = utcnow()
    if row["code_sent_at"] and now - row["code_sent_at"] < DOMAIN_CODE_RESEND:
        raise ApiError(1004)
    code = secrets.token_hex(8)
    repository.update_domain(conn, account_id, row["domain"], code_hash=_hash(code), code_sent_at=now, email=email)
    queue_notice(conn, account_id, to=email, sender=settings.system_from,
                 subject=f"Verify the domain {row['domain']}",
                 text=(f"Someone asked to send email from {row['domain']} through Pulsebox.\n"
                       f"To verify the domain, send this code with POST /smtp/domains/{email}:\n\n"
                       f"Verification code: {code}\n\nIf you did not ask for this, ignore this message.\n"))


def verify_domain(conn: Connection, account_id: int, email: str, code: str) -> None:
    row = _domain_for(conn, account_id, email)
    if row["verified"]:
        return
    if not row["code_hash"]:
        raise ApiError(800, "No verification code was sent for this domain: GET /smtp/domains/{email} first")
    if not hmac.compare_digest(row["code_hash"], _hash(code.strip())):
        raise ApiError(800, "Wrong verification code")
    repository.update_domain(conn, account_id, row["domain"], verified=True, code_hash=None)
