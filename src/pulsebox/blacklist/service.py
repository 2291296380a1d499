"""Blacklist rules: adding an address twice is harmless; every send path asks ``listed``."""

from __future__ import annotations

from sqlalchemy import Connection

from pulsebox.blacklist import repository


def emails(conn: Connection, account_id: int, limit: int | None = None, offset: int = 0) -> list[str]:
    return repository.all_emails(conn, account_id, limit, offset)


def listed(conn: Connection, account_id: int, emails: list[str]) -> set[str]:
    return repository.listed(conn, account_id, emails)


def add(conn: Connection, account_id: int, emails: list[str], comment: str) -> None:
    """Addresses already listed keep their first date and comment (one insert that skips them:
    no check-then-insert, which two concurrent requests would both pass)."""
    repository.add(conn, account_id, emails, comment)


def remove(conn: Connection, account_id: int, emails: list[str]) -> None:
    repository.remove(conn, account_id, emails)
