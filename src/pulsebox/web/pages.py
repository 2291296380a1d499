"""What every admin UI page shares: its templates (Jinja2, autoescaped), its security headers, the
signed-in session, reading a form (bounded, never cut short) or an upload, the CSRF check, ids in paths,
and the error pages. The pages themselves are the ``endpoints`` modules of ``web`` and its sections.

Security (issue 12): a session is a random token in an ``HttpOnly``, ``SameSite=Lax`` cookie scoped to
``/ui`` (``Secure`` when ``PULSEBOX_PUBLIC_URL`` is https), stored server-side by its hash; every form
that changes something carries the session's CSRF token, and the sign-in form a token of its own
(double-submitted: a cookie and the form, so no other site can sign a browser in as someone else);
sign-in attempts are limited per client address (``SIGN_IN_LIMITS``). Every page sends a strict
Content-Security-Policy (scripts and styles from ``/ui/static`` only, no framing). Another account's
record answers 404 like a missing one: the services look rows up by account.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from email.parser import BytesParser
from email.policy import HTTP
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from pulsebox import browser
from pulsebox.api import json_response
from pulsebox.errors import ApiError
from pulsebox.web import service

HERE = Path(__file__).parent
SESSION, SIGN_IN = "pulsebox_ui", "pulsebox_ui_signin"
SIGN_IN_LIMITS = "10/minute;60/hour"  # sign-in attempts per client address
MAX_FORM = 2 * 1024 * 1024  # bytes of a form (a campaign's HTML is in one)
MAX_FIELDS = 2 * service.IMPORT_COLUMNS + 10  # an import's mapping has two a column, and its CSRF token
PAGE_HEADERS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                                           "img-src 'self' data:; frame-src 'self'; form-action 'self'; "
                                           "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"}


@lru_cache(maxsize=1)
def templates() -> Environment:
    return Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True),
                       trim_blocks=True, lstrip_blocks=True)


def page(name: str, status: int = 200, **values: object) -> HTMLResponse:
    return HTMLResponse(templates().get_template(name).render(**values), status_code=status, headers=PAGE_HEADERS)


def secure(request: Request) -> bool:
    return browser.context(request).settings.public_url.startswith("https://")


def current_session(request: Request) -> service.Session | None:
    with browser.context(request).db.transaction(write=False) as conn:
        return service.current(conn, request.cookies.get(SESSION))


async def read_form(request: Request) -> dict[str, str]:
    """The urlencoded form's fields (the first value of each); an empty form, which carries no CSRF
    token and so changes nothing, when the body is larger than ``MAX_FORM`` or has too many fields
    (never a form cut short: a campaign's HTML would be sent truncated)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            return {}
    try:
        fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        return {}
    return {k: v[0] for k, v in fields.items()}


async def signed_in_form(request: Request) -> tuple[service.Session | None, dict[str, str], Response | None]:
    """The session and the form, or the answer when there is no session or the CSRF token is wrong."""
    session = current_session(request)
    form = await read_form(request)
    if session is None:
        return None, form, to_sign_in()
    if not secrets.compare_digest(form.get("csrf", ""), session.csrf):
        return session, form, forbidden()
    return session, form, None


def listing(request: Request, template: str, active: str, read: Callable[[Any, int], object], error: str,
             status: int) -> Response:
    """A page of the account's rows (``read(conn, account_id)``, as ``rows``), with the form's error."""
    session = current_session(request)
    if session is None:
        return to_sign_in()
    with browser.context(request).db.transaction(write=False) as conn:
        rows = read(conn, session.account_id)
    return signed_in_page(request, session, template, status, active=active, rows=rows, error=error)


def number(raw: str | None, below: int = 2**63) -> int | None:
    """``raw`` as a whole number in [0, ``below``), else None. ASCII digits only: ``str.isdigit`` also takes
    '²' (which ``int`` refuses: a 500) and other scripts' digits; and never a value no column holds."""
    if not raw or not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        return None
    value = int(raw)
    return value if value < below else None


def record_id(raw: str | None, *, wide: bool = False) -> int | None:
    """A record id in a path, query or form: above 0 and within its column's range (``wide``: a 64-bit id,
    as deliveries, campaigns and webhooks have; else 32-bit); else None, a 404 (never a database error)."""
    return number(raw, 2**63 if wide else 2**31) or None


def path_id(request: Request, *, wide: bool = False) -> int | None:
    """The record id in the path (``{id}``), as ``record_id`` reads it."""
    return record_id(request.path_params["id"], wide=wide)


def forbidden() -> HTMLResponse:
    return page("error.html", 403, title="Refused", message="The form had no valid security token: reload the "
                                                             "page and try again.")


def to_sign_in() -> RedirectResponse:
    return RedirectResponse("/ui/signin", status_code=303)


def signed_in_page(request: Request, session: service.Session, name: str, status: int = 200,
                    **values: object) -> HTMLResponse:
    found = browser.context(request).account(session.account_id)  # cached by the process: no query a page
    return page(name, status, csrf=session.csrf, account=found[0]["name"] if found else "", **values)


async def upload(request: Request, limit: int) -> tuple[dict[str, str], str, bytes] | None:
    """The fields and the one file of a multipart/form-data body (None: not one, or too large)."""
    declared = request.headers.get("content-length", "")
    if (number(declared) or 0) > limit:
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    head = f"Content-Type: {request.headers.get('content-type', '')}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        return None
    fields, filename, data = {}, "", b""
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            filename, data = part.get_filename(), payload
        elif name:
            fields[str(name)] = payload.decode("utf-8", "replace")
    return fields, filename, data


def read_record(request: Request, what: str, read: Callable[[Any, int, int], Any], *,
                wide: bool = False) -> tuple[service.Session, Any] | Response:
    """What a page of one record does first: the session and ``read(conn, account_id, id)`` of the id in
    the path (``path_id``), in a read transaction; or the answer instead: the sign-in page, or the 404 page
    (``what``) for an id that is no id, or that ``read`` refuses (another account's answers as a missing one)."""
    session = current_session(request)
    if session is None:
        return to_sign_in()
    record_id = path_id(request, wide=wide)
    try:
        if record_id is None:
            raise ApiError(404)
        with browser.context(request).db.transaction(write=False) as conn:
            return session, read(conn, session.account_id, record_id)
    except ApiError:
        return not_found(request, session, what)


def not_found(request: Request, session: service.Session, what: str) -> HTMLResponse:
    """The 404 page (``what``: "list", "campaign"...): also what another account's id answers."""
    return signed_in_page(request, session, "error.html", 404, title="Not found", message=f"No such {what}.")


def sign_in_needed() -> Response:
    """What a page's JSON (asked by its script) answers without a session: a SendPulse error object."""
    return json_response({"is_error": True, "message": "Sign in", "error_code": 401}, 401)
