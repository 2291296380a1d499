"""Address-level views over the account's books, its blacklist and (later) its campaign sends."""

from __future__ import annotations

from sqlalchemy import Connection

from pulsebox.addressbooks import service as books
from pulsebox.blacklist import service as blacklist
from pulsebox.campaigns import service as campaigns
from pulsebox.errors import ApiError


def memberships(conn: Connection, account_id: int, emails: list[str]) -> tuple[list[dict], dict[int, dict]]:
    """The contacts of these addresses and the variable types of their books."""
    rows = books.memberships(conn, account_id, emails)
    return rows, books.variable_types_for_books(conn, (r["book_id"] for r in rows))


def require_known(rows: list[dict]) -> list[dict]:
    if not rows:
        raise ApiError(17)
    return rows


def delete_everywhere(conn: Connection, account_id: int, email: str) -> None:
    if books.remove_everywhere(conn, account_id, email) == 0:
        raise ApiError(17)


def campaign_statistics(conn: Connection, account_id: int, emails: list[str]) -> dict[str, dict]:
    """Per address: campaign copies sent, opened and clicked, its books, and whether it is blacklisted."""
    rows = books.memberships(conn, account_id, emails)
    listed = blacklist.listed(conn, account_id, emails)
    figures = campaigns.address_figures(conn, account_id, emails)
    out = {}
    for email in emails:
        f = figures.get(email, {"sent": 0, "opened": 0, "clicked": 0})
        out[email] = {"sent": f["sent"], "open": f["opened"], "link": f["clicked"], "books": [],
                      "blacklist": email in listed}
    for row in rows:
        out[row["email"]]["books"].append({"id": row["book_id"], "name": row["book_name"]})
    return out
