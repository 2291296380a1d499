"""HTTP for the email-address methods."""

from __future__ import annotations

from pulsebox import addresses
from pulsebox.addressbooks.schemas import email_list
from pulsebox.api import Call
from pulsebox.emails import schemas, service


def info(call: Call) -> list:
    email = addresses.require(call.path["email"])
    rows, types = service.memberships(call.conn, call.account_id, [email])
    return schemas.general_info(service.require_known(rows), types)


def details(call: Call) -> list:
    email = addresses.require(call.path["email"])
    rows, _ = service.memberships(call.conn, call.account_id, [email])
    return schemas.details(service.require_known(rows))


def bulk_info(call: Call) -> dict:
    emails = email_list(call.params)
    rows, types = service.memberships(call.conn, call.account_id, emails)
    return schemas.bulk_info(emails, rows, types)


def delete(call: Call) -> dict:
    service.delete_everywhere(call.conn, call.account_id, addresses.require(call.path["email"]))
    return {"result": True}


def campaigns(call: Call) -> dict:
    email = addresses.require(call.path["email"])
    return schemas.statistics(service.campaign_statistics(call.conn, call.account_id, [email])[email])


def bulk_campaigns(call: Call) -> dict:
    emails = email_list(call.params)
    return schemas.bulk_statistics(service.campaign_statistics(call.conn, call.account_id, emails))
