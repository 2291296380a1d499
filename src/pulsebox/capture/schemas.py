"""Captured-mail request and answer shapes (ours: README, "Captured mail")."""

from __future__ import annotations

from datetime import datetime

from pulsebox.errors import ApiError
from pulsebox.wire import as_text

MAX_FILTER = 998
MAX_DELIVERY_ID = 2**63 - 1  # deliveries.id is a BIGINT (signed 64 bits) on PostgreSQL


def message_id(path: dict, not_found: ApiError) -> int:
    """The delivery id in the path; anything that is not one answers like a missing message."""
    value = str(path.get("id", "")).strip()
    # the length first: int() of 4,301 digits or more raises instead of answering
    if (not (value.isascii() and value.isdigit()) or len(value) > len(str(MAX_DELIVERY_ID))
            or not 0 < int(value) <= MAX_DELIVERY_ID):
        raise not_found
    return int(value)


def text_filter(params: dict, name: str) -> str | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    text = as_text(value)
    if text is None or len(text) > MAX_FILTER:
        raise ApiError(800, f"{name} must be a text of at most {MAX_FILTER} characters")
    return text or None


def _stamp(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else None


def _sender(row: dict) -> str:
    return row["sender_email"]


def summary(row: dict) -> dict:
    return {
        "id": row["id"],
        "message_id": row["public_id"],
        "from": _sender(row),
        "from_name": row["sender_name"] or "",
        "to": row["email"],
        "subject": row["subject"],
        "size": row["size"],
        "created_at": _stamp(row["sent_at"] or row["created_at"]),
        "kind": row["kind"],
    }


def detail(row: dict) -> dict:
    return {**summary(row), "envelope": row["envelope"], "headers": row["headers"], "text": row["text"],
            "html": row["html"], "attachments": row["attachments"]}
