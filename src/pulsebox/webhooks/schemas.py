"""Webhook request and answer shapes (document 004: ``/v2/email-service/webhook``).

``actions`` is a string or an array (one row per action); the document sends create and update
form-encoded, the clients JSON: both decode the same. ``service`` is ours: ``smtp`` subscribes to
SendPulse's separate SMTP webhook events (transactional mail); the default is the email service.
Answers are ``{"success": true, "data": ...}``; rows carry SendPulse's ``id``, ``user_id``, ``url``,
``action`` and ours: ``service``, ``secret`` (Standard Webhooks' ``whsec_`` key), ``failing``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pulsebox.errors import NOT_FOUND, ApiError
from pulsebox.wire import as_id, as_list, as_text

# document 004's actions for the email service; the SMTP webhook's events (SendPulse's knowledge base)
ACTIONS = {
    "email": ("new_emails", "delete", "unsubscribe", "task_status_update", "open", "delivered", "redirect", "spam",
              "hard_bounces", "soft_bounces"),
    "smtp": ("delivered", "undelivered", "opened", "clicked", "unsubscribed", "spam_by_user", "soft_bounces",
             "hard_bounces"),
}
INVALID = 800  # "Invalid operation": an unknown action, a URL that is not http(s) or not safe to call
MISSING = 8  # "No data"
FAILING_AFTER = 3  # posts failed in a row before a webhook shows "failing": true


def invalid(message: str) -> ApiError:
    return ApiError(INVALID, message, extra={"success": False})


def not_found() -> ApiError:
    return ApiError(NOT_FOUND, "Webhook not found", status=404, extra={"success": False})


@dataclass(frozen=True)
class Create:
    url: str
    actions: tuple[str, ...]
    service: str


def _url(params: dict) -> str:
    url = (as_text(params.get("url")) or "").strip()
    if not url:
        raise ApiError(MISSING, "url is required", extra={"success": False})
    return url


def create_request(params: dict) -> Create:
    service = (as_text(params.get("service")) or "email").strip().lower()
    if service not in ACTIONS:
        raise invalid(f"service must be email or smtp, not {service[:40]!r}")
    raw = params.get("actions", params.get("action"))
    items = [part for item in as_list(raw) for part in str(as_text(item) or "").split(",")] \
        if not isinstance(raw, str) else raw.split(",")
    actions = tuple(dict.fromkeys(a.strip() for a in items if a.strip()))
    if not actions:
        raise ApiError(MISSING, "actions is required", extra={"success": False})
    unknown = [a for a in actions if a not in ACTIONS[service]]
    if unknown:
        raise invalid(f"unknown action {unknown[0][:40]!r} for the {service} service: "
                      f"one of {', '.join(ACTIONS[service])}")
    return Create(url=_url(params), actions=actions, service=service)


def update_request(params: dict) -> str:
    return _url(params)


def webhook_id(path: dict) -> int:
    try:
        return as_id(path.get("id"), code=NOT_FOUND, field="webhook id")
    except ApiError:
        raise not_found() from None


def row(webhook: dict, secret: str) -> dict:
    return {"id": webhook["id"], "user_id": webhook["account_id"], "url": webhook["url"], "action": webhook["action"],
            "service": webhook["service"], "secret": secret, "failing": webhook["failures"] >= FAILING_AFTER}


def attempt(row_: dict) -> dict:
    return {"at": row_["at"].strftime("%Y-%m-%d %H:%M:%S"), "events": row_["events"], "status": row_["status_code"],
            "latency_ms": row_["latency_ms"], "error": row_["error"], "delivered": row_["delivered"]}


def answer(data: object) -> dict:
    return {"success": True, "data": data}
