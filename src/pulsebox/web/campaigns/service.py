"""What the campaign pages show and do, from the campaigns area's service, and the lists', senders' and
templates' for the form's choices. The forms' fields are read by the API's own parsers here, inside the
write, so a campaign is made or changed by exactly the rules of ``POST`` and ``PATCH /campaigns``."""

from __future__ import annotations

from sqlalchemy import Connection

from pulsebox.accounts import service as accounts
from pulsebox.addressbooks import service as books
from pulsebox.campaigns import schemas as campaign_schemas
from pulsebox.campaigns import service as campaigns
from pulsebox.config import Settings
from pulsebox.errors import ApiError
from pulsebox.senders import service as senders
from pulsebox.smtp import schemas as smtp_schemas
from pulsebox.smtp import service as smtp
from pulsebox.templates import service as templates

PAGE = 20  # campaigns a page of the list (each one under way counts its waiting copies)
RECIPIENTS = 50  # copies a page of the recipients behind a figure
CHOICES = 1000  # lists and segments the form offers
TEMPLATES = 200  # templates the form offers (the newest)
WORDS = {"opened": 3, "clicked": 4}  # figures named by a word rather than their code


def page(conn: Connection, account_id: int, before: int) -> tuple[list[dict], int | None]:
    """A page of the account's campaigns, newest first, before id ``before``; and where the next begins."""
    rows = campaigns.newest(conn, account_id, before, PAGE + 1)
    return rows[:PAGE], rows[PAGE - 1]["id"] if len(rows) > PAGE else None


def choices(conn: Connection, account_id: int) -> dict:
    """What the campaign form offers: the account's lists, their segments, its templates and the system
    ones (without their bodies), and its active senders (none: the address is typed)."""
    return {"lists": books.list_books(conn, account_id, CHOICES, 0),
            "segments": books.account_segments(conn, account_id, CHOICES),
            "templates": templates.recent(conn, account_id, None, TEMPLATES),
            "senders": [s for s in senders.list_senders(conn, account_id) if s["active"]]}


def _sender_name(conn: Connection, account_id: int, params: dict) -> dict:
    """The chosen sender's own name when the form left the name empty (the API needs one)."""
    if (params.get("sender_name") or "").strip():
        return params
    email = (params.get("sender_email") or "").strip().lower()
    named = next((s["name"] for s in senders.list_senders(conn, account_id) if s["email"] == email), "")
    return {**params, "sender_name": named}


def create(conn: Connection, settings: Settings, account: dict, limits: accounts.Limits, params: dict) -> int:
    """A campaign from the form's fields, read as ``POST /campaigns`` reads its request; its id."""
    request = campaign_schemas.create_request(_sender_name(conn, account["id"], params))
    return campaigns.create(conn, account, limits, request, settings)["id"]


def test_send(conn: Connection, settings: Settings, account_id: int, params: dict) -> str:
    """The campaign's message to one address, now, as a transactional message (read as ``POST
    /smtp/emails`` reads its request)."""
    sender = params["email"]["from"]
    named = _sender_name(conn, account_id, {"sender_name": sender["name"], "sender_email": sender["email"]})
    email = {**params["email"], "from": {"name": named["sender_name"], "email": sender["email"]}}
    return smtp.accept(conn, account_id, smtp_schemas.send_request({"email": email}), settings)


def _described(row: dict) -> dict:
    status = row["status"]
    return {**row, "status_text": campaign_schemas.STATUS.get(status, str(status)),
            "editable": status in campaign_schemas.EDITABLE,
            "cancellable": status in (*campaign_schemas.EDITABLE, *campaign_schemas.RUNNING)}


def _audience(conn: Connection, account_id: int, row: dict) -> dict:
    """The names of the campaign's lists and of its segment (one deleted since: unnamed)."""
    names = []
    for book_id in row["list_ids"] or []:
        try:
            names.append(books.book(conn, account_id, book_id)["name"])
        except ApiError:
            names.append(f"list {book_id} (deleted)")
    segment = None
    if row["segment_id"] is not None:
        try:
            segment = books.segment(conn, account_id, row["segment_id"])["name"]
        except ApiError:
            segment = f"segment {row['segment_id']} (deleted)"
    return {"list_names": names, "segment_name": segment}


def campaign(conn: Connection, account_id: int, campaign_id: int) -> dict:
    """The campaign (error 802 when the account has none of that id), with what may be done to it."""
    row = campaigns.get(conn, account_id, campaign_id)
    return {**_described(row), **_audience(conn, account_id, row)}


def edit_refusal(row: dict) -> str:
    """The API's answer to editing this campaign now ("" when ``PATCH`` would take it)."""
    try:
        campaigns.require_editable(row)
    except ApiError as refused:
        return refused.message
    return ""


def report(conn: Connection, account_id: int, campaign_id: int) -> dict:
    """Everything the report shows: the campaign, its per-status figures (``statistics.general``), and
    its opens and clicks over time, clicks per link and opens by country."""
    row = campaign(conn, account_id, campaign_id)
    return {"campaign": row, "general": campaigns.general(conn, row),
            **campaigns.report_figures(conn, account_id, row)}


def edit(conn: Connection, settings: Settings, account_id: int, campaign_id: int, params: dict) -> None:
    """The form's changes, read and applied as ``PATCH /campaigns/{id}`` reads and applies them."""
    campaigns.edit(conn, account_id, campaign_id, campaign_schemas.edit_request(_sender_name(conn, account_id, params)),
                   settings)


def cancel(conn: Connection, account_id: int, campaign_id: int) -> None:
    """As ``DELETE /campaigns/{id}``: copies not yet handed to a transport are not sent."""
    campaigns.cancel(conn, account_id, campaign_id)


def figure(text: str) -> tuple[campaigns.Figure, str] | None:
    """``?figure=``: a per-email code of statistics.general ("1"), ``opened``, ``clicked``,
    ``link:<url>`` or ``country:<country>`` ("unknown": none known); with its words. None: no such figure."""
    text = text.strip()
    code = WORDS.get(text, int(text) if text.isascii() and text.isdigit() and len(text) < 3 else None)
    if code is not None:
        return (campaigns.Figure(code=code), campaigns.EXPLAIN[code]) if code in campaigns.EXPLAIN else None
    kind, _, value = text.partition(":")
    if kind == "link" and value:
        return campaigns.Figure(url=value), f"Clicked {value}"
    if kind == "country" and value:
        return campaigns.Figure(country="" if value == "unknown" else value), f"Opened in {value}"
    return None


def recipients(conn: Connection, account_id: int, campaign_id: int, wanted: campaigns.Figure,
               after: int) -> tuple[list[dict], int | None]:
    """A page of the copies behind a figure, after copy ``after``; and where the next page begins."""
    return campaigns.recipients(conn, account_id, campaign_id, wanted, after, RECIPIENTS)
