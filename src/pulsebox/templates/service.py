"""Template rules: the ``id`` (uid) changes on every edit while ``real_id`` stays; an edit keeps
the language; system templates are shared by every account and read-only."""

from __future__ import annotations

import re
import secrets

from sqlalchemy import Connection

from pulsebox.errors import NOT_FOUND, ApiError
from pulsebox.models import utcnow
from pulsebox.templates import builtin, repository
from pulsebox.wire import MAX_ID

UID_LENGTH = 32  # a template's ``id``: 16 random bytes in hex


def slugify(name: str) -> str:
    return re.sub(r"[^\w]+", "-", name.lower()).strip("-_")[:200] or "template"


def create(conn: Connection, account_id: int, name: str | None, body: str, lang: str) -> int:
    """A new template. A name the account already uses is not refused (document 004 names no such
    error): its slug gets the first free ``-2``, ``-3``, ... Slugs are unique per account in the
    database; a concurrent create that takes the slug between the check and the insert only moves
    this one on to the next."""
    now = utcnow()
    name = name or now.strftime("Template %Y.%m.%d %H:%M:%S")
    base = slugify(name)
    n = 1
    while True:
        slug = base if n == 1 else f"{base}-{n}"
        if not repository.slug_taken(conn, account_id, slug):
            real_id = repository.insert_template_with_free_slug(
                conn, account_id=account_id, uid=secrets.token_hex(16), name=name, name_slug=slug, lang=lang,
                body=body, created_at=now)
            if real_id is not None:
                return real_id
        n += 1


def get(conn: Connection, account_id: int, ref: str) -> dict:
    """By ``real_id`` (digits) or ``id`` (the 32-hex uid); another account's answers as missing.
    Digits that are no 32-bit id (zero, too many digits: ``int()`` of 4,301 digits would raise)
    name no template; 32 digits are also a uid (hex that happens to hold no letter)."""
    ref = ref.strip()
    if ref.isascii() and ref.isdigit():
        number = int(ref) if len(ref) <= UID_LENGTH else 0
        row = repository.by_real_id(conn, account_id, number) if 0 < number <= MAX_ID else None
        if row is None and len(ref) == UID_LENGTH:
            row = repository.by_uid(conn, account_id, ref)
    else:
        row = repository.by_uid(conn, account_id, ref)
    if row is None:
        raise ApiError(NOT_FOUND, "Template not found")
    return dict(row)


def by_slug(conn: Connection, account_id: int, slug: str) -> dict:
    row = repository.by_slug(conn, account_id, slug)
    if row is None:
        raise ApiError(NOT_FOUND, "Template not found")
    return dict(row)


def edit(conn: Connection, account_id: int, ref: str, body: str, lang: str | None) -> None:
    template = get(conn, account_id, ref)
    if template["account_id"] is None:
        raise ApiError(800, "System templates cannot be edited; create your own copy")
    if lang and lang != template["lang"]:
        raise ApiError(800, f"The template language is {template['lang']!r} and cannot be changed")
    repository.update_template(conn, template["id"], body=body, uid=secrets.token_hex(16))


def listing(conn: Connection, account_id: int, owner: str | None, lang: str | None, limit: int,
            offset: int) -> list[dict]:
    return [dict(r) for r in repository.listing(conn, account_id, owner, lang, limit, offset)]


def sync_system_templates(conn: Connection) -> int:
    """Insert the built-in templates that are missing (idempotent); returns how many were added."""
    present = repository.system_slugs(conn)
    added = 0
    for slug, name, lang, category, description in builtin.SYSTEM_TEMPLATES:
        if slug not in present:
            repository.insert_template(conn, account_id=None, uid=builtin.uid(slug), name=name, name_slug=slug,
                                       lang=lang, body=builtin.body(slug), category=category,
                                       full_description=description)
            added += 1
    return added


def recent(conn: Connection, account_id: int, before: int | None, limit: int) -> list[dict]:
    """A page of the templates the account sees (its own and the system ones), newest first, below
    ``before`` (a real_id): what a person browses; bodies are left out."""
    return [dict(r) for r in repository.recent(conn, account_id, before, limit)]
