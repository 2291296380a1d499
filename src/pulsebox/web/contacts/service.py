"""What the contacts section shows and does, from the areas' services: one address across the account
(its lists, the blacklist, the SMTP unsubscribe list, its campaigns and its newest events), the two
changes its page offers, and a list's contacts as CSV, a keyset batch at a time."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

from sqlalchemy import Connection

from pulsebox.addressbooks import imports
from pulsebox.addressbooks import service as books
from pulsebox.addressbooks.schemas import CONTACT_STATUS, typed_variables
from pulsebox.blacklist import service as blacklist
from pulsebox.campaigns import service as campaigns
from pulsebox.emails import service as emails
from pulsebox.errors import ApiError
from pulsebox.outbox import service as outbox

RECENT = 100  # events on a contact's page, and campaigns: the newest
BATCH = 5000  # contacts an export reads a transaction

KINDS = {"smtp": "Transactional", "campaign": "Campaign", "system": "System notice"}
OUTCOMES = {"queued": "Queued", "sending": "Being sent", "deferred": "Deferred: will be retried",
            "sent": "Sent", "failed": "Not delivered", "bounced": "Bounced",
            "complained": "Sent, then marked as spam", "suppressed": "Not sent"}
EVENTS = {"open": "Opened", "click": "Clicked", "unsubscribe": "Unsubscribed"}
BOUNCES = {"hard": "Hard bounce", "soft": "Soft bounce", "complaint": "Spam complaint"}


# ---- a contact's page ----

def contact(conn: Connection, account_id: int, email: str) -> dict:
    """Everything the account knows of the address ``email`` (in normal form); error 17 when it
    knows nothing: in no list, never mailed, on neither the blacklist nor the unsubscribe list."""
    rows, types = emails.memberships(conn, account_id, [email])
    history = outbox.to_address(conn, account_id, email, limit=RECENT)
    found = {"email": email, "blacklisted": bool(blacklist.listed(conn, account_id, [email])),
             "unsubscribed": bool(outbox.unsubscribed(conn, account_id, [email])),
             "lists": [_membership(r, types.get(r["book_id"], {})) for r in rows],
             "campaigns": campaigns.of_address(conn, account_id, email, RECENT), "events": _timeline(history)}
    if not (rows or history or found["blacklisted"] or found["unsubscribed"]):
        raise ApiError(17)
    return found


def _membership(row: dict, types: dict[str, str]) -> dict:
    return {"id": row["book_id"], "name": row["book_name"], "status": row["status"],
            "status_text": CONTACT_STATUS.get(row["status"], str(row["status"])), "added": row["added_at"],
            "phone": row["phone"] or "", "source": row["source"] or "",
            "variables": typed_variables(row["variables"] or {}, types)}


def _timeline(copies: list[dict]) -> list[dict]:
    """The copies' outcomes, opens, clicks, unsubscribes, bounces and complaints, newest first (at most
    ``RECENT``). Times are to the second: within one, what came back comes above what was sent, and a
    copy's events keep their order."""
    entries = []
    for c in copies:
        about = {"subject": c["subject"], "kind": KINDS.get(c["kind"], c["kind"]), "href": _href(c)}
        outcome = OUTCOMES.get(c["status"], c["status"])
        detail = c["reason"] if c["status"] in ("suppressed", "bounced", "complained") else c["smtp_answer_data"]
        entries.append((c["sent_at"] or c["updated_at"] or c["created_at"], 0, c["delivery_id"], 0,
                        {**about, "what": outcome, "detail": detail or ""}))
        for i, e in enumerate(c["events"], 1):
            where = " · ".join(v for v in (e["country"], e["browser"], e["os"]) if v)
            entries.append((e["created_at"], 1, c["delivery_id"], i, {
                **about, "what": EVENTS.get(e["kind"], e["kind"]), "detail": e["url"] or where}))
        for i, b in enumerate(c["bounces"], len(c["events"]) + 1):
            entries.append((b["created_at"], 1, c["delivery_id"], i, {
                **about, "what": BOUNCES.get(b["kind"], b["kind"]),
                "detail": " ".join(v for v in (b["status"], (b["diagnostic"] or "")[:300]) if v)}))
    entries.sort(key=lambda e: e[:4], reverse=True)
    return [{**entry, "at": at} for at, *_, entry in entries[:RECENT]]


def _href(copy: dict) -> str | None:
    """Where a copy's message is shown: a campaign's report, the transactional log's message page, or
    (a system notice) the captured inbox's copy when mail is captured."""
    if copy["kind"] == "campaign" and copy["task_id"] is not None:
        return f"/ui/campaigns/{copy['task_id']}"
    if copy["kind"] == "smtp":
        return f"/ui/log/{copy['message_id']}"
    return f"/ui/inbox/{copy['delivery_id']}" if copy["capture_key"] else None


def remove_from_list(conn: Connection, account_id: int, email: str, book_id: int) -> bool:
    """Take the address off one list of the account (error 213: not the account's list), as
    ``DELETE /addressbooks/{id}/emails`` does; whether the account still knows the address."""
    books.delete_contacts(conn, account_id, book_id, [email])
    try:
        contact(conn, account_id, email)
    except ApiError:
        return False
    return True


def set_blacklisted(conn: Connection, account_id: int, email: str, listed: bool) -> None:
    """Put the address on the account's blacklist (no mail of any kind goes to it) or take it off."""
    if listed:
        blacklist.add(conn, account_id, [email], "from its contact page")
    else:
        blacklist.remove(conn, account_id, [email])


# ---- a list's CSV export ----

@dataclass(frozen=True)
class Export:
    """What an export writes: the list's contacts (those ``rule`` selects, when a segment's) with
    the list's variables as columns, in the order the list declared them."""

    book_id: int
    variables: tuple[str, ...]
    rule: books.SegmentRule | None


def export_of(conn: Connection, account_id: int, book_id: int, segment_id: int | None) -> Export:
    """The export of one of the account's lists (error 213 otherwise), or of one of its segments
    (error 703: no such segment of this list)."""
    names = tuple(books.variables(conn, account_id, book_id))
    rule = None
    if segment_id is not None:
        books.segment(conn, account_id, segment_id, book_id)
        rule = books.segment_rule(conn, account_id, segment_id)
    return Export(book_id, names, rule)


def header(export: Export) -> str:
    """The header row, after a byte-order mark (so a spreadsheet reads the file as UTF-8)."""
    return "\ufeff" + _csv([[imports.escaped(c) for c in (*imports.EXPORTED, *export.variables)]])


def batch(conn: Connection, account_id: int, export: Export, after: int) -> tuple[str, int | None]:
    """The rows of the next ``BATCH`` contacts after contact id ``after`` (those the segment selects, when
    a segment's), in the order they were added (keyset on the (book_id, id) index: the table read in its
    own order, as cheap at the end of a million as at the start), and the id to continue after, or None
    at the end (also when the list is gone meanwhile)."""
    try:
        if export.rule is None:
            rows = books.contacts_after(conn, account_id, export.book_id, after, BATCH)
            last = rows[-1]["id"] if len(rows) == BATCH else None
        else:
            rows, last = books.matching_after(conn, account_id, export.rule, after, BATCH)
    except ApiError:  # the list was deleted
        return "", None
    return _csv([_row(r, export.variables) for r in rows]), last


_MAY_NEED_QUOTE = imports.FORMULA | {"'"}  # the first characters imports.escaped looks at


def _row(contact: dict, names: tuple[str, ...]) -> list[str]:
    values = contact["variables"] or {}
    added = contact["added_at"].isoformat(" ", "seconds") if contact["added_at"] else ""
    cells = [contact["email"], contact["phone"] or "", CONTACT_STATUS.get(contact["status"], str(contact["status"])),
             added, *[_cell(values.get(n)) for n in names]]
    return [imports.escaped(c) if c[:1] in _MAY_NEED_QUOTE else c for c in cells]  # a call only where it may


def _cell(value: object) -> str:
    """A variable's value as text: a string as is, a number as Python writes it (exact, and read back
    the same by the import), anything else as JSON; nothing for a contact without it."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def _csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()
