"""What the templates pages show and change, through the templates area's service (its rules: a new
``id`` on every edit, the language kept, system templates read-only)."""

from __future__ import annotations

from sqlalchemy import Connection

from pulsebox.templates import service as templates

PAGE = 50  # templates a page


def page(conn: Connection, account_id: int, before: int | None) -> tuple[list[dict], int | None]:
    """A page of the templates the account sees, newest first, below the real_id ``before``; and the
    real_id the next page starts below (None: this is the last)."""
    rows = templates.recent(conn, account_id, before, PAGE + 1)
    return rows[:PAGE], rows[PAGE - 1]["id"] if len(rows) > PAGE else None


def one(conn: Connection, account_id: int, real_id: int) -> dict:
    """The account's or a system template, with its body; another account's is ApiError 404 as a missing one."""
    return templates.get(conn, account_id, str(real_id))


def create(conn: Connection, account_id: int, name: str | None, body: str, lang: str) -> int:
    return templates.create(conn, account_id, name, body, lang)


def edit(conn: Connection, account_id: int, real_id: int, body: str, lang: str | None) -> None:
    templates.edit(conn, account_id, str(real_id), body, lang)
