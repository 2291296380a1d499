"""The one stored form of a message: a :class:`~pulsebox.delivery.message.Mail` and the message
row's ``content`` JSON column, both ways. Only this module knows the column's keys.

The sender and the subject are columns of their own (lists and filters read them); ``content``
holds the bodies, the visible recipients (To, Cc), Reply-To, the caller's headers, attachments
(base64), the links found in the html (a click names its link by index into them) and whether
List-Unsubscribe is added. Bcc is never stored: a Bcc recipient exists only as a delivery. Once
every copy is sent only the links are kept (:func:`after_sending`).
"""

from __future__ import annotations

import base64

from pulsebox.delivery.message import Address, Attachment, Mail


def _people(items: list[Address]) -> list[list[str]]:
    return [[a.email, a.name] for a in items]


def _addresses(content: dict, key: str) -> list[Address]:
    return [Address(email, name) for email, name in content.get(key) or []]


def attachments_to_json(items: list[Attachment]) -> list[dict]:
    return [{"filename": a.filename, "content_type": a.content_type, "content": base64.b64encode(a.content).decode()}
            for a in items]


def attachments_from_json(items: list[dict] | None) -> list[Attachment]:
    return [Attachment(a["filename"], base64.b64decode(a["content"]), a["content_type"]) for a in items or []]


def encode(mail: Mail, *, links: list[str], list_unsubscribe: bool) -> dict:
    return {"html": mail.html, "text": mail.text, "to": _people(mail.to), "cc": _people(mail.cc),
            "reply_to": [mail.reply_to.email, mail.reply_to.name] if mail.reply_to else None,
            "headers": mail.headers,
            "attachments": attachments_to_json(mail.attachments),
            "links": links, "list_unsubscribe": list_unsubscribe, **({"amp": mail.amp} if mail.amp else {})}


def decode(message: dict) -> Mail:
    """The message a stored row (``sender_email``, ``sender_name``, ``subject``, ``content``) holds."""
    content = message["content"]
    reply = content.get("reply_to")
    return Mail(sender=Address(message["sender_email"], message["sender_name"]),
                to=_addresses(content, "to"), cc=_addresses(content, "cc"), subject=message["subject"],
                text=content.get("text"), html=content.get("html"),
                reply_to=Address(reply[0], reply[1]) if reply else None,
                headers=dict(content.get("headers") or {}),
                attachments=attachments_from_json(content.get("attachments")), amp=content.get("amp"))


def links(content: object) -> list[str]:
    """The links of the html as found when the message was accepted (still kept once it is sent)."""
    found = content.get("links") if isinstance(content, dict) else None
    return found if isinstance(found, list) else []


def adds_list_unsubscribe(content: dict) -> bool:
    return bool(content.get("list_unsubscribe", True))


def after_sending(content: dict, *, keep_links: bool) -> dict:
    """What a message keeps once every copy is sent: its links (which click redirects still
    resolve) or nothing. Bodies and attachments go: at thousands of messages a second they
    would fill the disk."""
    return {"links": links(content)} if keep_links else {}


def size(mail: Mail) -> int:
    return (len((mail.html or "").encode()) + len((mail.text or "").encode()) + len(mail.subject.encode())
            + len((mail.amp or "").encode())
            + sum(len(a.content) for a in mail.attachments))
