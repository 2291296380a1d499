"""HTTP for the contacts section: a contact's page (the address URL-encoded in the path; an invalid
address, or one the account has never had, is the 404 page), its forms (remove the address from one
list; put it on or take it off the blacklist), and a list's CSV export, streamed: each batch of
contacts is read in a thread of its own short read transaction while the previous one is on its way,
so a million-contact export holds no transaction open and no more than a batch in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from pulsebox import addresses, browser
from pulsebox.api import READERS
from pulsebox.context import Context
from pulsebox.errors import ApiError
from pulsebox.web import pages
from pulsebox.web.service import Session
from pulsebox.web.contacts import service


def contact_url(email: str) -> str:
    return "/ui/contacts/" + quote(email, safe="@")


async def contact(request: Request, error: str = "", status: int = 200, email: str | None = None) -> Response:
    session = pages.current_session(request)
    if session is None:
        return pages.to_sign_in()
    email = email or addresses.normalize(request.path_params.get("email", ""))
    try:
        if email is None:
            raise ApiError(17)
        with browser.context(request).db.transaction(write=False) as conn:
            found = service.contact(conn, session.account_id, email)
    except ApiError:
        return pages.not_found(request, session, "contact")
    return pages.signed_in_page(request, session, "contacts_contact.html", status, active="lists", contact=found,
                                error=error)


def _list_id(raw: str) -> int:
    """A list id from a form: digits within the column's range, else error 213 (as a missing list)."""
    book_id = pages.record_id(raw)
    if book_id is None:
        raise ApiError(213)
    return book_id


async def _contact_form(request: Request) -> tuple[Session, dict[str, str], str] | Response:
    """The session, the form and its address (``email``), or the answer: the sign-in page, a refused
    CSRF token, the 404 page for an address that cannot be one."""
    session, form, refused = await pages.signed_in_form(request)
    if refused is not None:
        return refused
    email = addresses.normalize(form.get("email", "")[:320])
    if email is None:
        return pages.not_found(request, session, "contact")
    return session, form, email


async def remove_from_list(request: Request) -> Response:
    """Take the address off one list (``list_id``): back to its page, or to the list's if the
    account no longer knows the address at all."""
    read = await _contact_form(request)
    if isinstance(read, Response):
        return read
    session, form, email = read
    try:
        book_id = _list_id(form.get("list_id", ""))
        known = await browser.write(browser.context(request), service.remove_from_list, session.account_id, email,
                                    book_id)
    except ApiError as error:  # another account's list answers as a missing one
        return await contact(request, error.message, error.status, email)
    return RedirectResponse(contact_url(email) if known else f"/ui/lists/{book_id}", status_code=303)


async def change_blacklist(request: Request) -> Response:
    """``blacklist=add`` puts the address on the blacklist, ``blacklist=remove`` takes it off."""
    read = await _contact_form(request)
    if isinstance(read, Response):
        return read
    session, form, email = read
    action = form.get("blacklist", "")
    if action not in ("add", "remove"):
        return await contact(request, "Choose to add the address to the blacklist or to remove it.", 400, email)
    await browser.write(browser.context(request), service.set_blacklisted, session.account_id, email, action == "add")
    return RedirectResponse(contact_url(email), status_code=303)


async def export(request: Request) -> Response:
    """The list's contacts (or a segment's: ``?segment_id=``) as a CSV file, streamed a batch at a time."""
    session = pages.current_session(request)
    if session is None:
        return pages.to_sign_in()
    ctx, book_id = browser.context(request), pages.path_id(request)
    raw_segment = request.query_params.get("segment_id")
    segment_id = pages.record_id(raw_segment) if raw_segment is not None else None
    try:
        if book_id is None:
            raise ApiError(213)
        if raw_segment is not None and segment_id is None:
            raise ApiError(703)
        with ctx.db.transaction(write=False) as conn:
            plan = service.export_of(conn, session.account_id, book_id, segment_id)
    except ApiError as error:
        return pages.not_found(request, session, "segment" if error.code == 703 else "list")
    name = f"list-{book_id}" + (f"-segment-{segment_id}" if segment_id is not None else "")
    return StreamingResponse(_stream(ctx, session.account_id, plan), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{name}.csv"', "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff"})


async def _stream(ctx: Context, account_id: int, plan: service.Export) -> AsyncIterator[bytes]:
    """The header, then each batch as it is read (in a thread: the event loop never waits on the
    database), in the order the contacts were added. A list deleted meanwhile ends the file where it was."""
    yield service.header(plan).encode()
    after: int | None = 0
    while after is not None:
        text, after = await to_thread.run_sync(_batch, ctx, account_id, plan, after, limiter=READERS)
        if text:
            yield text.encode()


def _batch(ctx: Context, account_id: int, plan: service.Export, after: int) -> tuple[str, int | None]:
    with ctx.db.transaction(write=False) as conn:  # one short read a batch
        return service.batch(conn, account_id, plan, after)
