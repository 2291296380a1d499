"""HTTP for web push: SendPulse's ``/push/...`` routes (document 002 and the newer ones the PHP client
calls) and ours beside them (``POST /push/websites`` adds a website). The public routes a browser
calls (``/push/subscribe``, the scripts, delivery reports and clicks) are in ``tracking/``."""

from __future__ import annotations

from pulsebox.api import Call
from pulsebox.push import schemas, service


def tasks(call: Call) -> list[dict]:
    return [schemas.task_row(t) for t in service.tasks(call.conn, call.account_id, schemas.task_query(call.params))]


def create_task(call: Call) -> dict:
    task_id = service.create_task(call.conn, call.ctx.settings, call.account_id, schemas.task_request(call.params))
    return {"result": True, "id": task_id}


def task(call: Call) -> dict:
    return schemas.task_stats(*service.task_stats(call.conn, call.account_id, schemas.record_id(call.path, "Push campaign")))


def websites(call: Call) -> list[dict]:
    limit, offset = schemas.page(call.params)
    return [schemas.website_row(w) for w in service.websites(call.conn, call.account_id, limit, offset)]


def count_websites(call: Call) -> dict:
    return {"total": service.count_websites(call.conn, call.account_id)}


def add_website(call: Call) -> dict:
    website = service.add_website(call.conn, call.ctx.settings, call.account_id, schemas.website_request(call.params))
    return {"result": True, "id": website["id"], "appkey": website["appkey"],
            "vapid_public_key": website["vapid_public"]}


def website_info(call: Call) -> dict:
    return schemas.website_info(*service.website_info(call.conn, call.account_id,
                                                      schemas.record_id(call.path, "Website")))


def website_code(call: Call) -> dict:
    return service.code(call.conn, call.ctx.settings, call.account_id, schemas.record_id(call.path, "Website"))


def variables(call: Call) -> list[dict]:
    return [schemas.variable_row(v) for v in service.variables(call.conn, call.account_id,
                                                                 schemas.record_id(call.path, "Website"))]


def subscriptions(call: Call) -> list[dict]:
    limit, offset = schemas.page(call.params)
    found = service.subscriptions(call.conn, call.account_id, schemas.record_id(call.path, "Website"), limit, offset)
    return [schemas.subscription_row(s) for s in found]


def count_subscriptions(call: Call) -> dict:
    return {"total": service.count_subscriptions(call.conn, call.account_id, schemas.record_id(call.path, "Website"))}


def set_state(call: Call) -> dict:
    service.set_state(call.conn, call.account_id, *schemas.state_request(call.params))
    return {"result": True}
