"""Campaign request and answer shapes (document 004, "Campaigns"; 002 for older shapes).

``POST /campaigns`` takes ``sender_name``, ``sender_email``, ``subject``, ``body`` (base64 html) or
``template_id``, ``list_id`` (one id or a list) or ``segment_id``, ``name``, ``send_date``
(``Y-m-d H:i:s``, not in the past), ``is_test``, ``type=draft``, ``use_dynamic_list``,
``attachments`` / ``attachments_binary`` (five at most; pysendpulse sends a JSON string, the Node
client ``""``), ``body_amp`` (base64) and ``stats`` (``opens``, ``clicks``, ``utm_campaign``).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime

from pulsebox import addresses
from pulsebox.delivery.message import Attachment
from pulsebox.errors import ApiError
from pulsebox.models import utcnow
from pulsebox.smtp.schemas import MAX_HTML, MAX_SUBJECT, attachments
from pulsebox.wire import MAX_ID, as_bool, as_id, as_int, as_list, as_text, b64_text

MAX_ATTACHMENTS = 5  # document 004
MAX_NAME = 255

# document 004, "Possible campaign statuses" (the ones Pulsebox moves through)
NEW = 0  # scheduled: waits for its send_date (ours: SendPulse shows no code for "scheduled")
SENDING = 2
SENT = 3
TEST = 4
TEST_SENT = 8
NO_ACTIVE_ADDRESSES = 12
COPYING = 13
CANCELLED = 16
DRAFT = 26
STATUS = {
    0: "New", 1: "Pending (in moderation)", 2: "Sending in progress", 3: "Sent",
    4: "Test campaign (sent to user's email address)", 5: "Campaign blocked (by the service)",
    6: "The campaign marked to be deleted", 7: "Status updating (status 3 will follow)", 8: "Test campaign sent",
    9: "Delivery in progress", 10: "The campaign being processed to be sent out",
    11: "Awaiting the user's response to the moderator's query", 12: "No active addresses",
    13: "Campaign creation in progress", 14: "Campaign created and sent to the queue",
    15: "Campaign awaiting A/B testing results", 16: "Campaign canceled by a user", 22: "Sending partially",
    23: "Sent partially", 25: "Campaign partially sent and blocked by service admin", 26: "Draft",
    27: "Requires editing", 28: "Scheduled to resend the message to unread", 33: "Automations. Balance exceeded",
    36: "Automations draft",
}
EDITABLE = (NEW, DRAFT)
RUNNING = (COPYING, SENDING, TEST)
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass
class CampaignRequest:
    """A campaign as asked for; ``body`` may still need its template (``template_id``)."""

    sender_name: str
    sender_email: str
    subject: str
    body: str | None
    template_id: str | None
    list_ids: list[int]
    segment_id: int | None
    name: str = ""
    send_date: datetime | None = None
    is_test: bool = False
    draft: bool = False
    dynamic: bool = False
    attachments: list[Attachment] = field(default_factory=list)
    body_amp: str | None = None
    track_opens: bool = True
    track_clicks: bool = True
    utm_campaign: str | None = None


def send_date(value: object) -> datetime | None:
    text = as_text(value)
    if not text:
        return None
    try:
        when = datetime.strptime(text, DATE_FORMAT)
    except ValueError:
        raise ApiError(799) from None
    if when < utcnow():
        raise ApiError(799, "send_date must not be in the past (Y-m-d H:i:s, UTC)")
    return when


def _body(params: dict, key: str) -> str | None:
    raw = params.get(key)
    if raw in (None, ""):
        return None
    if not isinstance(raw, str):
        raise ApiError(721 if key == "body" else 8, f"{key} must be base64 of the html")
    html = b64_text(raw)
    if len(html) > MAX_HTML:
        raise ApiError(8, f"{key} must be at most {MAX_HTML} characters")
    return html if html.strip() else None


def _list_ids(value: object) -> list[int]:
    ids = []
    for item in as_list(value):
        ids.append(as_id(item, code=703, field="list_id"))
    return list(dict.fromkeys(ids))


def _stats(value: object) -> tuple[bool, bool, str | None]:
    if value in (None, "", [], {}):
        return True, True, None
    if not isinstance(value, dict):
        raise ApiError(8, "stats must be an object {opens, clicks, utm_campaign}")
    utm = as_text(value.get("utm_campaign")) or None
    if utm and len(utm) > MAX_NAME:
        raise ApiError(8, f"stats.utm_campaign must be at most {MAX_NAME} characters")
    return (as_bool(value.get("opens", True)), as_bool(value.get("clicks", True)), utm)


def _template_ref(value: object) -> str | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip():
        raise ApiError(8, "template_id must be a template id (real_id or id)")
    return str(value).strip()


def _sender(params: dict) -> tuple[str, str]:
    name = (as_text(params.get("sender_name")) or "").strip()
    email = as_text(params.get("sender_email"))
    if not name or not email:
        raise ApiError(701)
    if len(name) > MAX_NAME:
        raise ApiError(8, f"sender_name must be at most {MAX_NAME} characters")
    return name, addresses.require(email)


def _subject(params: dict) -> str:
    subject = as_text(params.get("subject")) or ""
    if not subject.strip():
        raise ApiError(720)
    if len(subject) > MAX_SUBJECT:
        raise ApiError(8, f"subject must be at most {MAX_SUBJECT} characters")
    return subject


def _name(params: dict) -> str:
    name = as_text(params.get("name")) or ""
    if len(name) > MAX_NAME:
        raise ApiError(8, f"name must be at most {MAX_NAME} characters")
    return name


def create_request(params: dict) -> CampaignRequest:
    sender_name, sender_email = _sender(params)
    subject = _subject(params)
    body, template_id = _body(params, "body"), _template_ref(params.get("template_id"))
    if body is None and template_id is None:
        raise ApiError(721)
    list_ids = _list_ids(params.get("list_id"))
    segment = params.get("segment_id")
    segment_id = as_id(segment, code=703, field="segment_id") if segment not in (None, "") else None
    if not list_ids and segment_id is None:
        raise ApiError(722)
    opens, clicks, utm = _stats(params.get("stats"))
    files = attachments(params, MAX_ATTACHMENTS)
    is_test, draft = as_bool(params.get("is_test")), (as_text(params.get("type")) or "").lower() == "draft"
    if is_test and draft:  # a test goes at once, a draft never: no campaign can be both
        raise ApiError(800, "Invalid operation: a test send cannot be a draft")
    return CampaignRequest(
        sender_name=sender_name, sender_email=sender_email, subject=subject, body=body, template_id=template_id,
        list_ids=list_ids, segment_id=segment_id, name=_name(params), send_date=send_date(params.get("send_date")),
        is_test=is_test, draft=draft,
        dynamic=as_bool(params.get("use_dynamic_list")), attachments=files,
        body_amp=_body(params, "body_amp"), track_opens=opens, track_clicks=clicks, utm_campaign=utm)


@dataclass
class Edit:
    """``PATCH /campaigns/{id}``: what changes (None: unchanged)."""

    name: str | None
    sender_name: str | None
    sender_email: str | None
    subject: str | None
    body: str | None
    template_id: str | None
    send_date: datetime | None


def edit_request(params: dict) -> Edit:
    sender_name = sender_email = None
    if params.get("sender_name") not in (None, "") or params.get("sender_email") not in (None, ""):
        sender_name, sender_email = _sender(params)
    subject = _subject(params) if params.get("subject") is not None else None
    return Edit(name=_name(params) if params.get("name") is not None else None,
                sender_name=sender_name, sender_email=sender_email, subject=subject,
                body=_body(params, "body"), template_id=_template_ref(params.get("template_id")),
                send_date=send_date(params.get("send_date")))


def campaign_id(path: dict) -> int:
    return as_id(path.get("id"), code=802, field="campaign id")


def listing_filters(params: dict) -> tuple[str, list[int], bool]:
    order = (as_text(params.get("order")) or "desc").lower()
    if order not in ("asc", "desc"):
        raise ApiError(8, "order must be asc or desc")
    statuses = [as_int(s, field="status") for s in as_list(params.get("status"))]
    if any(not 0 <= s <= MAX_ID for s in statuses):
        raise ApiError(8, "status must be campaign status codes")
    return order, statuses, as_bool(params.get("planed"))


# ---- answers ----

def stamp(value: datetime | None) -> str | None:
    return value.strftime(DATE_FORMAT) if value else None


def _attachments_out(row: dict) -> str | dict:
    files = row["attachments"] or []
    return {a["filename"]: len(base64.b64decode(a["content"])) for a in files} if files else ""


def _money(row: dict) -> dict:
    return {"all_email_qty": row["all_email_qty"], "tariff_email_qty": row["tariff_email_qty"],
            "paid_email_qty": row["paid_email_qty"], "overdraft_price": row["overdraft_price"],
            "company_price": row["company_price"], "overdraft_currency": row["currency"]}


def _message(row: dict, *, body: bool) -> dict:
    out = {"sender_name": row["sender_name"], "sender_email": row["sender_email"], "subject": row["subject"]}
    if body:
        out |= {"body": row["body"], "preheader": ""}
    out |= {"attachments": _attachments_out(row), "list_id": row["list_ids"][0] if len(row["list_ids"]) == 1
            else row["list_ids"]}
    return out


def created(row: dict) -> dict:
    """The answer to ``POST /campaigns`` (document 004's field names, its spelling included)."""
    return {"id": row["id"], "status": row["status"], "count": row["all_email_qty"],
            "tariff_email_qty": row["tariff_email_qty"], "overdraft_price": row["overdraft_price"],
            "ovedraft_currency": row["currency"]}


def summary(row: dict, figures: dict) -> dict:
    """One campaign of ``GET /campaigns``."""
    return {"id": row["id"], "name": row["name"], "status": row["status"], "is_sms": False, "is_viber": False,
            "send_date": stamp(row["send_date"] or row["created_at"]), **_money(row),
            "message": _message(row, body=False), "statistics": figures}


def detail(row: dict, general: list[dict], clicks: list[dict], permalink: str) -> dict:
    """``GET /campaigns/{id}``."""
    return {"id": row["id"], "name": row["name"], "is_sms": False, "is_viber": False,
            "message": _message(row, body=True),
            "external_stat": {"check_open_email": row["track_opens"], "check_redirect_link": row["track_clicks"]},
            "status": row["status"], **_money(row), "send_date": stamp(row["send_date"] or row["created_at"]),
            "permalink": permalink, "statistics": {"general": general, "clicks": clicks}}
