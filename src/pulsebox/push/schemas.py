"""Web push request and answer shapes (document 002, "Web Push Notifications", and the newer routes
the PHP client calls: ``/push/websites/info/{id}``, ``/push/websites/{id}/code``, ``/push/tasks/{id}``).

Clients send numbers as strings (pysendpulse's ``ttl``), structured fields as JSON strings
(``filter``, ``buttons``, ``filter_region``, ``filter_url``: ``wire`` decodes them), ``filter_browsers``
for ``filter_browser`` (the PHP example) and ``send_date`` ``0001-01-01 00:00:00`` for "now" (a Go
client). Answers carry integers, as the newer documents and a strictly typed client need, except
where SendPulse's own examples quote them: a task's ``send`` count and a website's ``status`` in
``/push/websites/info/{id}`` (``"active"``).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime

from pulsebox import filters
from pulsebox.errors import NOT_FOUND, ApiError
from pulsebox.models import utcnow
from pulsebox.wire import as_id, as_int, as_list, as_text

# a push task's status (SendPulse documents none of its codes; its finished example shows 3)
WAITING, SENDING, SENT = 1, 2, 3
# a subscription's status (SendPulse's: 1 active, 0 deactivated, 6 unsubscribed)
ACTIVE, DEACTIVATED, UNSUBSCRIBED = 1, 0, 6

MAX_TTL = 86400  # seconds (SendPulse's limit)
MAX_BUTTONS = 2
MAX_TITLE, MAX_BODY, MAX_URL = 255, 2000, 2000
MAX_VARIABLES, MAX_VARIABLE = 50, 1000
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
NO_DATE = "0001-01-01 00:00:00"


def missing(what: str) -> ApiError:
    return ApiError(8, f"{what} is required")


def invalid(message: str) -> ApiError:
    return ApiError(8, message)


def not_found(what: str) -> ApiError:
    return ApiError(NOT_FOUND, f"{what} not found", status=404)


def record_id(path: dict, what: str) -> int:
    try:
        return as_id(path.get("id"), code=NOT_FOUND, field=what)
    except ApiError:
        raise not_found(what) from None


def _text(params: dict, key: str, limit: int, *, required: bool = False) -> str:
    text = as_text(params.get(key)) or ""
    if required and not text:
        raise missing(key)
    if len(text) > limit:
        raise invalid(f"{key} must be at most {limit} characters")
    return text


def http_url(value: object, what: str) -> str:
    """An absolute http(s) URL (a link a notification opens, a picture it shows)."""
    text = as_text(value) or ""
    if len(text) > MAX_URL or not text.lower().startswith(("http://", "https://")) or len(text) < 10 \
            or any(c.isspace() or ord(c) < 32 for c in text):
        raise invalid(f"{what} must be an http(s) URL of at most {MAX_URL} characters")
    return text


def _date(value: object, what: str) -> datetime | None:
    text = as_text(value)
    if not text or text == NO_DATE:
        return None
    for form in (DATE_FORMAT, "%Y-%m-%d"):
        try:
            return datetime.strptime(text, form)
        except ValueError:
            continue
    raise invalid(f"{what} must be a date: Y-m-d H:i:s (UTC)")


@dataclass(frozen=True)
class TaskRequest:
    title: str
    website_id: int
    body: str
    ttl: int
    link: str | None = None
    icon: str | Picture | None = None  # a URL, or a picture uploaded with the task (served by Pulsebox)
    image: str | Picture | None = None
    buttons: tuple[dict, ...] = ()
    filters: dict = field(default_factory=dict)  # lang, browser, region, url, filter: what to_json keeps
    send_date: datetime | None = None
    stretch_time: int | None = None


def _comma_list(value: object, what: str) -> list[str]:
    items = [part.strip() for item in as_list(value) for part in str(as_text(item) or "").split(",")]
    items = [i for i in items if i]
    if len(items) > 50 or any(len(i) > 100 for i in items):
        raise invalid(f"{what}: at most 50 values of 100 characters")
    return items


@dataclass(frozen=True)
class Picture:
    """An icon or image uploaded as SendPulse's ``{name, data}`` (data: base64 of a JPG, PNG or GIF)."""

    name: str
    content_type: str
    data: bytes


MAX_PICTURE = 200 * 1024  # bytes (SendPulse's limit for an image)
_PICTURE_TYPES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF87a", "image/gif"),
                  (b"GIF89a", "image/gif"))


def _picture(value: object, what: str) -> str | Picture | None:
    if value in (None, "", {}):
        return None
    if not isinstance(value, dict):
        return http_url(value, what)
    raw = as_text(value.get("data")) or ""
    if raw.startswith("data:"):  # a data URL: its base64 part
        raw = raw.partition(",")[2]
    if not raw or len(raw) > MAX_PICTURE * 4 // 3 + 8:
        raise invalid(f"{what}: data must be base64 of a picture of at most 200 KB")
    try:
        data = base64.b64decode("".join(raw.split()), validate=True)
    except ValueError:
        raise invalid(f"{what}: data is not valid base64") from None
    kind = next((t for magic, t in _PICTURE_TYPES if data.startswith(magic)), None)
    if kind is None or len(data) > MAX_PICTURE:
        raise invalid(f"{what}: a JPG, PNG or GIF of at most 200 KB")
    return Picture(name=(as_text(value.get("name")) or what)[:255], content_type=kind, data=data)


def _buttons(value: object) -> tuple[dict, ...]:
    items = [value] if isinstance(value, dict) else as_list(value)
    if len(items) > MAX_BUTTONS:
        raise invalid(f"buttons: at most {MAX_BUTTONS}")
    out = []
    for item in items:
        if not isinstance(item, dict):
            raise invalid("buttons: each is an object {text, link}")
        text = as_text(item.get("text", item.get("title"))) or ""
        if not text or len(text) > 50:
            raise invalid("buttons: each needs a text of at most 50 characters")
        out.append({"text": text, "link": http_url(item.get("link"), "a button's link")})
    return tuple(out)


def _url_filter(value: object) -> dict | None:
    if value in (None, "", {}):
        return None
    if isinstance(value, str):
        value = {"type": "include", "search": value}
    if not isinstance(value, dict) or value.get("type") not in ("direct", "include", "exclude"):
        raise invalid("filter_url must be {type: direct|include|exclude, search}")
    search = value.get("search")
    found = [str(as_text(s) or "") for s in as_list(search)] if value["type"] == "direct" else [as_text(search) or ""]
    if not any(found) or any(len(s) > MAX_URL for s in found):
        raise invalid("filter_url needs a search of at most 2000 characters")
    return {"type": value["type"], "search": found}


def task_request(params: dict) -> TaskRequest:
    title = _text(params, "title", MAX_TITLE, required=True)
    body = _text(params, "body", MAX_BODY, required=True)
    if params.get("website_id") in (None, ""):
        raise missing("website_id")
    website_id = as_id(params.get("website_id"), code=8, field="website_id")
    if params.get("ttl") in (None, ""):
        raise missing("ttl")
    ttl = as_int(params.get("ttl"), field="ttl")
    if not 0 < ttl <= MAX_TTL:
        raise invalid(f"ttl must be from 1 to {MAX_TTL} seconds")
    chosen: dict = {}
    if lang := _comma_list(params.get("filter_lang"), "filter_lang"):
        chosen["lang"] = [x.lower() for x in lang]
    if browser := _comma_list(params.get("filter_browser", params.get("filter_browsers")), "filter_browser"):
        chosen["browser"] = [x.lower() for x in browser]
    if region := _comma_list(params.get("filter_region"), "filter_region"):
        chosen["region"] = [x.upper() for x in region]
    if (url := _url_filter(params.get("filter_url"))) is not None:
        chosen["url"] = url
    raw = params.get("filter")
    if raw not in (None, "", {}, []):
        chosen["filter"] = [filters.to_json(filters.parse_filter(f)) for f in (raw if isinstance(raw, list) else [raw])]
        if len(chosen["filter"]) > filters.MAX_CONDITIONS:
            raise invalid(f"filter: at most {filters.MAX_CONDITIONS}")
    stretch = params.get("stretch_time")
    stretch_time = None if stretch in (None, "") else as_int(stretch, field="stretch_time")
    if stretch_time is not None and not 0 <= stretch_time <= 7 * 86400:
        raise invalid("stretch_time must be from 0 to 604800 seconds")
    send_date = _date(params.get("send_date"), "send_date")
    if send_date is not None and send_date < utcnow().replace(microsecond=0):
        raise ApiError(799, "send_date must not be in the past (Y-m-d H:i:s, UTC)")
    link = params.get("link")
    return TaskRequest(title=title, website_id=website_id, body=body, ttl=ttl,
                       link=None if link in (None, "") else http_url(link, "link"),
                       icon=_picture(params.get("icon"), "icon"), image=_picture(params.get("image"), "image"),
                       buttons=_buttons(params.get("buttons")), filters=chosen, send_date=send_date,
                       stretch_time=stretch_time)


@dataclass(frozen=True)
class TaskQuery:
    limit: int
    offset: int
    website_id: int | None
    since: datetime | None
    until: datetime | None


def task_query(params: dict) -> TaskQuery:
    limit, offset = page(params)
    website = params.get("website_id")
    return TaskQuery(limit, offset, None if website in (None, "") else as_id(website, code=8, field="website_id"),
                     _date(params.get("from"), "from"), _date(params.get("to"), "to"))


def page(params: dict) -> tuple[int, int]:
    """``limit``/``offset``; ``limit`` 0 (pysendpulse sends it when none was given) means the default, 100."""
    limit = params.get("limit")
    offset = params.get("offset")
    limit = 0 if limit in (None, "") else as_int(limit, field="limit")
    offset = 0 if offset in (None, "") else as_int(offset, field="offset")
    if limit < 0 or offset < 0:
        raise invalid("limit and offset must not be negative")
    return min(limit or 100, 100), offset


def website_request(params: dict) -> str:
    if params.get("url") in (None, ""):
        raise missing("url")
    return http_url(params.get("url"), "url")


def state_request(params: dict) -> tuple[int, int]:
    if params.get("id") in (None, ""):
        raise missing("id")
    subscription_id = as_id(params.get("id"), code=8, field="id")
    state = as_int(params.get("state"), field="state") if params.get("state") not in (None, "") else None
    if state not in (0, 1):
        raise invalid("state must be 1 (active) or 0 (deactivated)")
    return subscription_id, state


@dataclass(frozen=True)
class Subscribe:
    appkey: str
    endpoint: str
    p256dh: str
    auth: str
    lang: str
    browser: str
    os: str
    url: str
    variables: dict
    old_endpoint: str | None


def subscribe_request(params: dict) -> Subscribe:
    """``POST /push/subscribe`` (ours, public): what the snippet or a site's own code sends."""
    appkey = as_text(params.get("appkey")) or ""
    subscription = params.get("subscription")
    if not appkey or len(appkey) > 40 or not isinstance(subscription, dict):
        raise invalid("appkey and subscription (PushSubscription.toJSON()) are required")
    endpoint = as_text(subscription.get("endpoint")) or ""
    keys = subscription.get("keys") if isinstance(subscription.get("keys"), dict) else {}
    p256dh, auth = as_text(keys.get("p256dh")) or "", as_text(keys.get("auth")) or ""
    if not endpoint.lower().startswith(("https://", "http://")) or len(endpoint) > 1000:
        raise invalid("subscription.endpoint must be an http(s) URL of at most 1000 characters")
    if not p256dh or not auth or len(p256dh) > 100 or len(auth) > 40:
        raise invalid("subscription.keys.p256dh and subscription.keys.auth are required")
    raw = params.get("variables")
    variables = raw if isinstance(raw, dict) else {}
    if len(variables) > MAX_VARIABLES:
        raise invalid(f"variables: at most {MAX_VARIABLES}")
    clean = {}
    for name, value in variables.items():
        if not isinstance(value, (str, int, float)) or isinstance(value, bool) or len(str(name)) > 255 \
                or len(str(value)) > MAX_VARIABLE:
            raise invalid("variables: names of at most 255 characters, text or number values of at most 1000")
        clean[str(name)] = value
    old = as_text(params.get("old_endpoint"))
    return Subscribe(appkey=appkey, endpoint=endpoint, p256dh=p256dh, auth=auth,
                     lang=(as_text(params.get("lang")) or "")[:10].lower(),
                     browser=(as_text(params.get("browser")) or "")[:40], os=(as_text(params.get("os")) or "")[:40],
                     url=(as_text(params.get("url")) or "")[:MAX_URL], variables=clean,
                     old_endpoint=old if old and old != endpoint else None)


def when(value: datetime | None) -> str | None:
    return value.strftime(DATE_FORMAT) if value else None


def task_row(task: dict) -> dict:
    return {"id": task["id"], "title": task["title"], "body": task["body"], "website_id": task["website_id"],
            "send_date": when(task["send_date"]), "from": when(task["send_date"]),
            "to": when(task["finished_at"]), "status": task["status"]}


def task_stats(task: dict, website: dict, counts: dict) -> dict:
    return {"id": task["id"], "message": {"title": task["title"], "text": task["body"], "link": task["link"]},
            "website": website["url"], "website_id": task["website_id"], "status": task["status"],
            "send": str(counts["send"]), "delivered": counts["delivered"], "redirect": counts["redirect"]}


def website_row(website: dict) -> dict:
    return {"id": website["id"], "url": website["url"], "add_date": when(website["created_at"]),
            "status": website["status"]}


def website_info(website: dict, counts: dict) -> dict:
    return {"id": website["id"], "url": website["url"], "status": "active" if website["status"] == 1 else "inactive",
            "icon": None, "add_date": when(website["created_at"]), "total_subscribers": counts["total"],
            "unsubscribed": counts["unsubscribed"], "subscribers_today": counts["today"],
            "active_subscribers": counts["active"],
            "appkey": website["appkey"], "vapid_public_key": website["vapid_public"]}  # ours


def subscription_row(subscription: dict) -> dict:
    return {"id": subscription["id"], "browser": subscription["browser"], "lang": subscription["lang"],
            "os": subscription["os"], "country_code": subscription["country_code"],
            "variables": [{"name": k, "value": v} for k, v in (subscription["variables"] or {}).items()],
            "subscription_date": when(subscription["created_at"]), "status": subscription["status"]}


def variable_row(variable: dict) -> dict:
    return {"id": variable["id"], "name": variable["name"], "type": variable["type"]}
