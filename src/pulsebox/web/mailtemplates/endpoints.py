"""HTTP for the templates pages (``/ui/templates``): the list with the form that makes one, and a
template's page with the form that edits it (a system template's page is read-only, with a form that
copies it). The forms are read by the API's own request readers (``templates.schemas``), so a refused
form shows the API's message next to its field, with status 400, and changes nothing."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from pulsebox import browser
from pulsebox.errors import ApiError
from pulsebox.templates import schemas
from pulsebox.web import pages
from pulsebox.web.mailtemplates import service


def _before(request: Request) -> int | None:
    """The page's keyset (``?before=`` a real_id): digits of a 32-bit id, or ApiError 8 (a 400)."""
    raw = request.query_params.get("before", "")
    if not raw:
        return None
    real_id = pages.record_id(raw)
    if real_id is None:
        raise ApiError(8, "before must be a template's real_id")
    return real_id


def _as_request(form: Mapping[str, str]) -> dict:
    """The form as the API's request: the HTML base64-encoded, as ``POST /template`` carries it."""
    return {"name": form.get("name", ""), "lang": form.get("lang", ""),
            "body": base64.b64encode(form.get("body", "").encode()).decode()}


def _read(form: Mapping[str, str], *, creating: bool) -> tuple[dict, dict[str, str]]:
    """The values the API would read from the form, and the API's message for each field it refuses."""
    params = _as_request(form)
    readers: dict[str, Callable[[], object]] = {
        "body": lambda: schemas.body(params), "lang": lambda: schemas.lang(params, required=creating)}
    if creating:
        readers = {"name": lambda: schemas.name(params), **readers}
    values, errors = {}, {}
    for field, read in readers.items():
        try:
            values[field] = read()
        except ApiError as error:
            errors[field] = error.message
    return values, errors


async def listing(request: Request, errors: dict | None = None, form: Mapping[str, str] | None = None,
                  status: int = 200) -> Response:
    session = pages.current_session(request)
    if session is None:
        return pages.to_sign_in()
    errors = dict(errors or {})
    try:
        before = _before(request)
    except ApiError as error:
        before, status, errors["before"] = None, 400, error.message
    with browser.context(request).db.transaction(write=False) as conn:
        rows, following = service.page(conn, session.account_id, before)
    return pages.signed_in_page(request, session, "mailtemplates_list.html", status, active="templates",
                                templates=rows, following=following, before=before, errors=errors,
                                form=form or {}, langs=schemas.LANGS)


async def create(request: Request) -> Response:
    session, form, refused = await pages.signed_in_form(request)
    if refused is not None:
        return refused
    values, errors = _read(form, creating=True)
    if errors:
        return await listing(request, errors, form, 400)
    real_id = await browser.write(browser.context(request), service.create, session.account_id, values["name"],
                                  values["body"], values["lang"])
    return RedirectResponse(f"/ui/templates/{real_id}", status_code=303)


def _template(request: Request, account_id: int) -> dict | None:
    """The template the path names (the account's or a system one), or None: missing, another
    account's, or an id no template can have."""
    real_id = pages.path_id(request)
    if real_id is None:
        return None
    try:
        with browser.context(request).db.transaction(write=False) as conn:
            return service.one(conn, account_id, real_id)
    except ApiError:
        return None


async def one(request: Request, errors: dict | None = None, form: Mapping[str, str] | None = None,
              status: int = 200) -> Response:
    session = pages.current_session(request)
    if session is None:
        return pages.to_sign_in()
    found = _template(request, session.account_id)
    if found is None:
        return pages.not_found(request, session, "template")
    return pages.signed_in_page(request, session, "mailtemplates_one.html", status, active="templates",
                                template=found, system=found["account_id"] is None, errors=errors or {},
                                form=form or {}, langs=schemas.LANGS)


async def edit(request: Request) -> Response:
    """A new body (and the language, which must stay): the template gets a new ``id``, its real_id stays."""
    session, form, refused = await pages.signed_in_form(request)
    if refused is not None:
        return refused
    found = _template(request, session.account_id)
    if found is None:
        return pages.not_found(request, session, "template")
    values, errors = _read(form, creating=False)
    if not errors:
        try:
            await browser.write(browser.context(request), service.edit, session.account_id, found["id"],
                                values["body"], values["lang"])
        except ApiError as error:  # a system template, or another language: the API's message
            if error.status == 404:
                return pages.not_found(request, session, "template")
            errors["form" if found["account_id"] is None else "lang"] = error.message
    if errors:
        return await one(request, errors, form, 400)
    return RedirectResponse(f"/ui/templates/{found['id']}", status_code=303)
