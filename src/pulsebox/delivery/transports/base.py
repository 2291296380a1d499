"""The Transport interface: ``send()`` hands one message to the receiving side and returns its
:class:`Receipt`, or raises :class:`DeliveryError` saying whether to retry and whose fault it was."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


# RFC 3463 section 2: an enhanced status code opens the reply text, right after the reply code
_ENHANCED_STATUS = re.compile(r"(?:^|\b[2-5]\d\d[ -])([245]\.\d{1,3}\.\d{1,3})\b")


def enhanced_status(text: str) -> str:
    """``5.1.1`` from "550 5.1.1 No such user" or "5.1.1 No such user"; "" when the reply has
    none (an address-like "5.1.3.77" later in the text is not one)."""
    found = _ENHANCED_STATUS.search(text or "")
    return found[1] if found else ""


def address_fault(status: str, *, code: int | None = None, recipient: bool = False) -> bool:
    """Whether a permanent failure is the recipient address's own (so it counts against the
    address): RFC 3463 5.1.x "bad destination address" but 5.1.7/5.1.8 (the *sender's* address),
    and 5.2.1 "mailbox disabled". A policy refusal (5.7.x: spam, blocklists, relay denied) never
    is. Without an enhanced code, a refusal at RCPT with 550/551/553, or a domain that takes no mail."""
    if status:
        return (status.startswith("5.1.") and status not in ("5.1.7", "5.1.8")) or status == "5.2.1"
    return recipient and code in (550, 551, 553, 556)


class DeliveryError(Exception):
    """Raised by a transport. ``permanent`` (5xx): do not retry; otherwise retry later.
    ``recipient``: the failure is the recipient address's (refused at RCPT, a domain that does not
    exist or takes no mail), so it counts against the address; a permanent failure that is not
    (content refused at DATA, a receiving server refusing us) bounces the copy only."""

    def __init__(self, message: str, *, permanent: bool = False, code: int | None = None,
                 recipient: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code
        self.recipient = recipient
        self.sender = False  # refused at MAIL FROM
        self.reusable = False  # whether the connection it happened on can carry the next message

    @property
    def status(self) -> str:
        return enhanced_status(str(self))

    @property
    def address_fault(self) -> bool:
        return self.permanent and address_fault(self.status, code=self.code, recipient=self.recipient)


@dataclass(frozen=True)
class Receipt:
    """What the receiving side answered (RFC 5321 section 4.2): the reply to DATA, and for
    ``capture://`` the key under which the message was stored."""

    code: int = 250
    text: str = ""
    capture_key: str | None = None


class Transport(Protocol):
    def send(self, mail_from: str, recipients: list[str], message: bytes) -> Receipt:
        """Deliver ``message`` (RFC 5322 bytes) or raise DeliveryError."""


def send_each(transport: Transport, items: Sequence[tuple[str, list[str], bytes]]) -> list[Receipt | DeliveryError]:
    """Send (envelope sender, recipients, message) items in order; each one's receipt or error. A
    transport that does better than one at a time has ``send_many`` (the SMTP relay pipelines
    from one message to the next)."""
    send_many = getattr(transport, "send_many", None)
    if send_many is not None:
        return send_many(items)
    results: list[Receipt | DeliveryError] = []
    for mail_from, recipients, message in items:
        try:
            results.append(transport.send(mail_from, recipients, message))
        except DeliveryError as error:
            results.append(error)
    return results
