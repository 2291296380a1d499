"""What the transactional log and the unsubscribe list pages show and change, through the SMTP
service (which reads the outbox) and the captured mail's service."""

from __future__ import annotations

from datetime import datetime
from email.utils import getaddresses

from sqlalchemy import Connection

from pulsebox.capture import service as capture
from pulsebox.config import Settings
from pulsebox.errors import ApiError
from pulsebox.smtp import service as smtp

PAGE = 50  # messages, or unsubscribed addresses, a page
LogFilter = smtp.LogFilter
OUTCOMES = smtp.LOG_OUTCOMES


def log(conn: Connection, account_id: int, wanted: smtp.LogFilter) -> tuple[list[dict], int | None]:
    """A page of the SMTP API's messages (newest first) and the id the next page starts below."""
    return smtp.log(conn, account_id, wanted, PAGE)


def message(conn: Connection, settings: Settings, account_id: int, message_id: int) -> dict:
    """A message of the SMTP API with each copy's outcome and events, and each copy's ``role`` (to,
    cc or bcc; None when no longer known) and whether it was captured (``/ui/inbox/{id}``)."""
    found = smtp.log_message(conn, account_id, message_id)
    roles = _roles(conn, settings, account_id, found)
    capturing = settings.mail_url.startswith("capture:")
    for copy in found["copies"]:
        copy["role"] = roles.get(copy["email"], "bcc") if roles else None
        copy["captured"] = capturing and bool(copy["capture_key"])
        copy["answer"] = _answer(copy)
        for kind in ("open", "click", "unsubscribe"):
            copy[f"{kind}_events"] = [e for e in copy["events"] if e["kind"] == kind]
    return found


def _answer(copy: dict) -> str:
    """The receiving server's answer as one line: code, enhanced status (unless its text starts with it), text."""
    code, status, text = copy["smtp_answer_code"], copy["smtp_answer_subcode"], copy["smtp_answer_data"] or ""
    if not code:
        return ""
    return " ".join(str(part) for part in (code, status if status and status not in text else "", text) if part)


def _roles(conn: Connection, settings: Settings, account_id: int, found: dict) -> dict[str, str]:
    """Address -> to | cc (an address in neither was a bcc): from the message while it keeps its
    visible recipients (until every copy is sent), else from the headers of one captured copy (To and
    Cc are the same in every copy); empty when neither is there (sent through a relay)."""
    to, cc = found.get("to"), found.get("cc")
    if to is None:
        copy = next((c for c in found["copies"] if c["capture_key"]), None)
        headers = _captured_headers(conn, settings, account_id, copy["id"]) if copy else None
        if headers is None:
            return {}
        to = [[email, name] for name, email in getaddresses(headers.get("to", []))]
        cc = [[email, name] for name, email in getaddresses(headers.get("cc", []))]
    roles = {str(e).lower(): "cc" for e, _ in cc or []}
    roles.update({str(e).lower(): "to" for e, _ in to or []})
    return roles


def _captured_headers(conn: Connection, settings: Settings, account_id: int,
                      delivery_id: int) -> dict[str, list[str]] | None:
    try:
        parsed = capture.message(conn, account_id, settings, delivery_id)
    except ApiError:  # its file is gone (the inbox was cleared)
        return None
    headers: dict[str, list[str]] = {}
    for name, value in parsed["headers"]:
        headers.setdefault(name.lower(), []).append(value)
    return headers


# ---- the SMTP unsubscribe list ----

def unsubscribes(conn: Connection, account_id: int, before: tuple[datetime, str] | None,
                 email: str | None) -> tuple[list[dict], tuple[datetime, str] | None]:
    """A page of the list, newest first (or the one ``email``), and the keyset of the next page."""
    rows = smtp.unsubscribes_page(conn, account_id, before, PAGE + 1, email)
    following = (rows[PAGE - 1]["created_at"], rows[PAGE - 1]["email"]) if len(rows) > PAGE else None
    return rows[:PAGE], following


def add_unsubscribes(conn: Connection, account_id: int, entries: list[tuple[str, str]]) -> None:
    smtp.add_unsubscribes(conn, account_id, entries)


def remove_unsubscribes(conn: Connection, account_id: int, emails: list[str]) -> None:
    smtp.remove_unsubscribes(conn, account_id, emails)
