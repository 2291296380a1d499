"""Sender request and answer shapes (document 004)."""

from __future__ import annotations

from pulsebox import addresses
from pulsebox.errors import ApiError
from pulsebox.wire import as_text

MAX_NAME = 255


def email(params: dict) -> str:
    return addresses.require(params.get("email"), missing=903)


def name(params: dict) -> str:
    value = as_text(params.get("name"))
    if not value:
        raise ApiError(901)
    if len(value) > MAX_NAME or any(ord(c) < 32 for c in value):
        raise ApiError(800, f"Sender name must be at most {MAX_NAME} printable characters")
    return value


def code(params: dict) -> str:
    value = as_text(params.get("code"))
    if not value:
        raise ApiError(1104)
    return value[:200]


def sender_out(row: dict) -> dict:
    return {"email": row["email"], "name": row["name"], "status": "Active" if row["active"] else "Inactive",
            "is_allowed_for_smtp": row["is_allowed_for_smtp"]}
