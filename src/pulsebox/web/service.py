"""Admin UI rules: who may sign in (an account's API credentials or its UI password), sessions kept
server-side (the browser holds a random token; its SHA-256 is stored), and what the pages show, from
the areas' services."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection

from pulsebox import addresses, filters
from pulsebox.accounts import service as accounts
from pulsebox.addressbooks import imports
from pulsebox.addressbooks import service as books
from pulsebox.balance import service as balance
from pulsebox.blacklist import service as blacklist
from pulsebox.campaigns import schemas as campaign_schemas
from pulsebox.campaigns import service as campaigns
from pulsebox.capture import service as capture
from pulsebox.config import Settings
from pulsebox.errors import ApiError
from pulsebox.models import utcnow
from pulsebox.oauth import service as oauth
from pulsebox.outbox import service as outbox
from pulsebox.senders import service as senders
from pulsebox.web import repository
from pulsebox.webhooks import schemas as webhook_schemas
from pulsebox.webhooks import service as webhooks

LIFETIME = timedelta(hours=12)  # a session ends this long after sign-in, used or not


@dataclass(frozen=True)
class Session:
    account_id: int
    csrf: str  # every form of the session carries it (a request without it changes nothing)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign_in(conn: Connection, who: str, secret: str) -> str | None:
    """A new session's token, or None when ``who`` and ``secret`` name no account."""
    account = accounts.signing_in(conn, who.strip(), secret)
    if account is None:
        return None
    now = utcnow()
    repository.remove_expired(conn, now)
    token = secrets.token_urlsafe(32)
    repository.insert_session(conn, {"token_hash": _hash(token), "account_id": account["id"],
                                     "csrf": secrets.token_urlsafe(24), "created_at": now,
                                     "expires_at": now + LIFETIME})
    return token


def current(conn: Connection, token: str | None) -> Session | None:
    if not token or len(token) > 100:
        return None
    found = repository.current(conn, _hash(token), utcnow())
    return Session(found["account_id"], found["csrf"]) if found else None


def sign_out(conn: Connection, token: str) -> None:
    repository.remove(conn, _hash(token))


# ---- the captured inbox ----

def inbox(conn: Connection, settings: Settings, account_id: int, search: str, limit: int = 50) -> list[dict]:
    """Newest first; ``search``: an address (the recipient) or words of the subject."""
    search = search.strip()[:200]
    if "@" in search and " " not in search:
        return capture.listing(conn, account_id, settings, limit, 0, search, None)
    return capture.listing(conn, account_id, settings, limit, 0, None, search or None)


def captured(conn: Connection, settings: Settings, account_id: int, message_id: int) -> dict:
    return capture.inspect(conn, account_id, settings, message_id)


def raw(conn: Connection, settings: Settings, account_id: int, message_id: int) -> bytes:
    return capture.raw(conn, account_id, settings, message_id)


def attachment(conn: Connection, settings: Settings, account_id: int, message_id: int, index: int) -> tuple[str, bytes]:
    return capture.attachment(conn, account_id, settings, message_id, index)


def clear_inbox(conn: Connection, settings: Settings, account_id: int) -> int:
    return capture.clear(conn, account_id, settings)


# ---- the dashboard ----

PERIODS = (("1 day", 1), ("7 days", 7), ("30 days", 30))
RUNNING = (campaign_schemas.NEW, campaign_schemas.COPYING, campaign_schemas.SENDING)


def dashboard(conn: Connection, account_id: int) -> dict:
    """The account's mail over the last 1, 7 and 30 days (UTC calendar days, today included), a bar
    a day for 30 days, its campaigns scheduled or under way with their progress, and its queue."""
    days = outbox.activity(conn, account_id, 30)
    series = list(days.items())
    totals = {label: {k: sum(d[k] for _, d in series[-n:]) for k in outbox.ACTIVITY} for label, n in PERIODS}
    running = []
    for row, figures in campaigns.listing(conn, account_id, order="desc", statuses=list(RUNNING), scheduled=False,
                                          limit=20, offset=0):
        planned = row["all_email_qty"] or 0
        running.append({"id": row["id"], "name": row["name"] or row["subject"], "status": row["status"],
                        "status_text": campaign_schemas.STATUS.get(row["status"], ""), "send_date": row["send_date"],
                        "sent": figures["sent"], "planned": planned,
                        "percent": min(100, round(100 * figures["sent"] / planned)) if planned else 0})
    now = utcnow()
    due = [c for c in running if c["status"] != campaign_schemas.NEW or c["send_date"] is None or c["send_date"] <= now]
    return {"totals": totals, "days": series, "campaigns": running, "waiting": outbox.waiting(conn, account_id),
            "peak": max([d["sent"] for _, d in series] + [1]), "live": bool(due)}


# ---- lists and contacts ----

PAGE = 50


def lists(conn: Connection, account_id: int) -> list[dict]:
    return books.list_books(conn, account_id, 1000, 0)


def create_list(conn: Connection, account_id: int, name: str) -> int:
    return books.create_book(conn, account_id, name)


def rename_list(conn: Connection, account_id: int, book_id: int, name: str) -> None:
    books.rename_book(conn, account_id, book_id, name)


def delete_list(conn: Connection, account_id: int, book_id: int) -> None:
    books.delete_book(conn, account_id, book_id)


def one_list(conn: Connection, account_id: int, book_id: int) -> dict:
    return books.book(conn, account_id, book_id)


def contacts(conn: Connection, account_id: int, book_id: int, *, after: int = 0, email: str = "",
             variable: str = "", value: str = "") -> list[dict]:
    """A page of the list's contacts: after contact ``after`` (keyset: as fast on the last page of a
    million as on the first), or the one with address ``email``, or those whose ``variable`` is ``value``."""
    if email:
        found = books.memberships(conn, account_id, [email.strip().lower()])
        return [m for m in found if m.get("book_id") == book_id]
    if variable:
        return books.find_by_variable(conn, account_id, book_id, variable, value, PAGE, 0)
    return books.contacts_after(conn, account_id, book_id, after, PAGE)


def start_import(conn: Connection, account_id: int, book_id: int, filename: str, data: bytes) -> int:
    return imports.start(conn, account_id, book_id, filename, data)


def import_status(conn: Connection, account_id: int, import_id: int) -> dict:
    return imports.get(conn, account_id, import_id)


IMPORT_COLUMNS = imports.MAX_COLUMNS  # columns a CSV import takes (a list's export of up to 246 variables)


def map_import(conn: Connection, account_id: int, import_id: int, mapping: list[str]) -> None:
    imports.map_columns(conn, account_id, import_id, mapping)


# ---- webhooks ----

ACTIONS = webhook_schemas.ACTIONS


def hooks(conn: Connection, settings: Settings, account_id: int) -> list[dict]:
    return webhooks.listing(conn, settings, account_id)


def add_hook(conn: Connection, settings: Settings, account_id: int, url: str, actions: list[str], kind: str) -> None:
    webhooks.create(conn, settings, account_id, webhook_schemas.create_request(
        {"url": url, "actions": actions, "service": kind}))


def delete_hook(conn: Connection, account_id: int, webhook_id: int) -> None:
    webhooks.delete(conn, account_id, webhook_id)


def rotate_hook_secret(conn: Connection, settings: Settings, account_id: int, webhook_id: int) -> None:
    webhooks.rotate_secret(conn, settings, account_id, webhook_id)


def hook_log(conn: Connection, settings: Settings, account_id: int, webhook_id: int) -> tuple[dict, list[dict]]:
    return webhooks.get(conn, settings, account_id, webhook_id), [webhook_schemas.attempt(a) for a in
                                                                   webhooks.log(conn, account_id, webhook_id, 50)]


# ---- segments ----

def _rule(conn: Connection, account_id: int, book_id: int, join: str, conditions: list[dict]) -> books.SegmentRule:
    parsed = [filters.parse_filter({"variable_name": c["variable"], "operator": "and",
                                    "conditions": [{"condition": c["condition"], "value": c["value"]}]})
              for c in conditions]
    if not parsed:
        raise ApiError(8, "a segment needs at least one condition")
    return books.SegmentRule(book_id, "or" if join == "or" else "and", tuple(parsed), books.variables(conn, account_id,
                                                                                                    book_id))


COUNT_PART = 50_000  # contacts a live count reads a request (two conditions: ~0.07 s SQLite, ~0.1 s
# PostgreSQL; 100,000 came near 0.2 s): the page adds the parts up


def segment_count(conn: Connection, account_id: int, book_id: int, join: str, conditions: list[dict],
                  after: int = 0) -> dict:
    """The conditions' matches among the list's next ``COUNT_PART`` contacts after id ``after``, and the
    ``after`` to ask next (null: counted to the end)."""
    total, active, last = books.count_matching_part(conn, account_id, _rule(conn, account_id, book_id, join,
                                                                            conditions), after, COUNT_PART)
    return {"total": total, "active": active, "after": last}


def create_segment(conn: Connection, account_id: int, book_id: int, name: str, join: str,
                   conditions: list[dict]) -> int:
    rule = _rule(conn, account_id, book_id, join, conditions)
    if not name.strip() or len(name) > 255:
        raise ApiError(8, "a segment needs a name of at most 255 characters")
    return books.create_segment(conn, account_id, book_id, name.strip(), rule.join, list(rule.filters))


def list_segments(conn: Connection, account_id: int, book_id: int) -> list[dict]:
    return books.segments(conn, account_id, book_id)


# ---- senders and the blacklist ----

def senders_page(conn: Connection, account_id: int) -> list[dict]:
    return senders.list_senders(conn, account_id)


def add_sender(conn: Connection, settings: Settings, account_id: int, email: str, name: str) -> None:
    """A new sender, and its activation code mailed to it (captured here under ``capture://``)."""
    address = addresses.require(email)
    senders.add(conn, account_id, address, name, settings.free_mail_domains)
    senders.request_code(conn, account_id, address, settings.system_from)


def sender_action(conn: Connection, settings: Settings, account_id: int, action: str, email: str, code: str) -> None:
    if action == "activate":
        senders.activate(conn, account_id, email, code)
    elif action == "resend":
        senders.request_code(conn, account_id, email, settings.system_from)
    elif action == "delete":
        senders.delete(conn, account_id, email)
    else:
        raise ApiError(404, status=404)


def blacklist_page(conn: Connection, account_id: int) -> list[str]:
    return blacklist.emails(conn, account_id, 500, 0)


def add_to_blacklist(conn: Connection, account_id: int, text: str, comment: str) -> int:
    """Every address in ``text`` (one a line, or separated by commas or spaces); how many."""
    found = [a for a in (addresses.normalize(w) for w in text.replace(",", " ").split()) if a]
    if not found:
        raise ApiError(8, "no valid address in the text")
    blacklist.add(conn, account_id, found[:10_000], comment[:255])
    return len(found)


def remove_from_blacklist(conn: Connection, account_id: int, email: str) -> None:
    blacklist.remove(conn, account_id, [email])


# ---- settings ----

def settings_page(conn: Connection, account: dict, limits: accounts.Limits) -> dict:
    """The account's API credentials (the client_id; the secret is shown only when made), plan, balance and usage."""
    return {"client_id": account["client_id"], "detail": balance.detail(conn, account, limits)}


def rotate_api_secret(conn: Connection, account_id: int) -> dict:
    """A new client_secret: the old one and the API tokens made with it stop working at once."""
    return oauth.rotate_secret(conn, str(account_id))
