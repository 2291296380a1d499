"""HTTP for the blacklist."""

from __future__ import annotations

from pulsebox.api import Call
from pulsebox.blacklist import schemas, service
from pulsebox.wire import paging


def list_(call: Call) -> list:
    if "limit" in call.params or "offset" in call.params:
        limit, offset = paging(call.params, default_limit=1000, max_limit=1000)
        return service.emails(call.conn, call.account_id, limit, offset)
    return service.emails(call.conn, call.account_id)


def add(call: Call) -> dict:
    service.add(call.conn, call.account_id, schemas.email_list(call.params), schemas.comment(call.params))
    return {"result": True}


def remove(call: Call) -> dict:
    service.remove(call.conn, call.account_id, schemas.email_list(call.params))
    return {"result": True}
