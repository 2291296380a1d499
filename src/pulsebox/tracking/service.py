"""Tracking rules: which token names what, whether an open or click is recorded, where a click
goes, what unsubscribing and confirming do. No HTTP, no SQL, no commit: the endpoint owns the
transaction, ``outbox.service`` and ``addressbooks.service`` own the rows.

A token only proves that we made it; the delivery (or contact) it names may be gone since, so
every function here also answers "not found" for a well-signed token whose row no longer exists.
A click's URL always comes from the stored message, never from the request: no open redirect.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import Connection

from pulsebox import links
from pulsebox.addressbooks import service as addressbooks
from pulsebox.campaigns import service as campaigns
from pulsebox.clientinfo import client_info, country
from pulsebox.config import Settings
from pulsebox.errors import NOT_FOUND, ApiError
from pulsebox.outbox import service as outbox
from pulsebox.push import schemas as push_schemas
from pulsebox.push import service as push

MAX_URL = 8000  # longer than any browser sends; the Location header stays sane

ONE_CLICK_COMMENT = "List-Unsubscribe one-click (RFC 8058)"
PAGE_COMMENT = "Unsubscribe link"


def _not_found(what: str = "Link not found") -> ApiError:
    return ApiError(NOT_FOUND, what, status=404)


# ---- tokens ----

MAX_ID = 2 ** 63 - 1  # a token's ids are up to 64 bits; the database's integers are signed


def _ids(key: bytes, purpose: str, token: str, count: int) -> tuple[int, ...] | None:
    ids = links.verify(key, purpose, token, count)
    return ids if ids and all(i <= MAX_ID for i in ids) else None


def delivery_id(key: bytes, purpose: str, token: str) -> int | None:
    """The delivery an open or unsubscribe token names, or None if it is malformed or forged."""
    ids = _ids(key, purpose, token, 1)
    return ids[0] if ids else None


def click_ids(key: bytes, token: str) -> tuple[int, int] | None:
    """(delivery id, link index) of a click token, or None."""
    ids = links.verify_click(key, token)
    return ids if ids and all(i <= MAX_ID for i in ids) else None


def confirmable(token: str) -> int | None:
    """The contact id a confirmation token claims (checked by :func:`confirm`), or None."""
    ids = links.claimed_ids(token)
    return ids[0] if ids and len(ids) == 1 and ids[0] <= MAX_ID else None


# ---- opens and clicks ----

def record_open(conn: Connection, delivery_id: int, ip: str, user_agent: str) -> bool:
    """Record the copy's open if it exists, its message tracks opens and it was not opened yet
    (an open counts once per copy: its first time, address and browser are the ones kept, and a
    replayed pixel writes nothing); True if recorded."""
    found = outbox.delivery(conn, delivery_id)
    if found is None or not found["track_opens"] or found["opens"]:
        return False
    return outbox.record_event(conn, found, "open", **client_info(ip, user_agent))


def safe_url(value: object) -> str | None:
    """``value`` if it is an absolute http(s) URL fit for a Location header, else None."""
    if not isinstance(value, str) or not value or len(value) > MAX_URL:
        return None
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in value):  # whitespace, CR/LF, controls
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return value


def click(conn: Connection, delivery_id: int, index: int, ip: str, user_agent: str, record: bool = True) -> str:
    """The URL that link ``index`` of the delivery's message stands for, after recording the
    click (and an open, if none was seen yet: a click proves the message was opened) unless
    ``record`` is false (a HEAD from a link checker, a client over its rate limit). Each is
    recorded only if the message tracks clicks (opens), and once per copy: a click per distinct
    URL (links repeating a URL count as the first of them). A missing delivery or link, or a
    stored URL that is not http(s), raises a 404 ApiError: never a redirect."""
    found = outbox.delivery(conn, delivery_id)
    if found is None:
        raise _not_found()
    stored = found["links"]
    if not 0 <= index < len(stored):
        raise _not_found()
    url = safe_url(stored[index])
    if url is None:
        raise _not_found()
    count_open = record and found["track_opens"] and not found["opens"]
    count_click = record and found["track_clicks"]
    if count_open or count_click:
        info = client_info(ip, user_agent)
        if count_open:
            outbox.record_event(conn, found, "open", **info)
        if count_click:
            outbox.record_event(conn, found, "click", url=url, link=stored.index(url), **info)
    return url


# ---- unsubscribing ----

def unsubscribe_subject(conn: Connection, delivery_id: int) -> tuple[str, str] | None:
    """(recipient, sender) for the unsubscribe page, or None if the delivery is gone."""
    found = outbox.delivery(conn, delivery_id)
    return (found["email"], found["sender_email"]) if found else None


def unsubscribe(conn: Connection, delivery_id: int, *, one_click: bool) -> tuple[str, str] | None:
    """Put the delivery's address on its account's SMTP unsubscribe list (again is harmless);
    (recipient, sender), or None if the delivery is gone."""
    found = outbox.delivery(conn, delivery_id)
    if found is None:
        return None
    outbox.unsubscribe(conn, found, comment=ONE_CLICK_COMMENT if one_click else PAGE_COMMENT)
    campaigns.unsubscribed(conn, found)
    return found["email"], found["sender_email"]


# ---- a campaign's web version (its permalink) ----

def web_version(conn: Connection, key: bytes, token: str) -> str | None:
    """The html of the campaign a permalink token was signed for, or None."""
    ids = links.verify(key, links.WEB_VERSION, token, 1)
    return campaigns.web_version(conn, ids[0]) if ids and ids[0] <= MAX_ID else None


# ---- double opt-in ----

def confirm_target(conn: Connection, key: bytes, token: str) -> int | None:
    """The contact a confirmation token was signed for (its id *and* address), or None. A read:
    a forged token never reaches a write transaction."""
    contact_id = confirmable(token)
    email = addressbooks.contact_email(conn, contact_id) if contact_id is not None else None
    if email is None or links.verify(key, links.confirm_purpose(email), token, 1) != (contact_id,):
        return None
    return contact_id


def confirm(conn: Connection, key: bytes, token: str) -> bool:
    """Make the contact Active (checking the token again inside the write); False if the token
    does not fit the contact, or it no longer exists (or has since unsubscribed)."""
    contact_id = confirm_target(conn, key, token)
    return contact_id is not None and bool(addressbooks.confirm_contact(conn, contact_id))


# ---- web push: what browsers send back ----

def push_shown(conn: Connection, key: bytes, token: str) -> bool:
    """A service worker's report that a push was shown (its send's ``delivered``)."""
    ids = _ids(key, links.PUSH_SHOWN, token, 1)
    return ids is not None and push.record_shown(conn, ids[0])


def push_click(conn: Connection, key: bytes, token: str) -> str:
    """Where a notification's click goes (the task's link or a button's), the click counted."""
    ids = links.verify_push_click(key, token)
    if ids is None or ids[0] > MAX_ID:
        raise _not_found()
    url = push.record_click(conn, *ids)
    if url is None:
        raise _not_found()
    return url


def push_picture(conn: Connection, key: bytes, token: str) -> dict | None:
    ids = _ids(key, links.PUSH_PICTURE, token, 1)
    return push.picture(conn, ids[0]) if ids else None


def push_subscribe(conn: Connection, settings: Settings, params: dict, ip: str) -> int:
    return push.subscribe(conn, settings, push_schemas.subscribe_request(params), country(ip) if ip else "")
