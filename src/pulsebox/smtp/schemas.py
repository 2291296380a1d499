"""SMTP service request and answer shapes (document 002, "SMTP"; wire README items 6, 7, 9).

``POST /smtp/emails`` carries one ``email`` object: ``html`` (base64), ``text``, ``subject``,
``from {name, email}``, ``to``/``cc``/``bcc`` (lists of ``{name, email}``), ``reply_to``,
``headers``, ``attachments`` (filename -> text), ``attachments_binary`` (filename -> base64),
``template {id, variables}``, and our documented extras ``variables`` (personalise a message
without a template) and ``track_opens``/``track_clicks`` (0 switches tracking off for it).
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
from dataclasses import dataclass
from datetime import datetime, timedelta

from pulsebox import addresses
from pulsebox.delivery.message import Address, Attachment, Mail
from pulsebox.errors import ApiError
from pulsebox.wire import as_bool, as_list, as_text, b64_text

MAX_RECIPIENTS = 1000  # to + cc + bcc of one message
MAX_SUBJECT = 998  # characters; longer words are folded or encoded, and one that cannot fit a line is refused
MAX_ATTACHMENTS = 10
MAX_HTML = 2 * 1024 * 1024  # characters of html or text, as for a template: bounds what one message costs


# ---- POST /smtp/emails ----

def _person(value: object, *, missing: int) -> Address:
    if isinstance(value, str):
        return Address(addresses.require(value, missing=missing))
    if not isinstance(value, dict):
        raise ApiError(missing)
    name = as_text(value.get("name")) or ""
    return Address(addresses.require(value.get("email"), missing=missing), name.strip())


def _people(value: object) -> list[Address]:
    if value in (None, "", []):
        return []
    items = [value] if isinstance(value, str) or (isinstance(value, dict) and "email" in value) else as_list(value)
    return [_person(item, missing=11) for item in items]


def attachments(email: dict, limit: int = MAX_ATTACHMENTS) -> list[Attachment]:
    """``attachments`` (file name -> text) and ``attachments_binary`` (file name -> base64), at
    most ``limit`` in all (a campaign's are read the same way)."""
    out = []
    for key, binary in (("attachments", False), ("attachments_binary", True)):
        value = email.get(key)
        if value in (None, "", [], {}):
            continue
        if not isinstance(value, dict):
            raise ApiError(8, f"{key} must be an object of file name -> content")
        for filename, content in value.items():
            if not isinstance(content, str) or not str(filename).strip():
                raise ApiError(8, f"{key}: every attachment needs a file name and a string content")
            if binary:
                try:
                    data = base64.b64decode("".join(content.split()), validate=True)
                except (binascii.Error, ValueError):
                    raise ApiError(8, f"attachments_binary[{filename!r}] is not valid base64") from None
            else:
                data = content.encode()
            guessed = mimetypes.guess_type(str(filename))[0] or "application/octet-stream"
            if guessed.startswith("text/"):
                guessed += "; charset=utf-8"  # attachments given as text are UTF-8 (JSON strings)
            out.append(Attachment(str(filename), data, guessed))
    if len(out) > limit:
        raise ApiError(8, f"At most {limit} attachments per message")
    return out


# Headers a caller may add (README, "Custom headers"): an allow-list, because any header that names
# the sender (Sender, Resent-*), the route (Return-Path, Received, Errors-To), the signature or the
# authentication results (DKIM-Signature, ARC-*, Authentication-Results) or the MIME structure
# (Content-*) would let a message claim what the strict sender check refused.
CALLER_HEADERS = frozenset({
    "list-id", "list-unsubscribe", "list-unsubscribe-post", "list-help", "list-subscribe", "list-post",
    "list-owner", "list-archive", "in-reply-to", "references", "comments", "keywords", "precedence",
    "auto-submitted", "importance", "priority", "sensitivity", "organization", "content-language",
    "feedback-id", "thread-topic", "thread-index",
})
OWN_HEADERS = "x-pulsebox-"  # ours (the capture store's envelope): never from a caller


def caller_may_set(name: str) -> bool:
    lower = name.lower()
    return lower in CALLER_HEADERS or (lower.startswith("x-") and not lower.startswith(OWN_HEADERS))


def _headers(value: object) -> dict[str, str]:
    if value in (None, "", [], {}):
        return {}
    if not isinstance(value, dict):
        raise ApiError(8, "headers must be an object of header name -> value")
    headers = {str(k): str(v) for k, v in value.items()}
    refused = sorted(name for name in headers if not caller_may_set(name))
    if refused:
        raise ApiError(800, f"These headers cannot be set: {', '.join(refused)} (allowed: X-* and "
                            f"{', '.join(sorted(CALLER_HEADERS))})")
    return headers


@dataclass(frozen=True)
class SendRequest:
    mail: Mail  # the message as sent, before its template and variables are applied
    template_id: str | None  # real_id or the 32-hex id
    variables: dict
    track_opens: bool
    track_clicks: bool


def send_request(params: dict) -> SendRequest:
    email = params.get("email")
    if not isinstance(email, dict) or not email:
        raise ApiError(8, "email must be an object with the message")
    if email.get("from") in (None, "", [], {}):
        raise ApiError(10)
    sender = _person(email.get("from"), missing=10)
    to = _people(email.get("to"))
    cc, bcc = _people(email.get("cc")), _people(email.get("bcc"))
    if not to:
        raise ApiError(11)
    if len({p.email for p in (*to, *cc, *bcc)}) > MAX_RECIPIENTS:
        raise ApiError(8, f"At most {MAX_RECIPIENTS} recipients per message")
    reply_to = email.get("reply_to")
    template = email.get("template")
    template_id, variables = None, {}
    if template not in (None, "", [], {}):
        if not isinstance(template, dict):
            raise ApiError(8, "template must be an object {id, variables}")
        ref = template.get("id")
        if isinstance(ref, bool) or not isinstance(ref, (int, str)) or not str(ref).strip():
            raise ApiError(8, "template.id must be a template id (real_id or id)")
        template_id = str(ref).strip()
        variables = template.get("variables") or {}
    extra = email.get("variables") or {}
    if not isinstance(variables, dict) or not isinstance(extra, dict):
        raise ApiError(8, "variables must be an object of name -> value")
    variables = {**extra, **variables}
    html = as_text(email.get("html"))
    text = as_text(email.get("text"))
    if template_id is None and not (html or text):
        raise ApiError(13)
    html = b64_text(html) if html else None
    if (html and len(html) > MAX_HTML) or (text and len(text) > MAX_HTML):
        raise ApiError(8, f"html and text must be at most {MAX_HTML} characters each")
    subject = as_text(email.get("subject")) or ""
    if not subject.strip():
        raise ApiError(720)
    if len(subject) > MAX_SUBJECT:
        raise ApiError(8, f"subject must be at most {MAX_SUBJECT} characters")
    mail = Mail(
        sender=sender, to=to, cc=cc, bcc=bcc, subject=subject,
        html=html, text=text or None,
        reply_to=_person(reply_to, missing=8) if reply_to not in (None, "", {}) else None,
        headers=_headers(email.get("headers")), attachments=attachments(email),
    )
    return SendRequest(mail, template_id, {str(k): v for k, v in variables.items()},
                       track_opens=as_bool(email.get("track_opens", 1)),
                       track_clicks=as_bool(email.get("track_clicks", 1)))


# ---- filters ----

def when(value: object, *, end_of_day: bool = False) -> datetime | None:
    """``YYYY-MM-DD`` or ``YYYY-MM-DD hh:mm:ss``; a bare day as an upper bound means its end."""
    text = as_text(value)
    if not text or not text.strip():
        return None
    text = text.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        if fmt == "%Y-%m-%d" and end_of_day:
            parsed = parsed.replace(hour=23, minute=59, second=59)
        return parsed
    raise ApiError(799, f"Incorrect date {text[:40]!r}: use YYYY-MM-DD or YYYY-MM-DD hh:mm:ss")


def day(params: dict) -> tuple[datetime, datetime] | None:
    start = when(params.get("day") or params.get("date"))
    if start is None:
        return None
    start = start.replace(hour=0, minute=0, second=0)
    if start.date() == datetime.max.date():  # the day after 9999-12-31 does not exist
        raise ApiError(799, "Incorrect date: the day must be before 9999-12-31")
    return start, start + timedelta(days=1)


def unsubscribe_entries(params: dict) -> list[tuple[str, str]]:
    """``emails``: ``[{email, comment}]`` (document 002), or plain addresses."""
    items = as_list(params.get("emails", params.get("email")))
    out: dict[str, str] = {}
    for item in items:
        if isinstance(item, dict):
            comment = as_text(item.get("comment")) or ""
            if len(comment) > 1000:
                raise ApiError(800, "comment must be at most 1000 characters")
            out.setdefault(addresses.require(item.get("email")), comment)
        else:
            out.setdefault(addresses.require(item), "")
    if not out:
        raise ApiError(1101)
    return list(out.items())


# ---- answers ----

def stamp(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else None


def event(row: dict) -> dict:
    return {"browser": row["browser"], "os": row["os"], "ip": row["ip"], "country": row["country"],
            "action_date": stamp(row["created_at"])}


def email_answer(row: dict, events: list[dict], ip: str) -> dict:
    """One copy as document 002 shows it, plus ``status`` (queued, sent, deferred, bounced,
    complained, failed, suppressed) and ``status_reason`` (why it was not sent)."""
    return {
        "id": row["public_id"],
        "sender": row["sender_email"],
        "recipient": row["recipient"],
        "subject": row["subject"],
        "total_size": row["copy_size"] or row["size"],  # as sent; until then, the content's size
        "sender_ip": ip,
        "used_ip": ip,
        "smtp_answer_code": row["smtp_answer_code"],
        "smtp_answer_subcode": row["smtp_answer_subcode"] or "0",
        "smtp_answer_data": row["smtp_answer_data"] or "",
        "send_date": stamp(row["sent_at"] or row["created_at"]),
        "status": row["status"],
        "status_reason": row["reason"],
        "tracking": {
            "click": row["clicks"],
            "open": row["opens"],
            "link": [{"url": e["url"], "screen_resolution": "", **event(e)} for e in events if e["kind"] == "click"],
            "client_info": [event(e) for e in events if e["kind"] == "open"],
        },
    }


def unsubscribe_answer(row: dict) -> dict:
    return {"email": row["email"], "comment": row["comment"], "date": stamp(row["created_at"])}


def bounce_answer(row: dict) -> dict:
    return {"email": row["email"], "type": row["kind"], "smtp_answer_code": row["smtp_code"],
            "smtp_answer_subcode": row["status"], "smtp_answer_data": row["diagnostic"],
            "source": row["source"], "date": stamp(row["created_at"])}
