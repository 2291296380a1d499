"""HTTP for the SMTP service's pages: the transactional log (``/ui/log``, a message at ``/ui/log/{id}``)
and the SMTP unsubscribe list (``/ui/unsubscribes``). Filters and forms are read by the API's own
readers (``smtp.schemas``: dates as ``GET /smtp/emails`` reads them, addresses and comments as
``POST /smtp/unsubscribe`` does), so a refused one shows the API's message next to its field, with
status 400, and changes nothing."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from pulsebox import addresses, browser
from pulsebox.errors import ApiError
from pulsebox.smtp import schemas as smtp_schemas
from pulsebox.web import pages
from pulsebox.web.transactional import service

LOG_FILTERS = ("recipient", "sender", "from", "to", "status", "q")  # the log's query fields, kept by its pager
MAX_WORDS = 8  # subject words a search may hold
NUL = "Text must not contain NUL characters"  # the API's message (wire): no field can hold one


# ---- the transactional log ----

def _message_id(raw: str) -> int:
    """A message id of the log's keyset (``?before=``): digits of a 64-bit id, or ApiError 8 (a 400)."""
    message_id = pages.record_id(raw, wide=True)
    if message_id is None:
        raise ApiError(8, "before must be a message id, as the page's link gives")
    return message_id


def _address(value: str) -> str | None:
    """An address filter as ``GET /smtp/emails`` reads one: its normal form, else the text as given."""
    value = value.strip()[:320]
    return (addresses.normalize(value) or value) if value else None


def _log_filter(query: Mapping[str, str]) -> tuple[service.LogFilter, dict[str, str]]:
    """The page's filters, and the API's message for each field it refuses."""
    errors: dict[str, str] = {}
    read: dict[str, object] = {}
    for field, reader in (("from", lambda v: smtp_schemas.when(v)),
                          ("to", lambda v: smtp_schemas.when(v, end_of_day=True)),
                          ("before", lambda v: _message_id(v) if v else None)):
        try:
            read[field] = reader(query.get(field, "")[:40])
        except ApiError as error:
            errors[field] = error.message
    for field in ("recipient", "sender", "q"):
        if "\x00" in query.get(field, ""):
            errors[field] = NUL
    words = tuple(w[:100] for w in query.get("q", "").split()[:MAX_WORDS])
    wanted = service.LogFilter(before=read.get("before"), since=read.get("from"), until=read.get("to"),
                               sender=_address(query.get("sender", "")),
                               recipient=_address(query.get("recipient", "")),
                               outcome=query.get("status", "")[:20] or None, words=words)
    return wanted, errors


async def log(request: Request) -> Response:
    session = pages.current_session(request)
    if session is None:
        return pages.to_sign_in()
    query = request.query_params
    wanted, errors = _log_filter(query)
    rows, following = [], None
    if not errors:
        try:
            with browser.context(request).db.transaction(write=False) as conn:
                rows, following = service.log(conn, session.account_id, wanted)
        except ApiError as error:  # an outcome the log does not know
            errors["status"] = error.message
    kept = urlencode([(k, query[k]) for k in LOG_FILTERS if query.get(k)])
    return pages.signed_in_page(request, session, "transactional_log.html", 400 if errors else 200, active="log",
                                messages=rows, following=following, errors=errors, query=query, kept=kept,
                                outcomes=service.OUTCOMES, filtered=bool(kept))


async def message(request: Request) -> Response:
    settings = browser.context(request).settings
    read = pages.read_record(request, "message", lambda conn, account_id, message_id: service.message(
        conn, settings, account_id, message_id), wide=True)
    if isinstance(read, Response):
        return read
    session, found = read
    for copy in found["copies"]:
        copy["contact"] = _contact(copy["email"])
    return pages.signed_in_page(request, session, "transactional_message.html", active="log", message=found)


def _contact(email: str) -> str:
    """An address as a path segment (``/ui/contacts/{email}``): every character that is not plain escaped,
    ``/`` too (an address may hold one)."""
    return quote(email, safe="@")


# ---- the SMTP unsubscribe list ----

def _cursor(raw: str) -> tuple[datetime, str] | None:
    """The list's keyset (``?before=``: the last row's date and address, as the page's link gives)."""
    if not raw:
        return None
    stamp, _, email = raw[:400].partition(" ")
    try:
        at = datetime.fromisoformat(stamp)
    except ValueError:
        at = None
    address = addresses.normalize(email)
    if at is None or at.tzinfo is not None or address is None:
        raise ApiError(8, "before must be a date and an address, as the page's link gives")
    return at, address


async def unsubscribes(request: Request, errors: dict | None = None, form: Mapping[str, str] | None = None,
                       status: int = 200) -> Response:
    session = pages.current_session(request)
    if session is None:
        return pages.to_sign_in()
    errors, query = dict(errors or {}), request.query_params
    search = query.get("email", "").strip()[:320]
    before = email = None
    try:
        before = _cursor(query.get("before", ""))
    except ApiError as error:
        status, errors["before"] = 400, error.message
    try:
        email = addresses.require(search) if search else None
    except ApiError as error:  # the API's message for an address it cannot read (906)
        status, errors["email"] = 400, error.message
    rows, following = [], None
    if "before" not in errors and "email" not in errors:
        with browser.context(request).db.transaction(write=False) as conn:
            rows, following = service.unsubscribes(conn, session.account_id, before, email)
    rows = [{**r, "contact": _contact(r["email"])} for r in rows]
    next_link = f"{following[0].isoformat()} {following[1]}" if following else None
    return pages.signed_in_page(request, session, "transactional_unsubscribes.html", status, active="unsubscribes",
                                rows=rows, next_link=next_link, search=search, paged=before is not None,
                                errors=errors, form=form or {})


async def add_unsubscribes(request: Request) -> Response:
    """The addresses of a text (one a line, or separated by commas or spaces) with one comment, read as
    ``POST /smtp/unsubscribe`` reads ``emails: [{email, comment}]``: one bad address refuses them all."""
    session, form, refused = await pages.signed_in_form(request)
    if refused is not None:
        return refused
    comment = form.get("comment", "")
    if "\x00" in comment:
        return await unsubscribes(request, {"comment": NUL}, form, 400)
    items = [{"email": word, "comment": comment} for word in form.get("emails", "").replace(",", " ").split()]
    try:
        entries = smtp_schemas.unsubscribe_entries({"emails": items})
    except ApiError as error:  # 800 is the comment's (too long); the others the addresses'
        return await unsubscribes(request, {"comment" if error.code == 800 else "emails": error.message}, form, 400)
    await browser.write(browser.context(request), service.add_unsubscribes, session.account_id, entries)
    return RedirectResponse("/ui/unsubscribes", status_code=303)


async def remove_unsubscribe(request: Request) -> Response:
    session, form, refused = await pages.signed_in_form(request)
    if refused is not None:
        return refused
    try:
        entries = smtp_schemas.unsubscribe_entries({"emails": [form.get("email", "")[:320]]})
    except ApiError as error:
        return await unsubscribes(request, {"list": error.message}, form, 400)
    await browser.write(browser.context(request), service.remove_unsubscribes, session.account_id,
                        [email for email, _ in entries])
    return RedirectResponse("/ui/unsubscribes", status_code=303)
