"""HTTP for the public links (no bearer token: the signed token is the credential).

Plain Starlette endpoints: these answer a GIF, a redirect or an HTML page, and need the client's
address and User-Agent. Writes run in the API's write thread pool (``api.WRITERS``, sized below
the database pool) inside one transaction; the unsubscribe page's read runs on the event loop
like every API read. A HEAD request (link checkers) is answered like a GET but records nothing.

Rate limits (``PULSEBOX_PUBLIC_RATE_LIMITS``, ``browser.over_limit``) count per client address,
separately for the pixel, the click redirect and the pages (unsubscribe, confirmation). Over its
limit a client still gets the pixel and still reaches the link (a person must), but nothing is
recorded; the pages answer 429.
"""

from __future__ import annotations

import logging

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from pulsebox import browser, links
from pulsebox.api import error_response, json_response
from pulsebox.errors import NOT_FOUND, ApiError
from pulsebox.push import service as push
from pulsebox.tracking import pages, service

log = logging.getLogger("pulsebox.tracking")

# 1x1 transparent GIF89a, 43 bytes
PIXEL = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00"
         b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
NO_STORE = {"Cache-Control": "no-store, max-age=0", "Pragma": "no-cache"}
PAGE_HEADERS = {**NO_STORE, "X-Robots-Tag": "noindex", "Referrer-Policy": "no-referrer",
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"}
MAX_FORM = 4096  # an unsubscribe POST carries "List-Unsubscribe=One-Click"; nothing more is read
# the limits' buckets, each per client address
OPENS, CLICKS, PAGES = "open", "click", "page"


def _too_many(error: ApiError) -> HTMLResponse:
    retry = error.extra.get("retry_after", 1)
    return HTMLResponse(pages.too_many(), status_code=429, headers={**PAGE_HEADERS, "Retry-After": str(retry)})


def _not_found_json() -> Response:
    return error_response(ApiError(NOT_FOUND, "Link not found", status=404))


def _page(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=PAGE_HEADERS)


async def open_pixel(request: Request) -> Response:
    ctx = browser.context(request)
    delivery_id = service.delivery_id(ctx.settings.signing_key, links.OPEN, request.path_params["token"])
    if delivery_id is None:
        return _not_found_json()
    if request.method != "HEAD":
        ip, user_agent = browser.client(request)
        if await browser.over_limit(ctx, OPENS, ip):
            return Response(PIXEL, media_type="image/gif", headers=NO_STORE)  # a mail client sees no error
        try:
            await browser.write(ctx, service.record_open, delivery_id, ip, user_agent)
        except Exception:  # noqa: BLE001 - the image is served even if the event is lost
            log.exception("could not record an open of delivery %s", delivery_id)
    return Response(PIXEL, media_type="image/gif", headers=NO_STORE)


async def click(request: Request) -> Response:
    ctx = browser.context(request)
    ids = service.click_ids(ctx.settings.signing_key, request.path_params["token"])
    if ids is None:
        return _not_found_json()
    ip, user_agent = browser.client(request)
    record = request.method != "HEAD" and not await browser.over_limit(ctx, CLICKS, ip)
    try:
        if record:
            url = await browser.write(ctx, service.click, *ids, ip, user_agent)
        else:  # a link checker, or a client over its limit: it still gets to the link, records nothing
            with ctx.db.transaction(write=False) as conn:
                url = service.click(conn, *ids, ip, user_agent, record=False)
    except ApiError as error:
        return error_response(error)
    return RedirectResponse(url, status_code=302, headers={**NO_STORE, "Referrer-Policy": "no-referrer"})


async def unsubscribe_page(request: Request) -> Response:
    ctx = browser.context(request)
    delivery_id = service.delivery_id(ctx.settings.signing_key, links.UNSUBSCRIBE, request.path_params["token"])
    if delivery_id is None:
        return _page(pages.not_found(), 404)
    if limited := await browser.over_limit(ctx, PAGES, browser.client(request)[0]):
        return _too_many(limited)
    with ctx.db.transaction(write=False) as conn:
        subject = service.unsubscribe_subject(conn, delivery_id)
    if subject is None:
        return _page(pages.not_found(), 404)
    return _page(pages.unsubscribe_form(*subject))


async def _small_form(request: Request) -> bytes:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            break
    return body[:MAX_FORM]


async def unsubscribe(request: Request) -> Response:
    """RFC 8058 one-click POST (``List-Unsubscribe=One-Click``) or the page's button."""
    ctx = browser.context(request)
    delivery_id = service.delivery_id(ctx.settings.signing_key, links.UNSUBSCRIBE, request.path_params["token"])
    if delivery_id is None:
        return _page(pages.not_found(), 404)
    if limited := await browser.over_limit(ctx, PAGES, browser.client(request)[0]):
        return _too_many(limited)
    try:
        body = await _small_form(request)
    except ClientDisconnect:
        return Response(status_code=400)  # never act on a request the client abandoned
    one_click = b"List-Unsubscribe" in body and b"One-Click" in body
    done = await browser.write(ctx, service.unsubscribe, delivery_id, one_click=one_click)
    if done is None:
        return _page(pages.not_found(), 404)
    return _page(pages.unsubscribed(*done))


async def confirm(request: Request) -> Response:
    ctx = browser.context(request)
    token = request.path_params["token"]
    if service.confirmable(token) is None:
        return _page(pages.not_found(), 404)
    if limited := await browser.over_limit(ctx, PAGES, browser.client(request)[0]):
        return _too_many(limited)
    with ctx.db.transaction(write=False) as conn:  # forged tokens stop here, before any write lock
        if service.confirm_target(conn, ctx.settings.signing_key, token) is None:
            return _page(pages.not_found(), 404)
    if request.method == "HEAD":
        return _page("")  # a link checker confirms nothing
    if not await browser.write(ctx, service.confirm, ctx.settings.signing_key, token):
        return _page(pages.not_found(), 404)
    return _page(pages.confirmed())


# a campaign's own html, shown on our origin: sandboxed (no scripts, an opaque origin), images and
# styles from anywhere as a mail client would show them
WEB_VERSION_HEADERS = {**NO_STORE, "X-Robots-Tag": "noindex", "Referrer-Policy": "no-referrer",
                       "Content-Security-Policy": "sandbox; default-src 'none'; img-src * data:; "
                                                  "style-src * 'unsafe-inline'; font-src * data:"}


async def web_version(request: Request) -> Response:
    ctx = browser.context(request)
    if limited := await browser.over_limit(ctx, PAGES, browser.client(request)[0]):
        return _too_many(limited)
    with ctx.db.transaction(write=False) as conn:
        body = service.web_version(conn, ctx.settings.signing_key, request.path_params["token"])
    if body is None:
        return _page(pages.not_found(), 404)
    return HTMLResponse(body, headers=WEB_VERSION_HEADERS)


# ---- web push: the scripts a website loads, subscriptions, delivery reports, clicks ----
# Called from other origins (the customer's pages, their service worker): answers allow any origin,
# with no credentials (nothing here reads a cookie). A subscription is a simple CORS request (the
# snippet posts text/plain JSON); a site's own code sending application/json gets its preflight.

CORS = {"Access-Control-Allow-Origin": "*"}
PREFLIGHT = {**CORS, "Access-Control-Allow-Methods": "POST", "Access-Control-Allow-Headers": "content-type",
             "Access-Control-Max-Age": "86400"}
SCRIPT_HEADERS = {"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff", **CORS}
MAX_SUBSCRIPTION = 16 * 1024
PUSH = "push"


def _cors_error(error: ApiError) -> Response:
    response = error_response(error)
    response.headers.update(CORS)
    return response


async def push_snippet(request: Request) -> Response:
    appkey = request.path_params["appkey"]
    with browser.context(request).db.transaction(write=False) as conn:
        script = push.snippet(conn, browser.context(request).settings, appkey)
    if script is None:
        return _cors_error(ApiError(NOT_FOUND, "Website not found", status=404))
    return Response(script, media_type="text/javascript", headers=SCRIPT_HEADERS)


async def push_worker(request: Request) -> Response:
    return Response(push.worker_script(), media_type="text/javascript", headers=SCRIPT_HEADERS)


async def push_preflight(request: Request) -> Response:
    return Response(status_code=204, headers=PREFLIGHT)


async def push_subscribe(request: Request) -> Response:
    """``POST /push/subscribe`` (ours): ``{appkey, subscription, lang, browser, os, url, variables}``, JSON
    whatever the Content-Type says; ``{"result": true, "id": N}``."""
    ctx = browser.context(request)
    ip = browser.client(request)[0]
    if limited := await browser.over_limit(ctx, PUSH, ip):
        return _cors_error(limited)
    try:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_SUBSCRIPTION:
                return _cors_error(ApiError(413, f"A subscription is at most {MAX_SUBSCRIPTION} bytes"))
    except ClientDisconnect:
        return Response(status_code=400)
    try:
        params = orjson.loads(body or b"null")
    except orjson.JSONDecodeError:
        params = None
    if not isinstance(params, dict):
        return _cors_error(ApiError(8, "The body must be a JSON object"))
    try:
        subscription_id = await browser.write(ctx, service.push_subscribe, ctx.settings, params, ip)
    except ApiError as error:
        return _cors_error(error)
    response = json_response({"result": True, "id": subscription_id})
    response.headers.update(CORS)
    return response


async def push_shown(request: Request) -> Response:
    ctx = browser.context(request)
    token = request.path_params["token"]
    if links.claimed_ids(token) is None:
        return _cors_error(ApiError(NOT_FOUND, "Link not found", status=404))
    if not await browser.over_limit(ctx, OPENS, browser.client(request)[0]):
        await browser.write(ctx, service.push_shown, ctx.settings.signing_key, token)
    return Response(status_code=204, headers=CORS)


# a picture uploaded with a push task: shown by browsers' notification UIs, never run as a document
PICTURE_HEADERS = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff",
                   "Content-Security-Policy": "default-src 'none'; sandbox", **CORS}


async def push_picture(request: Request) -> Response:
    ctx = browser.context(request)
    with ctx.db.transaction(write=False) as conn:
        found = service.push_picture(conn, ctx.settings.signing_key, request.path_params["token"])
    if found is None:
        return _not_found_json()
    return Response(found["data"], media_type=found["content_type"], headers=PICTURE_HEADERS)


async def push_click(request: Request) -> Response:
    ctx = browser.context(request)
    token = request.path_params["token"]
    record = request.method != "HEAD" and not await browser.over_limit(ctx, CLICKS, browser.client(request)[0])
    try:
        if record:
            url = await browser.write(ctx, service.push_click, ctx.settings.signing_key, token)
        else:
            with ctx.db.transaction(write=False) as conn:  # read-only: nothing is counted
                url = service.push_click(conn, ctx.settings.signing_key, token)
    except ApiError as error:
        return error_response(error)
    return RedirectResponse(url, status_code=302, headers={**NO_STORE, "Referrer-Policy": "no-referrer"})
