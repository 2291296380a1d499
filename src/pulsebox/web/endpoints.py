"""HTTP for the admin UI's core pages (``/ui``): signing in and out, the dashboard, the captured inbox,
lists with their contacts, segments and imports, webhooks, senders, the blacklist, settings (the larger
sections are packages of their own beside this module: contacts, campaigns, mailtemplates, transactional,
webpush). What every page shares (sessions, CSRF, forms, headers) is in ``pages``; the script of ours that makes
some of them live (the inbox, an import's progress, a segment's count, a preview) is
``static/ui.js``. A captured message's HTML is shown in a sandboxed frame whose own policy blocks
scripts and, unless asked, remote images.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from pulsebox import browser, filters
from pulsebox.addressbooks.schemas import CONTACT_STATUS
from pulsebox.api import json_response
from pulsebox.capture import schemas as capture_schemas
from pulsebox.errors import ApiError
from pulsebox.web import pages, service

async def home(request: Request) -> Response:
    """The dashboard."""
    session = pages.current_session(request)
    if session is None:
        return pages.to_sign_in()
    with browser.context(request).db.transaction(write=False) as conn:
        figures = service.dashboard(conn, session.account_id)
    return pages.signed_in_page(request, session, "dashboard.html", active="dashboard", **figures)


async def sign_in_page(request: Request, error: str = "", status: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    response = pages.page("signin.html", status, csrf=token, error=error)
    response.set_cookie(pages.SIGN_IN, token, max_age=3600, path="/ui", httponly=True, samesite="strict",
                        secure=pages.secure(request))
    return response


async def sign_in(request: Request) -> Response:
    ctx = browser.context(request)
    if limited := await browser.over_limit(ctx, "signin", browser.client(request)[0], pages.SIGN_IN_LIMITS):
        return await sign_in_page(request, f"Too many attempts: try again in {limited.extra.get('retry_after', 60)} s.",
                                  429)
    try:
        form = await pages.read_form(request)
    except ClientDisconnect:
        return Response(status_code=400)
    expected = request.cookies.get(pages.SIGN_IN, "")
    if not expected or not secrets.compare_digest(form.get("csrf", ""), expected):
        return pages.forbidden()
    token = await browser.write(ctx, service.sign_in, form.get("account", "")[:200], form.get("secret", "")[:1000])
    if token is None:
        return await sign_in_page(request, "Wrong account or secret.", 401)
    response = RedirectResponse("/ui", status_code=303)
    response.set_cookie(pages.SESSION, token, max_age=int(service.LIFETIME.total_seconds()), path="/ui", httponly=True,
                        samesite="lax", secure=pages.secure(request))
    response.delete_cookie(pages.SIGN_IN, path="/ui")
    return response


async def sign_out(request: Request) -> Response:
    _, _, refused = await pages.signed_in_form(request)
    if refused is not None:
        return refused
    await browser.write(browser.context(request), service.sign_out, request.cookies[pages.SESSION])
    response = pages.to_sign_in()
    response.delete_cookie(pages.SESSION, path="/ui")
    return response


async def inbox(request: Request) -> Response:
    session = pages.current_session(request)
    if session is None:
        return pages.to_sign_in()
    ctx = browser.context(request)
    search = request.query_params.get("q", "")
    with ctx.db.transaction(write=False) as conn:
        rows = [capture_schemas.summary(r) for r in service.inbox(conn, ctx.settings, session.account_id, search)]
    return pages.signed_in_page(request, session, "inbox.html", messages=rows, search=search,
                           capturing=ctx.settings.mail_url.startswith("capture:"))


async def inbox_rows(request: Request) -> Response:
    """The inbox's newest messages as JSON: the page asks every few seconds (live without a reload)."""
    session = pages.current_session(request)
    if session is None:
        return pages.sign_in_needed()
    ctx = browser.context(request)
    with ctx.db.transaction(write=False) as conn:
        rows = service.inbox(conn, ctx.settings, session.account_id, request.query_params.get("q", ""))
    return json_response([capture_schemas.summary(r) for r in rows])


async def message(request: Request) -> Response:
    settings = browser.context(request).settings
    read = pages.read_record(request, "captured message", lambda conn, account_id, message_id: service.captured(
        conn, settings, account_id, message_id), wide=True)
    if isinstance(read, Response):
        return read
    session, found = read
    return pages.signed_in_page(request, session, "message.html", message={**capture_schemas.summary(found),
                                                                            "subject": found["subject"], **found},
                                raw=found["source"], images=request.query_params.get("images") == "1")


def _own_message(request: Request, read: Callable[..., Any]) -> Any:
    """``read(conn, settings, account_id, message_id)`` for the signed-in account's message; None when
    there is no session, or no such message of this account (another account's answers the same)."""
    session, message_id = pages.current_session(request), pages.path_id(request, wide=True)
    if session is None or message_id is None:
        return None
    ctx = browser.context(request)
    try:
        with ctx.db.transaction(write=False) as conn:
            return read(conn, ctx.settings, session.account_id, message_id)
    except ApiError:
        return None


async def message_html(request: Request) -> Response:
    """A captured message's HTML for the message page's sandboxed frame: no scripts, no forms, remote
    images only when asked (``?images=1``: a remote image tells its sender the mail was opened)."""
    found = _own_message(request, service.captured)
    if found is None:
        return Response(status_code=404)
    images = "* data:" if request.query_params.get("images") == "1" else "data:"
    return HTMLResponse(found["html"] or "", headers={
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
        "Content-Security-Policy": f"sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
                                   f"style-src 'unsafe-inline'; img-src {images}; frame-ancestors 'self'"})


async def message_raw(request: Request) -> Response:
    data = _own_message(request, service.raw)
    if data is None:
        return Response(status_code=404)
    return Response(data, media_type="message/rfc822", headers={
        "Content-Disposition": f'attachment; filename="message-{pages.path_id(request, wide=True)}.eml"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff"})


async def message_attachment(request: Request) -> Response:
    """An attachment of a captured message, always as a download of opaque bytes: its declared type is the
    sender's word (an HTML "attachment" shown on this origin would run as the UI), so it is never rendered."""
    index = pages.number(request.path_params["index"], 1000)
    found = _own_message(request, lambda conn, settings, account_id, message_id: service.attachment(
        conn, settings, account_id, message_id, index)) if index is not None else None
    if found is None:
        return Response(status_code=404)
    filename, data = found
    return Response(data, media_type="application/octet-stream", headers={
        "Content-Disposition": f"attachment; filename=\"attachment-{index}\"; filename*=UTF-8''{quote(filename)}"
        if filename else f'attachment; filename="attachment-{index}"',
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"})


async def clear_inbox(request: Request) -> Response:
    session, _, refused = await pages.signed_in_form(request)
    if refused is not None:
        return refused
    ctx = browser.context(request)
    await browser.write(ctx, service.clear_inbox, ctx.settings, session.account_id)
    return RedirectResponse("/ui/inbox", status_code=303)


# ---- lists and contacts ----

async def lists(request: Request, error: str = "", status: int = 200) -> Response:
    return pages.listing(request, "lists.html", "lists", service.lists, error, status)


async def create_list(request: Request) -> Response:
    session, form, refused = await pages.signed_in_form(request)
    if refused is not None:
        return refused
    name = form.get("name", "").strip()
    if not name or len(name) > 255:
        return await lists(request, "A list needs a name of at most 255 characters.", 400)
    try:
        book_id = await browser.write(browser.context(request), service.create_list, session.account_id, name)
    except ApiError as error:  # the API's own message (203: the name is taken)
        return await lists(request, error.message, 400)
    return RedirectResponse(f"/ui/lists/{book_id}", status_code=303)


async def one_list(request: Request, error: str = "", status: int = 200) -> Response:
    session = pages.current_session(request)
    if session is None:
        return pages.to_sign_in()
    book_id = pages.path_id(request)
    query = request.query_params
    after = query.get("after", "0")
    try:
        if book_id is None:
            raise ApiError(213)
        with browser.context(request).db.transaction(write=False) as conn:
            book = service.one_list(conn, session.account_id, book_id)
            segments = service.list_segments(conn, session.account_id, book_id)
            rows = service.contacts(conn, session.account_id, book_id,
                                    after=pages.number(after) or 0,
                                    email=query.get("email", "")[:320], variable=query.get("variable", "")[:255],
                                    value=query.get("value", "")[:1000])
    except ApiError as missing:
        if missing.code != 213:
            raise
        return pages.not_found(request, session, "list")
    searching = bool(query.get("email") or query.get("variable"))
    return pages.signed_in_page(request, session, "list.html", status, active="lists", book=book, contacts=rows,
                           error=error, query=query, statuses=CONTACT_STATUS, segments=segments,
                           operators=filters.OPERATORS,
                           next_after=rows[-1]["id"] if len(rows) == service.PAGE and not searching else None)


async def rename_list(request: Request) -> Response:
    session, form, refused = await pages.signed_in_form(request)
    if refused is not None:
        return refused
    book_id, name = pages.path_id(request), form.get("name", "").strip()
    if not name or len(name) > 255:
        return await one_list(request, "A list needs a name of at most 255 characters.", 400)
    try:
        if book_id is None:
            raise ApiError(213)
        await browser.write(browser.context(request), service.rename_list, session.account_id, book_id, name)
    except ApiError as error:
        return await one_list(request, error.message, 400 if error.code != 213 else 404)
    return RedirectResponse(f"/ui/lists/{book_id}", status_code=303)


async def delete_list(request: Request) -> Response:
    session, form, refused = await pages.signed_in_form(request)
    if refused is not None:
        return refused
    book_id = pages.path_id(request)
    try:
        if book_id is None:
            raise ApiError(213)
        await browser.write(browser.context(request), service.delete_list, session.account_id, book_id)
    except ApiError:
        return pages.not_found(request, session, "list")
    return RedirectResponse("/ui/lists", status_code=303)


# ---- segments ----

def _conditions(fields: Mapping[str, str]) -> list[dict]:
    """Up to three rows of the builder: variable, condition, value (a row without a variable is unused)."""
    return [{"variable": fields.get(f"var_{i}", "").strip()[:255], "condition": fields.get(f"cond_{i}", ""),
             "value": fields.get(f"value_{i}", "")[:1000]} for i in range(3) if fields.get(f"var_{i}", "").strip()]


async def segment_count(request: Request) -> Response:
    """How many contacts the builder's conditions match now, a part of the list at a time (the page asks as
    they are typed, and again with ``after`` until the answer's ``after`` is null)."""
    session = pages.current_session(request)
    if session is None:
        return pages.sign_in_needed()
    query = request.query_params
    try:
        if pages.path_id(request) is None:
            raise ApiError(213)
        with browser.context(request).db.transaction(write=False) as conn:
            counted = service.segment_count(conn, session.account_id, pages.path_id(request), query.get("join", "and"),
                                            _conditions(query), pages.number(query.get("after")) or 0)
    except ApiError as error:
        return json_response(error.body(), error.status)
    return json_response(counted)


async def create_segment(request: Request) -> Response:
    session, form, refused = await pages.signed_in_form(request)
    if refused is not None:
        return refused
    book_id = pages.path_id(request)
    try:
        if book_id is None:
            raise ApiError(213)
        await browser.write(browser.context(request), service.create_segment, session.account_id, book_id,
                            form.get("segment_name", ""), form.get("join", "and"), _conditions(form))
    except ApiError as error:
        return await one_list(request, error.message, 404 if error.code == 213 else 400)
    return RedirectResponse(f"/ui/lists/{book_id}#segments", status_code=303)


# ---- CSV import ----

async def start_import(request: Request) -> Response:
    session = pages.current_session(request)
    if session is None:
        return pages.to_sign_in()
    ctx, book_id = browser.context(request), pages.path_id(request)
    upload = await pages.upload(request, ctx.settings.max_body_bytes)
    if upload is None:
        return await one_list(request, f"Upload a CSV file of at most {ctx.settings.max_body_bytes:,} bytes.", 400)
    fields, filename, data = upload
    if not secrets.compare_digest(fields.get("csrf", ""), session.csrf):
        return pages.forbidden()
    try:
        if book_id is None:
            raise ApiError(213)
        import_id = await browser.write(ctx, service.start_import, session.account_id, book_id, filename, data)
    except ApiError as error:
        return await one_list(request, error.message, 404 if error.code == 213 else 400)
    return RedirectResponse(f"/ui/imports/{import_id}", status_code=303)


async def import_page(request: Request, error: str = "", status: int = 200) -> Response:
    """The column mapping of an uploaded file, or the progress of one under way."""
    def job_and_list(conn: Any, account_id: int, import_id: int) -> tuple[dict, dict]:
        found = service.import_status(conn, account_id, import_id)
        return found, service.one_list(conn, account_id, found["book_id"])

    read = pages.read_record(request, "import", job_and_list)
    if isinstance(read, Response):
        return read
    session, (found, book) = read
    return pages.signed_in_page(request, session, "import.html", status, active="lists", job=found, book=book,
                                error=error)


async def import_progress(request: Request) -> Response:
    session = pages.current_session(request)
    if session is None:
        return pages.sign_in_needed()
    try:
        with browser.context(request).db.transaction(write=False) as conn:
            found = service.import_status(conn, session.account_id, pages.path_id(request) or 0)
    except ApiError as error:
        return json_response(error.body(), 404)
    return json_response({k: found[k] for k in ("status", "total", "done", "added", "skipped", "error")})


async def map_import(request: Request) -> Response:
    session, form, refused = await pages.signed_in_form(request)
    if refused is not None:
        return refused
    mapping, i = [], 0
    while f"kind_{i}" in form and i < service.IMPORT_COLUMNS:
        kind = form[f"kind_{i}"]
        mapping.append(kind if kind in ("email", "phone", "") else form.get(f"name_{i}", "").strip())
        i += 1
    try:
        await browser.write(browser.context(request), service.map_import, session.account_id,
                            pages.path_id(request) or 0, mapping)
    except ApiError as error:
        if error.status == 404:
            return pages.not_found(request, session, "import")
        return await import_page(request, error.message, 400)
    return RedirectResponse(f"/ui/imports/{pages.path_id(request)}", status_code=303)


# ---- webhooks ----

async def hooks(request: Request, error: str = "", status: int = 200) -> Response:
    session = pages.current_session(request)
    if session is None:
        return pages.to_sign_in()
    ctx = browser.context(request)
    with ctx.db.transaction(write=False) as conn:
        found = service.hooks(conn, ctx.settings, session.account_id)
    return pages.signed_in_page(request, session, "webhooks.html", status, active="webhooks", hooks=found,
                           actions=service.ACTIONS, error=error)


async def add_hook(request: Request) -> Response:
    session, form, refused = await pages.signed_in_form(request)
    if refused is not None:
        return refused
    ctx = browser.context(request)
    kind = form.get("service", "email")
    actions = [a for a in service.ACTIONS.get(kind, ()) if form.get(f"{kind}:{a}")]
    try:
        await browser.write(ctx, service.add_hook, ctx.settings, session.account_id, form.get("url", ""), actions, kind)
    except ApiError as error:  # the API's message: an unsafe URL, no action chosen
        return await hooks(request, error.message, 400)
    return RedirectResponse("/ui/webhooks", status_code=303)


async def hook_action(request: Request) -> Response:
    """``delete`` or ``rotate`` (the signing secret) a webhook of the account."""
    session, form, refused = await pages.signed_in_form(request)
    if refused is not None:
        return refused
    ctx, hook_id = browser.context(request), pages.path_id(request, wide=True)
    work = {"delete": lambda conn, i: service.delete_hook(conn, session.account_id, i),
            "rotate": lambda conn, i: service.rotate_hook_secret(conn, ctx.settings, session.account_id, i)}
    action = work.get(request.path_params["action"])
    try:
        if action is None or hook_id is None:
            raise ApiError(404)
        await browser.write(ctx, action, hook_id)
    except ApiError:
        return pages.not_found(request, session, "webhook")
    return RedirectResponse("/ui/webhooks", status_code=303)


async def hook_log(request: Request) -> Response:
    settings = browser.context(request).settings
    read = pages.read_record(request, "webhook", lambda conn, account_id, hook_id: service.hook_log(
        conn, settings, account_id, hook_id), wide=True)
    if isinstance(read, Response):
        return read
    session, (hook, attempts) = read
    return pages.signed_in_page(request, session, "webhook.html", active="webhooks", hook=hook, attempts=attempts)


# ---- senders and the blacklist ----

async def senders(request: Request, error: str = "", status: int = 200) -> Response:
    return pages.listing(request, "senders.html", "senders", service.senders_page, error, status)


async def add_sender(request: Request) -> Response:
    session, form, refused = await pages.signed_in_form(request)
    if refused is not None:
        return refused
    ctx = browser.context(request)
    try:
        await browser.write(ctx, service.add_sender, ctx.settings, session.account_id, form.get("email", ""),
                            form.get("name", "").strip()[:255])
    except ApiError as error:
        return await senders(request, error.message, 400)
    return RedirectResponse("/ui/senders", status_code=303)


async def sender_action(request: Request) -> Response:
    """``activate`` (with the mailed code), ``resend`` the code, or ``delete`` a sender."""
    session, form, refused = await pages.signed_in_form(request)
    if refused is not None:
        return refused
    ctx = browser.context(request)
    try:
        await browser.write(ctx, service.sender_action, ctx.settings, session.account_id,
                            request.path_params["action"], form.get("email", "")[:320], form.get("code", "")[:100])
    except ApiError as error:
        return await senders(request, error.message, 404 if error.status == 404 else 400)
    return RedirectResponse("/ui/senders", status_code=303)


async def blacklist(request: Request, error: str = "", status: int = 200) -> Response:
    return pages.listing(request, "blacklist.html", "blacklist", service.blacklist_page, error, status)


async def change_blacklist(request: Request) -> Response:
    """``add`` the addresses of a text, or ``remove`` one."""
    session, form, refused = await pages.signed_in_form(request)
    if refused is not None:
        return refused
    ctx, action = browser.context(request), request.path_params["action"]
    try:
        if action == "add":
            await browser.write(ctx, service.add_to_blacklist, session.account_id, form.get("emails", ""),
                                form.get("comment", ""))
        elif action == "remove":
            await browser.write(ctx, service.remove_from_blacklist, session.account_id, form.get("email", "")[:320])
        else:
            return Response(status_code=404)
    except ApiError as error:
        return await blacklist(request, error.message, 400)
    return RedirectResponse("/ui/blacklist", status_code=303)


# ---- settings ----

async def settings(request: Request, new_secret: str = "") -> Response:
    session = pages.current_session(request)
    if session is None:
        return pages.to_sign_in()
    ctx = browser.context(request)
    found = ctx.account(session.account_id)
    if found is None:
        return pages.to_sign_in()
    with ctx.db.transaction(write=False) as conn:
        values = service.settings_page(conn, *found)
    return pages.signed_in_page(request, session, "settings.html", active="settings", new_secret=new_secret, **values)


async def rotate_secret(request: Request) -> Response:
    """A new API secret, shown once on the page that answers (never stored in clear, never shown again)."""
    session, _, refused = await pages.signed_in_form(request)
    if refused is not None:
        return refused
    rotated = await browser.write(browser.context(request), service.rotate_api_secret, session.account_id)
    return await settings(request, rotated["client_secret"])


STATIC = {"ui.css": "text/css", "ui.js": "text/javascript"}


async def static(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in STATIC:
        return Response(status_code=404)
    return Response(_static(name), media_type=STATIC[name], headers={"Cache-Control": "public, max-age=300",
                                                                      "X-Content-Type-Options": "nosniff"})


@lru_cache(maxsize=len(STATIC))
def _static(name: str) -> bytes:
    return (pages.HERE / "static" / name).read_bytes()
