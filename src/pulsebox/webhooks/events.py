"""The event objects webhooks post, with SendPulse's field names (its knowledge base: "How to enable
webhooks for Email service", and the SMTP service's webhook). Numbers are sent as numbers (SendPulse's
own older events sometimes carry them as strings); ``timestamp`` is Unix seconds."""

from __future__ import annotations

import time


def _event(name: str, **fields: object) -> dict:
    return {"event": name, "timestamp": int(time.time()), **fields}


# ---- the email service (lists and campaigns)

def new_email(email: str, book_id: int, variables: dict, source: str) -> dict:
    return _event("new_emails", email=email, book_id=book_id, variables=variables or {}, source=source)


def deleted(email: str, book_id: int) -> dict:
    return _event("delete", email=email, book_id=book_id)


def unsubscribed(email: str, book_id: int | None, task_id: int | None, *, from_all: bool = False,
                 reason: str = "") -> dict:
    return _event("unsubscribe", email=email, task_id=task_id, book_id=book_id, from_all=from_all, reason=reason,
                  categories=[])


def task_status(task_id: int, book_id: int | None, status: int, explain: str) -> dict:
    return _event("task_status_update", task_id=task_id, book_id=book_id, status=status, status_explain=explain)


def opened(email: str, task_id: int | None, client: dict) -> dict:
    return _event("open", email=email, task_id=task_id, open_device=client.get("device") or "",
                  open_platform=client.get("os") or "", browser_name=client.get("browser") or "",
                  browser_ver=client.get("browser_version") or "")


def redirected(email: str, task_id: int | None, client: dict, link_url: str, link_id: int) -> dict:
    return {**opened(email, task_id, client), "event": "redirect", "link_url": link_url, "link_id": link_id}


def delivered(email: str, task_id: int | None) -> dict:
    return _event("delivered", email=email, task_id=task_id)


def spam(email: str, task_id: int | None) -> dict:
    return _event("spam", email=email, task_id=task_id)


def bounced(kind: str, email: str, task_id: int | None, code: int | None, subcode: str, response: str) -> dict:
    return _event(f"{kind}_bounces", email=email, task_id=task_id, smtp_server_response_code=code,
                  smtp_server_response_subcode=subcode, smtp_server_response=response)


# ---- the SMTP service (transactional mail): its own webhook's events

def smtp(name: str, *, message_id: str, recipient: str, sender: str, subject: str, **fields: object) -> dict:
    """``delivered``, ``undelivered``, ``opened``, ``clicked``, ``unsubscribed``, ``spam_by_user``,
    ``soft_bounces``, ``hard_bounces``; the SMTP answer fields where there is one."""
    return _event(name, message_id=message_id, recipient=recipient, sender=sender, subject=subject, **fields)
