"""HTTP for the balance methods."""

from __future__ import annotations

from pulsebox.addressbooks.schemas import book_id
from pulsebox.api import Call
from pulsebox.balance import service


def balance(call: Call) -> dict:
    return service.balance(call.conn, call.account, call.limits, call.path.get("currency"))


def detail(call: Call) -> dict:
    return service.detail(call.conn, call.account, call.limits)


def book_cost(call: Call) -> dict:
    return service.book_cost(call.conn, call.account, call.limits, book_id(call.path))
