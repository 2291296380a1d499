"""The small, self-contained HTML pages a recipient's browser sees (no scripts, no external
resources). Every value is escaped."""

from __future__ import annotations

from html import escape

_STYLE = ("body{font:16px/1.5 system-ui,sans-serif;color:#222;background:#f6f6f6;margin:0}"
          "main{max-width:32rem;margin:4rem auto;padding:2rem;background:#fff;border-radius:8px}"
          "h1{font-size:1.3rem;margin-top:0}button{font:inherit;padding:.5rem 1.2rem;cursor:pointer}")


def _page(title: str, body: str) -> str:
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            "<meta name=\"robots\" content=\"noindex\">"
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
            f"<body><main><h1>{escape(title)}</h1>{body}</main></body></html>")


def mask(email: str) -> str:
    """``j***@example.com``: enough for its owner to recognise, not a full address for others."""
    local, at, domain = email.rpartition("@")
    if not at:
        local, domain = email, ""
    shown = local[:1] + "***"
    return f"{shown}@{domain}" if domain else shown


def unsubscribe_form(email: str, sender: str) -> str:
    """The GET page: a question and a POST button to the same URL (no ``action``: the form posts
    to the page's own address). Link scanners prefetch GETs, never POST."""
    question = f"Unsubscribe {escape(mask(email))} from mail sent by {escape(sender)}?"
    form = ("<form method=\"post\">"
            "<button type=\"submit\" name=\"unsubscribe\" value=\"yes\">Unsubscribe</button></form>")
    return _page("Unsubscribe", f"<p>{question}</p>{form}")


def unsubscribed(email: str, sender: str) -> str:
    return _page("You are unsubscribed",
                 f"<p>{escape(mask(email))} will no longer receive mail sent by {escape(sender)}.</p>")


def confirmed() -> str:
    return _page("Subscription confirmed", "<p>Thank you: your subscription is confirmed.</p>")


def too_many() -> str:
    return _page("Too many requests", "<p>Too many requests from your network. Please try again in a minute.</p>")


def not_found() -> str:
    return _page("Link not valid", "<p>This link is not valid or has expired.</p>")
