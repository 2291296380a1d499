"""The SMTP (transactional) service: sending through the API, the copies it sent, their bounces and
the unsubscribe list (all kept by the outbox, below this area), and sending domains.

An accepted message is checked (an active sender or a verified domain), filled from its template,
personalised, and queued in the outbox in the caller's transaction: the ``{"result": true, "id":
...}`` answer means it is stored, and the worker sends it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import Connection

from pulsebox import addresses
from pulsebox.config import Settings
from pulsebox.delivery.render import TooLarge, personalise
from pulsebox.errors import NOT_FOUND, ApiError
from pulsebox.models import utcnow
from pulsebox.outbox import service as outbox
from pulsebox.senders import service as senders
from pulsebox.smtp import repository
from pulsebox.smtp.schemas import MAX_HTML, MAX_SUBJECT, SendRequest
from pulsebox.templates import service as templates

DOMAIN_CODE_RESEND = timedelta(minutes=15)
MAX_DOMAINS = 100


# ---- sending ----

def accept(conn: Connection, account_id: int, request: SendRequest, settings: Settings) -> str:
    """Check, personalise and queue an SMTP API message; the public id for the answer. The
    request is not changed (the group commit may run this twice: personalising twice would
    fill in placeholders that a variable's value happened to contain)."""
    mail = request.mail
    if settings.verify_senders and not verified_domain(conn, account_id, mail.sender.email):
        senders.require_active(conn, account_id, mail.sender.email)
    html, text, subject = mail.html, mail.text, mail.subject
    if request.template_id is not None:
        html = templates.get(conn, account_id, request.template_id)["body"]
    if request.variables:
        try:
            subject = personalise(subject, request.variables, MAX_SUBJECT)
            html = personalise(html, request.variables, MAX_HTML) if html else None
            text = personalise(text, request.variables, MAX_HTML) if text else None
        except TooLarge as exc:
            raise ApiError(8, f"The message is too large: subject, html or text is {exc}") from None
    return outbox.queue(conn, account_id, replace(mail, subject=subject, html=html, text=text), kind=outbox.SMTP,
                        track_opens=settings.tracking and request.track_opens,
                        track_clicks=settings.tracking and request.track_clicks)


# ---- what was sent (GET /smtp/emails, /smtp/emails/{id}), bounces, the unsubscribe list ----

def list_emails(conn: Connection, account_id: int, **filters) -> list[tuple[dict, list[dict]]]:  # noqa: ANN003
    return outbox.copies(conn, account_id, outbox.SMTP, **filters)


def email_copies(conn: Connection, account_id: int, public_id: str) -> list[tuple[dict, list[dict]]]:
    return outbox.copies_of(conn, account_id, outbox.SMTP, public_id)


bounces = outbox.bounces
add_unsubscribes = outbox.add_unsubscribes
remove_unsubscribes = outbox.remove_unsubscribes
unsubscribes = outbox.unsubscribes


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
    outbox.queue_notice(conn, account_id, to=email, sender=settings.system_from,
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


# ---- the transactional log and the unsubscribe list as a person browses them (the admin UI) ----

LogFilter = outbox.LogFilter
LOG_OUTCOMES = outbox.LOG_OUTCOMES


def log(conn: Connection, account_id: int, wanted: outbox.LogFilter, limit: int) -> tuple[list[dict], int | None]:
    """The SMTP API's messages, newest first (campaign copies and system notices are not this
    service's: GET /smtp/emails leaves them out too)."""
    return outbox.log(conn, account_id, outbox.SMTP, wanted, limit)


def log_message(conn: Connection, account_id: int, message_id: int) -> dict:
    return outbox.log_message(conn, account_id, outbox.SMTP, message_id)


unsubscribes_page = outbox.unsubscribes_page
