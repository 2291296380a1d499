"""What the DSN and ARF parsers share: reading a raw message leniently, finding a
``multipart/report`` (RFC 6522) of a given report-type, and the header-style field blocks of its
machine-readable part.

Bounces are written by every MTA ever deployed, so everything here prefers "no answer" to an
exception: the ``compat32`` policy keeps malformed headers as plain strings.
"""

from __future__ import annotations

import re
from email import message_from_bytes, message_from_string
from email.message import Message
from email.policy import compat32

_BLANK_LINE = re.compile(r"\r?\n[ \t]*\r?\n")
_WHITESPACE = re.compile(r"\s+")
# the returned original message: never look inside it for the report (RFC 6522 section 3)
ORIGINAL_TYPES = ("message/rfc822", "text/rfc822-headers", "message/global", "message/global-headers")


def parse(raw: bytes) -> Message:
    return message_from_bytes(raw, policy=compat32)


def field(block: Message, name: str) -> str:
    """A header value unfolded to one line, ``""`` when absent."""
    value = block.get(name)
    if value is None:
        return ""
    return _WHITESPACE.sub(" ", str(value)).strip()


def typed_value(value: str) -> str:
    """``rfc822; user@example.com`` -> ``user@example.com`` (RFC 3464 section 2.1.2: type; value)."""
    _, semicolon, rest = value.partition(";")
    return (rest if semicolon else value).strip()


def address(value: str) -> str:
    return typed_value(value).strip().strip("<>").strip().lower()


def find_report(message: Message, report_type: str) -> Message | None:
    """The ``multipart/report; report-type=<report_type>`` in ``message``: the message itself, or
    one nested in a multipart (a forwarded report), never one inside a returned original."""
    if message.get_content_type() == "multipart/report" and \
            (message.get_param("report-type") or "").lower() == report_type:
        return message
    if message.get_content_maintype() == "multipart" and isinstance(message.get_payload(), list):
        for part in message.get_payload():
            if isinstance(part, Message) and part.get_content_type() not in ORIGINAL_TYPES:
                found = find_report(part, report_type)
                if found is not None:
                    return found
    return None


def part_of(report: Message, content_types: tuple[str, ...]) -> Message | None:
    payload = report.get_payload()
    if not isinstance(payload, list):
        return None
    return next((p for p in payload if isinstance(p, Message) and p.get_content_type() in content_types), None)


def text(part: Message) -> str:
    """A leaf part's body, transfer-decoded, as text (undecodable bytes replaced)."""
    payload = part.get_payload(decode=True)
    if payload is None:
        payload = part.get_payload()
        return payload if isinstance(payload, str) else ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name
        return payload.decode("utf-8", errors="replace")


def field_blocks(part: Message) -> list[Message]:
    """The blank-line separated field blocks of a machine-readable part, each as a Message.

    The stdlib already splits ``message/delivery-status`` into one Message per block and parses
    other ``message/*`` types (``message/feedback-report``) as one Message whose headers are the
    first block, the rest (if any) left as its body; ``text/*`` variants arrive as plain text."""
    payload = part.get_payload()
    if not isinstance(payload, list):
        return _blocks(text(part))
    blocks: list[Message] = []
    for block in payload:
        if not isinstance(block, Message):
            continue
        blocks.append(block)
        rest = block.get_payload()
        if isinstance(rest, str) and rest.strip():
            blocks.extend(_blocks(rest))
    return blocks


def _blocks(body: str) -> list[Message]:
    return [message_from_string(chunk.strip("\r\n") + "\n", policy=compat32)
            for chunk in _BLANK_LINE.split(body) if chunk.strip()]


def body_text(message: Message) -> str:
    """Every text/plain part outside returned originals, joined: what a human-readable bounce says."""
    if message.get_content_type() in ORIGINAL_TYPES:
        return ""
    if message.is_multipart():
        payload = message.get_payload()
        return "\n".join(body_text(p) for p in payload if isinstance(p, Message)) if isinstance(payload, list) else ""
    return text(message) if message.get_content_type() == "text/plain" else ""
