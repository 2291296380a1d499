"""HTTP for captured mail: list, read, download (.eml) and clear the account's captured messages."""

from __future__ import annotations

from starlette.responses import Response

from pulsebox.api import Call
from pulsebox.capture import schemas, service
from pulsebox.wire import paging


def list_messages(call: Call) -> list:
    limit, offset = paging(call.params)
    rows = service.listing(call.conn, call.account_id, call.ctx.settings, limit, offset,
                           schemas.text_filter(call.params, "recipient"), schemas.text_filter(call.params, "subject"))
    return [schemas.summary(r) for r in rows]


def read_message(call: Call) -> dict:
    delivery_id = schemas.message_id(call.path, service.not_found())
    return schemas.detail(service.message(call.conn, call.account_id, call.ctx.settings, delivery_id))


def download(call: Call) -> Response:
    delivery_id = schemas.message_id(call.path, service.not_found())
    data = service.raw(call.conn, call.account_id, call.ctx.settings, delivery_id)
    return Response(data, media_type="message/rfc822",
                    headers={"Content-Disposition": f'attachment; filename="{delivery_id}.eml"'})


def clear(call: Call) -> dict:
    return {"result": True, "deleted": service.clear(call.conn, call.account_id, call.ctx.settings)}
