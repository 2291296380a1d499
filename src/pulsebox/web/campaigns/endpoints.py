"""HTTP for the admin UI's campaign pages (``/ui/campaigns``). The forms' fields become the API's request
fields here (``body`` base64, ``list_id`` or ``segment_id``, ``template_id``, ``stats``), and the API's
parsers and rules do the rest, so a refusal is the API's own message, shown next to the field it is
about. Ids in paths are read within their column's range, and another account's campaign answers 404
exactly as a missing one does.
"""

from __future__ import annotations

import base64

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from pulsebox import addresses, browser
from pulsebox.errors import ApiError
from pulsebox.web import pages
from pulsebox.web.campaigns import service

# the form field an API error is about, by code (others: the field its message begins with, or none)
FIELDS = {701: "sender_name", 704: "sender_email", 906: "sender_email", 1003: "sender_email", 10: "sender_email",
          720: "subject", 721: "body", 13: "body", 722: "list_id", 703: "list_id", 211: "list_id", 711: "list_id",
          799: "send_date"}
NAMED = {"sender_name": "sender_name", "sender_email": "sender_email", "subject": "subject", "name": "name",
         "body": "body", "template_id": "template_id", "segment_id": "segment_id", "list_id": "list_id",
         "stats.utm_campaign": "utm_campaign", "send_date": "send_date", "html": "body"}


def _field(error: ApiError, form: dict[str, str]) -> str:
    """Which field of the form ``error`` is about ("" the form as a whole)."""
    field = FIELDS.get(error.code) or next((f for word, f in NAMED.items() if error.message.startswith(word)), "")
    if field == "list_id" and form.get("to") == "segment":
        return "segment_id"
    if field == "body" and _content(form) == "template":
        return "template_id"
    return field


def _content(form: dict[str, str]) -> str:
    """``html`` or ``template``: what the form's radio says, else a template when no HTML was typed."""
    chosen = form.get("content", "")
    if chosen in ("html", "template"):
        return chosen
    return "template" if not form.get("body", "").strip() and form.get("template_id") else "html"


def _send_date(form: dict[str, str]) -> str:
    """A ``datetime-local`` value (``2030-01-02T10:00``) as the API's ``Y-m-d H:i:s``."""
    when = form.get("send_date", "").replace("T", " ").strip()
    return when + ":00" if len(when) == 16 else when


def _message(form: dict[str, str]) -> dict:
    """The fields ``POST`` and ``PATCH /campaigns`` share: name, sender, subject, the HTML or the template."""
    params = {"name": form.get("name", ""), "sender_name": form.get("sender_name", ""),
              "sender_email": form.get("sender_email", ""), "subject": form.get("subject", ""),
              "send_date": _send_date(form)}
    if _content(form) == "template":
        return {**params, "template_id": form.get("template_id", "")}
    return {**params, "body": base64.b64encode(form.get("body", "").encode()).decode()}


def _create_params(form: dict[str, str]) -> dict:
    """The form as the fields of ``POST /campaigns``: a list or a segment, the tracking switches (when
    the form had them: a form without them keeps the API's defaults), a draft or not."""
    params = _message(form)
    if form.get("to") == "segment":
        params["segment_id"] = form.get("segment_id", "")
    else:
        params["list_id"] = form.get("list_id", "")
    if form.get("switches"):
        params["stats"] = {"opens": bool(form.get("track_opens")), "clicks": bool(form.get("track_clicks")),
                           "utm_campaign": form.get("utm_campaign", "").strip()}
    if form.get("type") == "draft":
        params["type"] = "draft"
    return params


def _test_params(form: dict[str, str]) -> dict:
    """The form's message to ``test_to`` as the fields of ``POST /smtp/emails``."""
    email: dict = {"subject": form.get("subject", ""), "to": [{"email": form.get("test_to", "")}],
                   "from": {"name": form.get("sender_name", ""), "email": form.get("sender_email", "")}}
    if _content(form) == "template":
        return {"email": {**email, "template": {"id": form.get("template_id", "")}}}
    return {"email": {**email, "html": base64.b64encode(form.get("body", "").encode()).decode()}}


def _before(request: Request) -> int:
    before = pages.number(request.query_params.get("before"))
    return 2**63 - 1 if before is None else before


async def campaigns(request: Request, error: str = "", field: str = "", status: int = 200,
                    form: dict | None = None, notice: str = "") -> Response:
    """The list of campaigns (a page, newest first) and the form that makes one."""
    session = pages.current_session(request)
    if session is None:
        return pages.to_sign_in()
    with browser.context(request).db.transaction(write=False) as conn:
        rows, older = service.page(conn, session.account_id, _before(request))
        offered = service.choices(conn, session.account_id)
    return pages.signed_in_page(request, session, "campaigns_list.html", status, active="campaigns", campaigns=rows,
                                older=older, paged="before" in request.query_params, error=error, field=field,
                                form=form or {}, notice=notice, **offered)


async def create_campaign(request: Request) -> Response:
    """Make the campaign (sent now, scheduled, or a draft), or send its message to one address (``test``)."""
    session, form, refused = await pages.signed_in_form(request)
    if refused is not None:
        return refused
    ctx = browser.context(request)
    found = ctx.account(session.account_id)
    if found is None:
        return pages.to_sign_in()
    if form.get("test"):
        try:
            addresses.require(form.get("test_to", "")[:320])
        except ApiError as error:
            return await campaigns(request, error.message, "test_to", 400, form)
    try:
        if form.get("test"):
            await browser.write(ctx, service.test_send, ctx.settings, session.account_id, _test_params(form))
            return await campaigns(request, form=form, notice=f"A test was sent to {form.get('test_to')}.")
        campaign_id = await browser.write(ctx, service.create, ctx.settings, *found, _create_params(form))
    except ApiError as error:  # the API's own message, next to its field
        return await campaigns(request, error.message, _field(error, form), 400, form)
    return RedirectResponse(f"/ui/campaigns/{campaign_id}", status_code=303)


def _campaign_id(request: Request) -> int:
    """The campaign id in the path (error 802 when it is no id at all: a 404, never a database error)."""
    campaign_id = pages.path_id(request, wide=True)
    if campaign_id is None:
        raise ApiError(802)
    return campaign_id


async def report(request: Request, error: str = "", status: int = 200) -> Response:
    read = pages.read_record(request, "campaign", service.report, wide=True)
    if isinstance(read, Response):
        return read
    session, found = read
    return pages.signed_in_page(request, session, "campaigns_report.html", status, active="campaigns", error=error,
                                **found)


def _edit_form(found: dict) -> dict[str, str]:
    """The campaign's fields as the edit form shows them."""
    return {"name": found["name"], "sender_name": found["sender_name"], "sender_email": found["sender_email"],
            "subject": found["subject"], "body": found["body"], "template_id": found["template_id"] or "",
            "content": "template" if found["template_id"] else "html",
            "send_date": found["send_date"].strftime("%Y-%m-%dT%H:%M") if found["send_date"] and found["status"] == 0
            else ""}


async def edit_page(request: Request, error: str = "", field: str = "", status: int = 200,
                    form: dict | None = None) -> Response:
    """The edit form of a scheduled campaign or a draft; another campaign's page says why it cannot change."""
    session = pages.current_session(request)
    if session is None:
        return pages.to_sign_in()
    try:
        with browser.context(request).db.transaction(write=False) as conn:
            found = service.campaign(conn, session.account_id, _campaign_id(request))
            offered = service.choices(conn, session.account_id)
    except ApiError:
        return pages.not_found(request, session, "campaign")
    refusal = service.edit_refusal(found)
    return pages.signed_in_page(request, session, "campaigns_edit.html", status, active="campaigns", campaign=found,
                                form=form or _edit_form(found), error=error or refusal, field=field,
                                refusal=refusal, **offered)


async def edit(request: Request) -> Response:
    """Change a scheduled campaign or a draft as ``PATCH /campaigns/{id}`` does (a draft given a date is
    scheduled); any other campaign answers the API's refusal (602) on the page."""
    session, form, refused = await pages.signed_in_form(request)
    if refused is not None:
        return refused
    ctx = browser.context(request)
    try:
        campaign_id = _campaign_id(request)
        await browser.write(ctx, service.edit, ctx.settings, session.account_id, campaign_id, _message(form))
    except ApiError as error:
        if error.code == 802:
            return pages.not_found(request, session, "campaign")
        return await edit_page(request, error.message, _field(error, form), 400, form)
    return RedirectResponse(f"/ui/campaigns/{campaign_id}", status_code=303)


async def cancel(request: Request) -> Response:
    """Cancel as ``DELETE /campaigns/{id}`` does; a campaign already done answers the API's refusal."""
    session, _, refused = await pages.signed_in_form(request)
    if refused is not None:
        return refused
    try:
        campaign_id = _campaign_id(request)
        await browser.write(browser.context(request), service.cancel, session.account_id, campaign_id)
    except ApiError as error:
        if error.code == 802:
            return pages.not_found(request, session, "campaign")
        return await report(request, error.message, 400)
    return RedirectResponse(f"/ui/campaigns/{campaign_id}", status_code=303)


async def recipients(request: Request) -> Response:
    """The copies behind one figure of the report, 50 a page by copy id (``after``: the last one shown)."""
    session = pages.current_session(request)
    if session is None:
        return pages.to_sign_in()
    query = request.query_params
    wanted = service.figure(query.get("figure", "")[:2000])
    after = pages.number(query.get("after")) or 0
    rows, more = [], None
    try:
        with browser.context(request).db.transaction(write=False) as conn:
            found = service.campaign(conn, session.account_id, _campaign_id(request))
            if wanted is not None:
                rows, more = service.recipients(conn, session.account_id, found["id"], wanted[0], after)
    except ApiError:
        return pages.not_found(request, session, "campaign")
    error = "" if wanted else "No such figure: a status code, opened, clicked, link:<url> or country:<country>."
    return pages.signed_in_page(request, session, "campaigns_recipients.html", 400 if error else 200,
                                active="campaigns", campaign=found, rows=rows, more=more, after=after,
                                figure=query.get("figure", ""), label=wanted[1] if wanted else "", error=error)
