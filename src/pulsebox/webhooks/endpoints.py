"""HTTP for webhooks: ``/v2/email-service/webhook`` (document 004) and ours beside it (a secret's
rotation, the delivery log)."""

from __future__ import annotations

from pulsebox.api import Call
from pulsebox.webhooks import schemas, service


def listing(call: Call) -> dict:
    return schemas.answer(service.listing(call.conn, call.ctx.settings, call.account_id))


def info(call: Call) -> dict:
    return schemas.answer(service.get(call.conn, call.ctx.settings, call.account_id, schemas.webhook_id(call.path)))


def create(call: Call) -> dict:
    return schemas.answer(service.create(call.conn, call.ctx.settings, call.account_id,
                                         schemas.create_request(call.params)))


def update(call: Call) -> dict:
    service.update(call.conn, call.ctx.settings, call.account_id, schemas.webhook_id(call.path),
                   schemas.update_request(call.params))
    return schemas.answer([True])


def delete(call: Call) -> dict:
    service.delete(call.conn, call.account_id, schemas.webhook_id(call.path))
    return schemas.answer([True])


def rotate_secret(call: Call) -> dict:
    return schemas.answer(service.rotate_secret(call.conn, call.ctx.settings, call.account_id,
                                                schemas.webhook_id(call.path)))


def delivery_log(call: Call) -> dict:
    return schemas.answer([schemas.attempt(a) for a in service.log(call.conn, call.account_id,
                                                                   schemas.webhook_id(call.path))])
