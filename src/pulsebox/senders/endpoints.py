"""HTTP for senders."""

from __future__ import annotations

from pulsebox import addresses
from pulsebox.api import Call
from pulsebox.senders import schemas, service


def list_(call: Call) -> list:
    return [schemas.sender_out(r) for r in service.list_senders(call.conn, call.account_id)]


def add(call: Call) -> dict:
    email = schemas.email(call.params)
    service.add(call.conn, call.account_id, email, schemas.name(call.params), call.ctx.settings.free_mail_domains)
    return {"result": True}


def delete(call: Call) -> dict:
    service.delete(call.conn, call.account_id, schemas.email(call.params))
    return {"result": True}


def request_code(call: Call) -> dict:
    email = addresses.require(call.path["email"], missing=903)
    service.request_code(call.conn, call.account_id, email, call.ctx.settings.system_from)
    return {"result": True, "email": email}


def activate(call: Call) -> dict:
    email = addresses.require(call.path["email"], missing=903)
    service.activate(call.conn, call.account_id, email, schemas.code(call.params))
    return {"result": True, "email": email}
