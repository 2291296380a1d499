"""HTTP for the web push pages (``/ui/push``): the overview (websites, push campaigns, the forms that add
one of each), a website's page (snippet, subscribers, variables, campaigns), a campaign's page, and the
subscriber's activate/deactivate form. Forms are read by the push API's own parsers
(``push.schemas.website_request``, ``task_request``, ``state_request``): the same checks and messages as
``POST /push/websites``, ``POST /push/tasks`` and ``POST /push/subscriptions/state``, each message shown
next to the field it names."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from pulsebox import browser, filters
from pulsebox.errors import ApiError
from pulsebox.push import schemas as push_schemas
from pulsebox.web import pages
from pulsebox.web.webpush import service

# the campaign form's fields, in the order shown; an API message starting with one is shown next to it
TASK_FIELDS = ("website_id", "title", "body", "link", "ttl", "stretch_time", "send_date", "filter_lang",
               "filter_browser", "filter_region", "filter")
# words an API message starts with that name a field of another name
NAMED = {"Website": "website_id", "variable_name": "filter", "conditions": "filter", "condition": "filter",
         "value": "filter", "operator": "filter", "a filter": "filter"}
STATUS_CHOICES = {"all": tuple(service.SUBSCRIBER_STATUS), "1": (push_schemas.ACTIVE,),
                  "0": (push_schemas.DEACTIVATED,), "6": (push_schemas.UNSUBSCRIBED,)}


def field_of(message: str, fields: tuple[str, ...]) -> str:
    """The form field an API message is about (its first word: "ttl must be ..."), else "" (the form's)."""
    first = message.split(" ", 1)[0].rstrip(":,")
    first = NAMED.get(first, NAMED.get(" ".join(message.split(" ", 2)[:2]), first))
    return first if first in fields else ""


def _before(request: Request) -> int:
    """The keyset of a page after the first (``?before=<id>``); anything else is the first page."""
    return pages.number(request.query_params.get("before")) or service.NO_PAGE


async def overview(request: Request, error: str = "", field: str = "", status: int = 200,
                   form: dict | None = None) -> Response:
    session = pages.current_session(request)
    if session is None:
        return pages.to_sign_in()
    before = _before(request)
    with browser.context(request).db.transaction(write=False) as conn:
        found = service.overview(conn, session.account_id, before)
    tasks = found["tasks"]
    chosen = (form or {}).get("website_id") or request.query_params.get("website", "")
    return pages.signed_in_page(
        request, session, "webpush_index.html", status, active="push", **found, error=error, field=field,
        form={"ttl": "86400", **(form or {}), "website_id": chosen}, operators=filters.OPERATORS,
        paged=before != service.NO_PAGE, older=tasks[-1]["id"] if len(tasks) == service.TASKS else None)


async def add_website(request: Request) -> Response:
    session, form, refused = await pages.signed_in_form(request)
    if refused is not None:
        return refused
    ctx = browser.context(request)
    try:
        url = push_schemas.website_request({"url": form.get("url", "").strip()})
        website_id = await browser.write(ctx, service.add_website, ctx.settings, session.account_id, url)
    except ApiError as error:  # the API's message: "url is required", "url must be an http(s) URL ..."
        return await overview(request, error.message, "url", 400, {"url": form.get("url", "")})
    return RedirectResponse(f"/ui/push/websites/{website_id}", status_code=303)


def _task_params(form: dict[str, str]) -> dict:
    """The form as ``POST /push/tasks`` takes it: a datetime-local as ``Y-m-d H:i:s``, the variable
    condition as document 002's ``filter``, empty fields left out (the API's defaults)."""
    params = {k: form[k].strip() for k in TASK_FIELDS if k != "filter" and form.get(k, "").strip()}
    when = params.get("send_date", "").replace("T", " ")
    if when:
        params["send_date"] = when + ":00" if len(when) == 16 else when
    variable, value = form.get("filter_variable", "").strip(), form.get("filter_value", "")
    if variable or value:
        params["filter"] = {"variable_name": variable, "operator": "and",
                            "conditions": [{"condition": form.get("filter_condition", ""), "value": value}]}
    return params


async def create_task(request: Request) -> Response:
    session, form, refused = await pages.signed_in_form(request)
    if refused is not None:
        return refused
    ctx = browser.context(request)
    try:
        parsed = push_schemas.task_request(_task_params(form))
        task_id = await browser.write(ctx, service.create_task, ctx.settings, session.account_id, parsed)
    except ApiError as error:  # the API's own message (404: not a website of this account), beside its field
        kept = {k: v for k, v in form.items() if k != "csrf"}
        return await overview(request, error.message, field_of(error.message, TASK_FIELDS), error.status, kept)
    return RedirectResponse(f"/ui/push/tasks/{task_id}", status_code=303)


async def website(request: Request, error: str = "", status: int = 200) -> Response:
    session = pages.current_session(request)
    if session is None:
        return pages.to_sign_in()
    ctx, website_id = browser.context(request), pages.path_id(request)
    shown = request.query_params.get("status", "all")
    shown = shown if shown in STATUS_CHOICES else "all"
    before = _before(request)
    try:
        if website_id is None:
            raise push_schemas.not_found("Website")
        with ctx.db.transaction(write=False) as conn:
            found = service.website_page(conn, ctx.settings, session.account_id, website_id, before,
                                         STATUS_CHOICES[shown])
    except ApiError:
        return pages.not_found(request, session, "website")
    rows = found["subscribers"]
    return pages.signed_in_page(
        request, session, "webpush_website.html", status, active="push", **found, error=error, shown=shown,
        statuses=service.SUBSCRIBER_STATUS, before=before if before != service.NO_PAGE else None,
        older=rows[-1]["id"] if len(rows) == service.PAGE else None)


async def subscriber_state(request: Request) -> Response:
    """Activate (``state`` 1) or deactivate (0) a subscriber of the website, then back to the same page."""
    session, form, refused = await pages.signed_in_form(request)
    if refused is not None:
        return refused
    ctx, website_id = browser.context(request), pages.path_id(request)
    try:
        if website_id is None:
            raise push_schemas.not_found("Website")
        subscriber, state = push_schemas.state_request({"id": form.get("subscriber", ""),
                                                        "state": form.get("state", "")})
        await browser.write(ctx, service.set_state, session.account_id, website_id, subscriber, state)
    except ApiError as error:
        if error.status == 404:  # no such website or subscriber of this account
            return pages.not_found(request, session, "subscriber")
        return await website(request, error.message, 400)
    back = {k: form[k] for k in ("status", "before") if form.get(k, "").isdigit() or form.get(k) == "all"}
    query = "&".join(f"{k}={v}" for k, v in back.items())
    return RedirectResponse(f"/ui/push/websites/{website_id}{'?' + query if query else ''}#subscribers",
                            status_code=303)


async def task(request: Request) -> Response:
    read = pages.read_record(request, "push campaign", service.task_page)
    if isinstance(read, Response):
        return read
    session, found = read
    return pages.signed_in_page(request, session, "webpush_task.html", active="push", **found)
