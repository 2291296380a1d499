"""Blacklist request shapes. Document 004 sends ``emails`` (base64 of a comma-joined list) with a
plain ``comment``; document 002 sends ``email`` (a plain comma list) with a base64 ``comment``.
Both are accepted, each field plain or base64."""

from __future__ import annotations

from pulsebox import addresses
from pulsebox.errors import ApiError
from pulsebox.wire import as_list, as_text, b64_text

MAX_COMMENT = 1000


def email_list(params: dict) -> list[str]:
    raw = params.get("emails", params.get("email"))
    if isinstance(raw, str):
        text = raw.strip()
        if "@" not in text:
            text = b64_text(text, strict=True)
        items: list = [part for part in text.replace(";", ",").replace("\n", ",").split(",") if part.strip()]
    else:
        items = [i.get("email") if isinstance(i, dict) else i for i in as_list(raw)]
    if not items:
        raise ApiError(1101)
    return list(dict.fromkeys(addresses.require(item) for item in items))


def comment(params: dict) -> str:
    text = as_text(params.get("comment")) or ""
    text = b64_text(text) if text and " " not in text else text
    if len(text) > MAX_COMMENT:
        raise ApiError(800, f"comment must be at most {MAX_COMMENT} characters")
    return text
