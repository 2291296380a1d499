"""Pulsebox's own system templates (owner "sendpulse" on the wire), seeded by ``pulsebox migrate``."""

from __future__ import annotations

import hashlib
from importlib import resources

# (slug, name, lang, category, description)
SYSTEM_TEMPLATES = (
    ("pulsebox-welcome", "Welcome", "en", "welcome",
     "Greets a new subscriber by name and explains how to unsubscribe."),
    ("pulsebox-newsletter", "Monthly newsletter", "en", "newsletter",
     "A one-column newsletter with a headline, a paragraph and a button."),
    ("pulsebox-receipt", "Order receipt", "en", "ecommerce",
     "A receipt with {{order_id}}, {{order_date}} and {{total}} variables."),
)


def body(slug: str) -> str:
    name = slug.removeprefix("pulsebox-") + ".html"
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def uid(slug: str) -> str:
    return hashlib.md5(slug.encode()).hexdigest()  # stable "id" of a system template  # noqa: S324
