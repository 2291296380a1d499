"""Captured mail: the account's own messages as the capture transport stored them. An account
sees only copies of its own deliveries (the account id is in every query); a message another
account sent, one never captured, and one whose file is gone all answer the same 404."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

from sqlalchemy import Connection

from pulsebox.capture import repository
from pulsebox.capture.store import Captured, for_settings
from pulsebox.config import Settings
from pulsebox.db.engine import after_commit
from pulsebox.delivery import markup
from pulsebox.errors import NOT_FOUND, ApiError


def not_found() -> ApiError:
    return ApiError(NOT_FOUND, "Captured message not found")


def listing(conn: Connection, account_id: int, settings: Settings, limit: int, offset: int,
            recipient: str | None, subject: str | None) -> list[dict]:
    """Newest first; empty when the transport is not ``capture://``."""
    store = for_settings(settings)
    if store is None:
        return []
    rows = [dict(r) for r in repository.page(conn, account_id, limit, offset, recipient, subject)]
    for row in rows:
        row["size"] = store.size(row["capture_key"]) or 0
    return rows


def _captured(conn: Connection, account_id: int, settings: Settings, delivery_id: int) -> tuple[dict, Captured]:
    store = for_settings(settings)
    row = repository.one(conn, account_id, delivery_id) if store is not None else None
    captured = store.read(row["capture_key"]) if row is not None else None
    if row is None or captured is None:
        raise not_found()
    return {**row, "size": len(captured.raw)}, captured


def raw(conn: Connection, account_id: int, settings: Settings, delivery_id: int) -> bytes:
    """The message exactly as it was handed to the transport."""
    return _captured(conn, account_id, settings, delivery_id)[1].raw


def _text(part: EmailMessage) -> str:
    try:
        return part.get_content()
    except (LookupError, ValueError, AssertionError):  # unknown charset or broken encoding
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", "replace")


def parse(data: bytes) -> dict:
    """Headers (decoded, in order), the text and HTML bodies and the attachments of a message."""
    message = message_from_bytes(data, policy=policy.default)
    headers = []
    for name, value in message.raw_items():
        try:
            headers.append([name, str(message.policy.header_fetch_parse(name, value))])
        except Exception:  # noqa: BLE001 - a malformed header is shown as it is
            headers.append([name, str(value)])
    out: dict = {"headers": headers, "text": None, "html": None, "attachments": []}
    for kind in ("plain", "html"):
        body = message.get_body(preferencelist=(kind,))
        if body is not None:
            out["text" if kind == "plain" else "html"] = _text(body)
    for part in message.iter_attachments() if message.is_multipart() else ():
        payload = part.get_payload(decode=True) or b""
        out["attachments"].append({"filename": part.get_filename() or "", "content_type": part.get_content_type(),
                                   "size": len(payload)})
    return out


def _decoded(row: dict, captured: Captured) -> dict:
    return {**row, **parse(captured.raw), "envelope": {"mail_from": captured.mail_from,
                                                        "rcpt_to": captured.recipients}}


def message(conn: Connection, account_id: int, settings: Settings, delivery_id: int) -> dict:
    return _decoded(*_captured(conn, account_id, settings, delivery_id))


def inspect(conn: Connection, account_id: int, settings: Settings, delivery_id: int) -> dict:
    """A captured copy for a person to look at (the admin UI), from one read of its file: ``message``
    with the subject as this copy was sent (a campaign's is personalised; the listing shows the
    message's own), the links of its HTML (``tracked``: through Pulsebox) and its ``source``."""
    row, captured = _captured(conn, account_id, settings, delivery_id)
    found = _decoded(row, captured)
    found["subject"] = next((v for name, v in found["headers"] if name.lower() == "subject"), found["subject"])
    tracked = f"{settings.public_url}/t/"
    found["links"] = [{"url": url, "tracked": url.startswith(tracked)}
                      for _, _, url, _ in markup.links(found["html"] or "")]
    found["source"] = captured.raw.decode("utf-8", "replace")
    return found


def attachment(conn: Connection, account_id: int, settings: Settings, delivery_id: int,
               index: int) -> tuple[str, bytes]:
    """The ``index``-th attachment of a captured copy (as ``parse`` lists them): its filename and bytes;
    404 when the copy or the attachment is missing."""
    _, captured = _captured(conn, account_id, settings, delivery_id)
    message = message_from_bytes(captured.raw, policy=policy.default)
    parts = list(message.iter_attachments()) if message.is_multipart() else []
    if not 0 <= index < len(parts):
        raise not_found()
    return parts[index].get_filename() or "", parts[index].get_payload(decode=True) or b""


def clear(conn: Connection, account_id: int, settings: Settings) -> int:
    """Delete the account's captured files and forget their keys; how many messages were cleared."""
    store = for_settings(settings)
    if store is None:
        return 0
    keys = repository.keys(conn, account_id)
    cleared = repository.forget(conn, account_id)

    def delete_files() -> None:  # only once the keys are gone for good
        for key in keys:
            store.delete(key)

    after_commit(conn, delete_files)
    return cleared
