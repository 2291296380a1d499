"""HTTP for mailing lists and contacts: decode (already done by ``api``), call the service, shape."""

from __future__ import annotations

from pulsebox import addresses
from pulsebox.addressbooks import schemas, service
from pulsebox.api import Call
from pulsebox.errors import ApiError
from pulsebox.wire import as_id, paging

OK = {"result": True}


def create_book(call: Call) -> dict:
    name = schemas.book_name(call.params, "bookName", "name")
    return {"id": service.create_book(call.conn, call.account_id, name)}


def list_books(call: Call) -> list:
    limit, offset = paging(call.params)
    return [schemas.book_out(b) for b in service.list_books(call.conn, call.account_id, limit, offset)]


def get_book(call: Call) -> list:
    return [schemas.book_out(service.book(call.conn, call.account_id, schemas.book_id(call.path)),
                             with_new_phones=False)]


def edit_book(call: Call) -> dict:
    service.rename_book(call.conn, call.account_id, schemas.book_id(call.path), schemas.book_name(call.params, "name", "bookName"))
    return OK


def delete_book(call: Call) -> dict:
    service.delete_book(call.conn, call.account_id, schemas.book_id(call.path))
    return OK


def delete_legacy(call: Call) -> dict:
    """``DELETE /addressbooks`` (document 002): with ``emails`` it deletes those contacts from book
    ``id``; with no ``emails`` it deletes book ``id``."""
    if call.params.get("id") in (None, ""):
        raise ApiError(722)
    book_id = as_id(call.params["id"], code=213)
    if call.params.get("emails"):
        emails = schemas.email_list(call.params)
        service.delete_contacts(call.conn, call.account_id, book_id, emails)
    else:
        service.delete_book(call.conn, call.account_id, book_id)
    return OK


def variables(call: Call) -> list:
    types = service.variables(call.conn, call.account_id, schemas.book_id(call.path))
    return [{"name": name, "type": var_type} for name, var_type in types.items()]


def list_contacts(call: Call) -> list:
    limit, offset = paging(call.params)
    rows = service.contacts_page(call.conn, call.account_id, schemas.book_id(call.path), limit, offset,
                                 schemas.list_filter(call.params))
    return [schemas.contact_in_list(r) for r in rows]


def total(call: Call) -> dict:
    return {"total": service.total(call.conn, call.account_id, schemas.book_id(call.path))}


def contact_info(call: Call) -> dict:
    email = addresses.require(call.path["email"])
    row, types = service.contact(call.conn, call.account_id, schemas.book_id(call.path), email)
    return schemas.contact_info(row, types)


def find_by_variable(call: Call) -> list:
    limit, offset = paging(call.params)
    name = schemas.variable_name(call.path["name"])
    rows = service.find_by_variable(call.conn, call.account_id, schemas.book_id(call.path), name,
                                    schemas.search_text(call.path), limit, offset)
    return [schemas.contact_brief(r) for r in rows]


def add_contacts(call: Call) -> dict:
    book_id = schemas.book_id(call.path)
    contacts = schemas.contacts_to_add(call.params)
    service.add_contacts(call.conn, call.account_id, book_id, contacts,
                         double_opt_in=schemas.double_opt_in(call.params), settings=call.ctx.settings)
    return OK


def delete_contacts(call: Call) -> dict:
    emails = schemas.email_list(call.params)
    if len(emails) > schemas.MAX_DELETE:
        raise ApiError(800, f"At most {schemas.MAX_DELETE} addresses can be deleted in one request")
    service.delete_contacts(call.conn, call.account_id, schemas.book_id(call.path), emails)
    return OK


def change_variable(call: Call) -> dict:
    email = addresses.require(call.params.get("email"))
    variables = schemas.variables_map(call.params.get("variables"))
    if not variables:
        raise ApiError(8, "variables is required")
    service.change_variables(call.conn, call.account_id, schemas.book_id(call.path), email, variables)
    return OK


def change_phone(call: Call) -> dict:
    email = addresses.require(call.params.get("email"))
    if call.params.get("phone") in (None, ""):
        raise ApiError(8, "phone is required")
    service.change_phone(call.conn, call.account_id, schemas.book_id(call.path), email,
                         schemas.phone(call.params["phone"]))
    return OK


def unsubscribe(call: Call) -> dict:
    service.unsubscribe(call.conn, call.account_id, schemas.book_id(call.path), schemas.email_list(call.params))
    return OK


# ---- segments (ours) ----

def create_segment(call: Call) -> dict:
    name, join, rules = schemas.segment_request(call.params)
    return {"result": True, "id": service.create_segment(call.conn, call.account_id, schemas.book_id(call.path),
                                                         name, join, rules)}


def list_segments(call: Call) -> list:
    return [schemas.segment_out(r) for r in service.segments(call.conn, call.account_id, schemas.book_id(call.path))]


def get_segment(call: Call) -> dict:
    book_id = schemas.book_id(call.path)
    return schemas.segment_out(service.segment(call.conn, call.account_id, schemas.segment_id(call.path), book_id))


def delete_segment(call: Call) -> dict:
    service.delete_segment(call.conn, call.account_id, schemas.book_id(call.path), schemas.segment_id(call.path))
    return {"result": True}


def count_segment(call: Call) -> dict:
    book_id, segment_id = schemas.book_id(call.path), schemas.segment_id(call.path)
    service.segment(call.conn, call.account_id, segment_id, book_id)
    total, active = service.count_matching(call.conn, call.account_id,
                                           service.segment_rule(call.conn, call.account_id, segment_id))
    return {"total": total, "active": active}
