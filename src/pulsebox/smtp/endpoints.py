"""HTTP for the SMTP (transactional) service (document 002, "SMTP")."""

from __future__ import annotations

from pulsebox import addresses
from pulsebox.api import Call
from pulsebox.errors import ApiError
from pulsebox.smtp import schemas, service
from pulsebox.wire import as_text, paging


# the route's ``decode``: base64, attachments and recipients read before the group commit, no transaction
decode_send = schemas.send_request


def send(call: Call) -> dict:
    public_id = service.accept(call.conn, call.account_id, call.decoded, call.ctx.settings)
    return {"result": True, "id": public_id}


def _ip(call: Call) -> str:
    return call.ctx.settings.sending_ips[0] if call.ctx.settings.sending_ips else ""


def list_emails(call: Call) -> list:
    limit, offset = paging(call.params, default_limit=100, max_limit=500)
    sender, recipient = as_text(call.params.get("sender")), as_text(call.params.get("recipient"))
    copies = service.list_emails(
        call.conn, call.account_id, limit=limit, offset=offset,
        since=schemas.when(call.params.get("from")), until=schemas.when(call.params.get("to"), end_of_day=True),
        sender=addresses.normalize(sender) or sender, recipient=addresses.normalize(recipient) or recipient)
    ip = _ip(call)
    return [schemas.email_answer(row, events, ip) for row, events in copies]


def email_info(call: Call) -> dict:
    """The message's first copy as document 002 shows it; with several recipients, every copy is
    in ``recipients`` as well (each has its own answer code and tracking)."""
    ip = _ip(call)
    copies = [schemas.email_answer(row, events, ip) for row, events in
              service.email_copies(call.conn, call.account_id, call.path["id"])]
    answer = dict(copies[0])
    if len(copies) > 1:
        answer["recipients"] = copies
    return answer


def unsubscribe(call: Call) -> dict:
    service.add_unsubscribes(call.conn, call.account_id, schemas.unsubscribe_entries(call.params))
    return {"result": True}


def remove_unsubscribes(call: Call) -> dict:
    service.remove_unsubscribes(call.conn, call.account_id,
                                [email for email, _ in schemas.unsubscribe_entries(call.params)])
    return {"result": True}


def list_unsubscribes(call: Call) -> list:
    limit, offset = paging(call.params, default_limit=100, max_limit=1000)
    rows = service.unsubscribes(call.conn, call.account_id, schemas.day(call.params), limit, offset)
    return [schemas.unsubscribe_answer(r) for r in rows]


def ips(call: Call) -> list:
    return list(call.ctx.settings.sending_ips)


def domains(call: Call) -> list:
    return service.allowed_domains(call.conn, call.account_id)


def add_domain(call: Call) -> dict:
    service.add_domain(call.conn, call.account_id, addresses.require(call.params.get("email")), call.ctx.settings)
    return {"result": True}


def send_domain_code(call: Call) -> dict:
    service.send_domain_code(call.conn, call.account_id, addresses.require(call.path["email"]), call.ctx.settings)
    return {"result": True}


def verify_domain(call: Call) -> dict:
    code = as_text(call.params.get("code"))
    if not code or not code.strip():
        raise ApiError(1104)
    service.verify_domain(call.conn, call.account_id, addresses.require(call.path["email"]), code)
    return {"result": True}


def bounces(call: Call) -> list:
    limit, offset = paging(call.params, default_limit=100, max_limit=1000)
    rows = service.bounces(call.conn, call.account_id, schemas.day(call.params), limit, offset)
    return [schemas.bounce_answer(r) for r in rows]
