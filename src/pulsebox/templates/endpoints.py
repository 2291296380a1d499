"""HTTP for templates."""

from __future__ import annotations

from pulsebox.api import Call
from pulsebox.templates import schemas, service
from pulsebox.wire import paging


def create(call: Call) -> dict:
    real_id = service.create(call.conn, call.account_id, schemas.name(call.params), schemas.body(call.params),
                             schemas.lang(call.params, required=True))
    return {"result": True, "real_id": real_id}


def edit(call: Call) -> dict:
    service.edit(call.conn, call.account_id, call.path["id"], schemas.body(call.params),
                 schemas.lang(call.params, required=False))
    return {"result": True}


def info(call: Call) -> dict:
    return schemas.template_out(service.get(call.conn, call.account_id, call.path["id"]), with_body=True)


def by_slug(call: Call) -> dict:
    return schemas.template_out(service.by_slug(call.conn, call.account_id, call.path["slug"]), with_body=True)


def listing(call: Call) -> list:
    limit, offset = paging(call.params, default_limit=1000, max_limit=1000)
    lang = schemas.lang({"lang": call.path["lang"]}, required=False) if "lang" in call.path else None
    rows = service.listing(call.conn, call.account_id, schemas.owner(call.params), lang, limit, offset)
    return [schemas.template_out(r) for r in rows]
