"""HTTP for campaigns (document 004, "Campaigns")."""

from __future__ import annotations

from pulsebox import addresses
from pulsebox.addressbooks.schemas import book_id
from pulsebox.api import Call
from pulsebox.campaigns import schemas, service
from pulsebox.wire import paging


def create(call: Call) -> dict:
    request = schemas.create_request(call.params)
    row = service.create(call.conn, call.account, call.limits, request, call.ctx.settings)
    return schemas.created(row)


def edit(call: Call) -> dict:
    campaign_id = schemas.campaign_id(call.path)
    service.edit(call.conn, call.account_id, campaign_id, schemas.edit_request(call.params),
                 call.ctx.settings)
    return {"result": True, "id": campaign_id}


def info(call: Call) -> dict:
    row = service.get(call.conn, call.account_id, schemas.campaign_id(call.path))
    return schemas.detail(row, service.general(call.conn, row), service.clicks(call.conn, row),
                          service.permalink(row, call.ctx.settings))


def listing(call: Call) -> list:
    limit, offset = paging(call.params, default_limit=100, max_limit=100)
    order, statuses, scheduled = schemas.listing_filters(call.params)
    return [schemas.summary(row, figures) for row, figures in
            service.listing(call.conn, call.account_id, order=order, statuses=statuses, scheduled=scheduled,
                            limit=limit, offset=offset)]


def cancel(call: Call) -> dict:
    service.cancel(call.conn, call.account_id, schemas.campaign_id(call.path))
    return {"result": True}


def countries(call: Call) -> dict:
    return service.countries(call.conn, call.account_id, schemas.campaign_id(call.path))


def referrals(call: Call) -> list:
    row = service.get(call.conn, call.account_id, schemas.campaign_id(call.path))
    return [{"link": c["url"], "count": c["count"]} for c in service.clicks(call.conn, row)]


def email_status(call: Call) -> dict:
    return service.email_status(call.conn, call.account_id, schemas.campaign_id(call.path),
                                addresses.require(call.path.get("email")))


def of_book(call: Call) -> list:
    """``/addressbooks/{id}/campaigns``: the campaigns sent (or to be sent) to the list."""
    limit, offset = paging(call.params)
    rows = service.of_book(call.conn, call.account_id, book_id(call.path), limit, offset)
    return [{"task_id": r["id"], "task_name": r["name"], "task_status": r["status"]} for r in rows]
