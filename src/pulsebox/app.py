"""Builds the ASGI app. ONE route table below: every SendPulse method Pulsebox answers, by area."""

from __future__ import annotations

import contextlib
import logging
import re

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from pulsebox import openapi
from pulsebox.addressbooks import endpoints as books
from pulsebox.api import endpoint, error_response, json_response
from pulsebox.balance import endpoints as balance
from pulsebox.blacklist import endpoints as blacklist_api
from pulsebox.campaigns import endpoints as campaigns
from pulsebox.capture import endpoints as capture_api
from pulsebox.context import Context
from pulsebox.emails import endpoints as emails_api
from pulsebox.errors import METHOD_NOT_ALLOWED, NOT_FOUND, ApiError
from pulsebox.oauth import endpoints as oauth_api
from pulsebox.push import endpoints as push_api
from pulsebox.senders import endpoints as senders_api
from pulsebox.smtp import endpoints as smtp_api
from pulsebox.templates import endpoints as templates_api
from pulsebox.tracking import endpoints as tracking
from pulsebox.web import endpoints as web
from pulsebox.web.campaigns import endpoints as ui_campaigns
from pulsebox.web.contacts import endpoints as ui_contacts
from pulsebox.web.mailtemplates import endpoints as ui_templates
from pulsebox.web.transactional import endpoints as ui_transactional
from pulsebox.web.webpush import endpoints as ui_push
from pulsebox.webhooks import endpoints as webhooks_api

log = logging.getLogger("pulsebox")


async def healthz(request: Request) -> Response:
    ctx: Context = request.app.state.ctx

    def ping() -> None:
        with ctx.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    try:
        await run_in_threadpool(ping)
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
        return json_response({"status": "error", "database": str(exc)[:200]}, 503)
    return json_response({"status": "ok"})


def route(path: str, handler, methods: str, **options) -> Route:  # noqa: ANN001
    return Route(path, endpoint(handler, **options), methods=methods.split())


ROUTES = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/openapi.json", openapi.document, methods=["GET"]),  # the API's OpenAPI 3.1 document
    Route("/docs", openapi.docs_page, methods=["GET"]),  # the reference page (Swagger UI)...
    Route("/docs/{asset}", openapi.docs_asset, methods=["GET"]),  # ...and its packaged static files
    route("/oauth/access_token", oauth_api.access_token, "POST", public=True, authenticate=oauth_api.authenticate_client),
    # mailing lists and contacts
    route("/addressbooks", books.create_book, "POST"),
    route("/addressbooks", books.list_books, "GET"),
    route("/addressbooks", books.delete_legacy, "DELETE"),
    route("/addressbooks/{id}", books.get_book, "GET"),
    route("/addressbooks/{id}", books.edit_book, "PUT"),
    route("/addressbooks/{id}", books.delete_book, "DELETE"),
    route("/addressbooks/{id}/variables", books.variables, "GET"),
    route("/addressbooks/{id}/variables/{name}/{value:path}", books.find_by_variable, "GET"),
    route("/addressbooks/{id}/variables/{name}", books.find_by_variable, "GET"),  # no searchValue: error 8
    route("/addressbooks/{id}/emails", books.list_contacts, "GET"),
    route("/addressbooks/{id}/emails", books.add_contacts, "POST"),
    route("/addressbooks/{id}/emails", books.delete_contacts, "DELETE"),
    route("/addressbooks/{id}/emails/total", books.total, "GET"),
    route("/addressbooks/{id}/emails/variable", books.change_variable, "POST PUT"),
    route("/addressbooks/{id}/emails/unsubscribe", books.unsubscribe, "POST"),
    route("/addressbooks/{id}/emails/{email}", books.contact_info, "GET"),
    route("/addressbooks/{id}/phone", books.change_phone, "PUT POST"),
    route("/addressbooks/{id}/campaigns", campaigns.of_book, "GET"),
    route("/addressbooks/{id}/cost", balance.book_cost, "GET"),
    # segments of a list (ours: SendPulse makes them in its UI)
    route("/addressbooks/{id}/segments", books.create_segment, "POST"),
    route("/addressbooks/{id}/segments", books.list_segments, "GET"),
    route("/addressbooks/{id}/segments/{segment_id}", books.get_segment, "GET"),
    route("/addressbooks/{id}/segments/{segment_id}", books.delete_segment, "DELETE"),
    route("/addressbooks/{id}/segments/{segment_id}/count", books.count_segment, "GET"),
    # one address across every list
    route("/emails", emails_api.bulk_info, "POST"),
    route("/emails/campaigns", emails_api.bulk_campaigns, "POST"),
    route("/emails/{email}", emails_api.info, "GET"),
    route("/emails/{email}", emails_api.delete, "DELETE"),
    route("/emails/{email}/details", emails_api.details, "GET"),
    route("/emails/{email}/campaigns", emails_api.campaigns, "GET"),
    # campaigns
    route("/campaigns", campaigns.create, "POST"),
    route("/campaigns", campaigns.listing, "GET"),
    route("/campaigns/{id}", campaigns.info, "GET"),
    route("/campaigns/{id}", campaigns.edit, "PATCH"),
    route("/campaigns/{id}", campaigns.cancel, "DELETE"),
    route("/campaigns/{id}/countries", campaigns.countries, "GET"),
    route("/campaigns/{id}/referrals", campaigns.referrals, "GET"),
    route("/campaigns/{id}/email/{email}", campaigns.email_status, "GET"),
    # blacklist
    route("/blacklist", blacklist_api.list_, "GET"),
    route("/blacklist", blacklist_api.add, "POST"),
    route("/blacklist", blacklist_api.remove, "DELETE"),
    # senders
    route("/senders", senders_api.list_, "GET"),
    route("/senders", senders_api.add, "POST"),
    route("/senders", senders_api.delete, "DELETE"),
    route("/senders/{email}/code", senders_api.request_code, "GET", write=True),
    route("/senders/{email}/code", senders_api.activate, "POST"),
    # templates
    route("/template", templates_api.create, "POST"),
    route("/template/edit/{id}", templates_api.edit, "POST PUT"),
    route("/template/slug/{slug}", templates_api.by_slug, "GET"),
    route("/template/{id}", templates_api.info, "GET"),
    route("/templates", templates_api.listing, "GET"),
    route("/templates/{lang}", templates_api.listing, "GET"),
    # balance
    route("/balance", balance.balance, "GET"),
    route("/balance/{currency}", balance.balance, "GET"),
    route("/user/balance/detail", balance.detail, "GET"),
    # SMTP (transactional) service
    route("/smtp/emails", smtp_api.send, "POST", grouped=True, decode=smtp_api.decode_send),
    route("/smtp/emails", smtp_api.list_emails, "GET"),
    route("/smtp/emails/{id}", smtp_api.email_info, "GET"),
    route("/smtp/unsubscribe", smtp_api.unsubscribe, "POST"),
    route("/smtp/unsubscribe", smtp_api.remove_unsubscribes, "DELETE"),
    route("/smtp/unsubscribe", smtp_api.list_unsubscribes, "GET"),
    route("/smtp/ips", smtp_api.ips, "GET"),
    route("/smtp/domains", smtp_api.domains, "GET"),
    route("/smtp/domains", smtp_api.add_domain, "POST"),
    route("/smtp/domains/{email}", smtp_api.send_domain_code, "GET", write=True),
    route("/smtp/domains/{email}", smtp_api.verify_domain, "POST"),
    route("/smtp/bounces/day", smtp_api.bounces, "GET"),
    # captured mail (ours: capture:// only)
    route("/capture/messages", capture_api.list_messages, "GET"),
    route("/capture/messages", capture_api.clear, "DELETE"),
    route("/capture/messages/{id}.eml", capture_api.download, "GET"),
    route("/capture/messages/{id}", capture_api.read_message, "GET"),
    # webhooks (document 004, v2), and ours beside them: rotating a secret, the delivery log
    route("/v2/email-service/webhook", webhooks_api.listing, "GET"),
    route("/v2/email-service/webhook", webhooks_api.create, "POST"),
    route("/v2/email-service/webhook/{id}", webhooks_api.info, "GET"),
    route("/v2/email-service/webhook/{id}", webhooks_api.update, "PUT"),
    route("/v2/email-service/webhook/{id}", webhooks_api.delete, "DELETE"),
    route("/v2/email-service/webhook/{id}/secret", webhooks_api.rotate_secret, "POST"),
    route("/v2/email-service/webhook/{id}/log", webhooks_api.delivery_log, "GET"),
    # web push (document 002, and the newer routes of the PHP client); ours: adding a website
    route("/push/tasks", push_api.tasks, "GET"),
    route("/push/tasks", push_api.create_task, "POST"),
    route("/push/tasks/{id}", push_api.task, "GET"),
    route("/push/websites", push_api.websites, "GET"),
    route("/push/websites", push_api.add_website, "POST"),
    route("/push/websites/total", push_api.count_websites, "GET"),
    route("/push/websites/info/{id}", push_api.website_info, "GET"),
    route("/push/websites/{id}/code", push_api.website_code, "GET"),
    route("/push/websites/{id}/variables", push_api.variables, "GET"),
    route("/push/websites/{id}/subscriptions", push_api.subscriptions, "GET"),
    route("/push/websites/{id}/subscriptions/total", push_api.count_subscriptions, "GET"),
    route("/push/subscriptions/state", push_api.set_state, "POST"),
    # web push in the browser (public, called from the websites' pages and service workers)
    Route("/push/subscribe", tracking.push_subscribe, methods=["POST"]),
    Route("/push/subscribe", tracking.push_preflight, methods=["OPTIONS"]),
    Route("/push/sdk/worker.js", tracking.push_worker, methods=["GET"]),
    Route("/push/sdk/{appkey}.js", tracking.push_snippet, methods=["GET"]),
    Route("/t/ps/{token}", tracking.push_shown, methods=["POST"]),
    Route("/t/pc/{token}", tracking.push_click, methods=["GET"]),
    Route("/t/pp/{token}", tracking.push_picture, methods=["GET"]),
    # the admin UI (ours): server-rendered pages, signed in with a session cookie
    Route("/ui", web.home, methods=["GET"]),
    Route("/ui/signin", web.sign_in_page, methods=["GET"]),
    Route("/ui/signin", web.sign_in, methods=["POST"]),
    Route("/ui/signout", web.sign_out, methods=["POST"]),
    Route("/ui/inbox", web.inbox, methods=["GET"]),
    Route("/ui/inbox/messages.json", web.inbox_rows, methods=["GET"]),
    Route("/ui/inbox/clear", web.clear_inbox, methods=["POST"]),
    Route("/ui/inbox/{id}", web.message, methods=["GET"]),
    Route("/ui/inbox/{id}/html", web.message_html, methods=["GET"]),
    Route("/ui/inbox/{id}/raw", web.message_raw, methods=["GET"]),
    Route("/ui/inbox/{id}/attachments/{index}", web.message_attachment, methods=["GET"]),
    Route("/ui/lists", web.lists, methods=["GET"]),
    Route("/ui/lists", web.create_list, methods=["POST"]),
    Route("/ui/lists/{id}", web.one_list, methods=["GET"]),
    Route("/ui/lists/{id}/rename", web.rename_list, methods=["POST"]),
    Route("/ui/lists/{id}/delete", web.delete_list, methods=["POST"]),
    Route("/ui/lists/{id}/segments", web.create_segment, methods=["POST"]),
    Route("/ui/lists/{id}/segments/count", web.segment_count, methods=["GET"]),
    Route("/ui/lists/{id}/import", web.start_import, methods=["POST"]),
    Route("/ui/imports/{id}", web.import_page, methods=["GET"]),
    Route("/ui/imports/{id}", web.map_import, methods=["POST"]),
    Route("/ui/imports/{id}/progress", web.import_progress, methods=["GET"]),
    Route("/ui/webhooks", web.hooks, methods=["GET"]),
    Route("/ui/webhooks", web.add_hook, methods=["POST"]),
    Route("/ui/webhooks/{id}", web.hook_log, methods=["GET"]),
    Route("/ui/webhooks/{id}/{action}", web.hook_action, methods=["POST"]),
    Route("/ui/senders", web.senders, methods=["GET"]),
    Route("/ui/senders", web.add_sender, methods=["POST"]),
    Route("/ui/senders/{action}", web.sender_action, methods=["POST"]),
    Route("/ui/blacklist", web.blacklist, methods=["GET"]),
    Route("/ui/blacklist/{action}", web.change_blacklist, methods=["POST"]),
    Route("/ui/settings", web.settings, methods=["GET"]),
    Route("/ui/settings/secret", web.rotate_secret, methods=["POST"]),
    # the admin UI's sections: a package each (web/<section>/endpoints.py, service.py)
    # ui: contacts
    Route("/ui/contacts/remove", ui_contacts.remove_from_list, methods=["POST"]),
    Route("/ui/contacts/blacklist", ui_contacts.change_blacklist, methods=["POST"]),
    Route("/ui/contacts/{email:path}", ui_contacts.contact, methods=["GET"]),
    Route("/ui/lists/{id}/export.csv", ui_contacts.export, methods=["GET"]),
    # ui: campaigns
    Route("/ui/campaigns", ui_campaigns.campaigns, methods=["GET"]),
    Route("/ui/campaigns", ui_campaigns.create_campaign, methods=["POST"]),
    Route("/ui/campaigns/{id}", ui_campaigns.report, methods=["GET"]),
    Route("/ui/campaigns/{id}/edit", ui_campaigns.edit_page, methods=["GET"]),
    Route("/ui/campaigns/{id}/edit", ui_campaigns.edit, methods=["POST"]),
    Route("/ui/campaigns/{id}/cancel", ui_campaigns.cancel, methods=["POST"]),
    Route("/ui/campaigns/{id}/recipients", ui_campaigns.recipients, methods=["GET"]),
    # ui: templates, unsubscribes, the transactional log
    Route("/ui/templates", ui_templates.listing, methods=["GET"]),
    Route("/ui/templates", ui_templates.create, methods=["POST"]),
    Route("/ui/templates/{id}", ui_templates.one, methods=["GET"]),
    Route("/ui/templates/{id}", ui_templates.edit, methods=["POST"]),
    Route("/ui/unsubscribes", ui_transactional.unsubscribes, methods=["GET"]),
    Route("/ui/unsubscribes", ui_transactional.add_unsubscribes, methods=["POST"]),
    Route("/ui/unsubscribes/remove", ui_transactional.remove_unsubscribe, methods=["POST"]),
    Route("/ui/log", ui_transactional.log, methods=["GET"]),
    Route("/ui/log/{id}", ui_transactional.message, methods=["GET"]),
    # ui: web push
    Route("/ui/push", ui_push.overview, methods=["GET"]),
    Route("/ui/push/websites", ui_push.add_website, methods=["POST"]),
    Route("/ui/push/websites/{id}", ui_push.website, methods=["GET"]),
    Route("/ui/push/websites/{id}/subscribers", ui_push.subscriber_state, methods=["POST"]),
    Route("/ui/push/tasks", ui_push.create_task, methods=["POST"]),
    Route("/ui/push/tasks/{id}", ui_push.task, methods=["GET"]),
    Route("/ui/static/{name}", web.static, methods=["GET"]),
    # public links: tracking, unsubscribe, subscription confirmation (no bearer token)
    Route("/t/o/{token}", tracking.open_pixel, methods=["GET"]),
    Route("/t/c/{token}", tracking.click, methods=["GET"]),
    Route("/t/u/{token}", tracking.unsubscribe_page, methods=["GET"]),
    Route("/t/u/{token}", tracking.unsubscribe, methods=["POST"]),
    Route("/t/confirm/{token}", tracking.confirm, methods=["GET"]),
    Route("/t/w/{token}", tracking.web_version, methods=["GET"]),
]

_SLASHES = re.compile(r"/{2,}")


class NormalisePath:
    """``//push/tasks`` and ``/balance/`` route like ``/push/tasks`` and ``/balance`` (wire README 8).
    This is the only slash handling: the router's ``redirect_slashes`` is off (``build``), so no
    path is ever answered with a redirect (it would send ``.../name/`` back to itself forever)."""

    def __init__(self, app) -> None:  # noqa: ANN001
        self.app = app

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] == "http":
            path = _SLASHES.sub("/", scope["path"])
            if len(path) > 1:
                path = path.rstrip("/") or "/"
            if path != scope["path"]:
                scope = {**scope, "path": path, "raw_path": path.encode()}
        await self.app(scope, receive, send)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    code = {404: NOT_FOUND, 405: METHOD_NOT_ALLOWED}.get(exc.status_code, exc.status_code)
    return error_response(ApiError(code, status=exc.status_code if exc.status_code < 500 else 400))


async def _body_unreadable(request: Request, exc: ClientDisconnect) -> Response:
    """A plain Starlette route read a body the server could not deliver whole (granian reports a
    malformed or cut-short body as a disconnect): the same answer as ``api.read_body`` gives."""
    return error_response(ApiError(8, "The request body is malformed or incomplete"))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return json_response({"is_error": True, "message": "Internal error", "error_code": 500}, 500)


def build(ctx: Context, *, on_startup=None, on_shutdown=None) -> NormalisePath:  # noqa: ANN001
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):  # noqa: ANN202
        if on_startup:
            on_startup()
        try:
            yield
        finally:
            if on_shutdown:
                on_shutdown()

    app = Starlette(routes=ROUTES, lifespan=lifespan,
                    exception_handlers={HTTPException: _http_error, ClientDisconnect: _body_unreadable,
                                        Exception: _unexpected})
    app.router.redirect_slashes = False  # NormalisePath has already dealt with slashes
    app.state.ctx = ctx
    return NormalisePath(app)
