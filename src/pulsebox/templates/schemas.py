"""Template request and answer shapes (document 004)."""

from __future__ import annotations

from pulsebox.errors import ApiError
from pulsebox.wire import as_text, b64_text

LANGS = ("ru", "en", "ua", "tr", "es", "pt")
MAX_NAME = 255
MAX_BODY = 2 * 1024 * 1024


def name(params: dict) -> str | None:
    value = as_text(params.get("name"))
    if value and (len(value) > MAX_NAME or any(ord(c) < 32 for c in value)):
        raise ApiError(800, f"Template name must be at most {MAX_NAME} printable characters")
    return value or None


def body(params: dict) -> str:
    raw = params.get("body")
    if not isinstance(raw, str) or not raw.strip():
        raise ApiError(13)
    html = b64_text(raw, strict=True)
    if not html.strip():
        raise ApiError(13)
    if len(html) > MAX_BODY:
        raise ApiError(800, f"Template body must be at most {MAX_BODY} bytes")
    return html


def lang(params: dict, *, required: bool) -> str | None:
    value = (as_text(params.get("lang")) or "").lower()
    if not value:
        if required:
            raise ApiError(800, f"lang is required: one of {', '.join(LANGS)}")
        return None
    if value not in LANGS:
        raise ApiError(800, f"lang must be one of {', '.join(LANGS)}")
    return value


def owner(params: dict) -> str | None:
    value = as_text(params.get("owner"))
    if value in (None, ""):
        return None
    if value not in ("me", "sendpulse"):
        raise ApiError(800, "owner must be 'me' or 'sendpulse'")
    return value


def template_out(row: dict, *, with_body: bool = False) -> dict:
    system = row["account_id"] is None
    category = row["category"] or ""
    out = {
        "id": row["uid"],
        "real_id": row["id"],
        "lang": row["lang"],
        "name": row["name"],
        "name_slug": row["name_slug"],
        "created": row["created_at"].strftime("%Y-%m-%d %H:%M:%S"),
        "full_description": row["full_description"],
        "is_structure": False,
        "category": category,
        "category_info": {"code": category, "name": category.title()} if category else [],
        "tags": [],
        "owner": "sendpulse" if system else "me",
        "preview": "",
    }
    if with_body:  # not in SendPulse's answer, but a stand-in should let you read what you stored
        out["body"] = row["body"]
    return out
