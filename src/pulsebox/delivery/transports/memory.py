"""An in-memory fake transport for unit tests: it keeps what it was given."""

from __future__ import annotations

from pulsebox.delivery.transports.base import Receipt


class MemoryTransport:
    def __init__(self) -> None:
        self.sent: list[tuple[str, list[str], bytes]] = []

    def send(self, mail_from: str, recipients: list[str], message: bytes) -> Receipt:
        self.sent.append((mail_from, list(recipients), message))
        return Receipt(250, f"2.0.0 kept as #{len(self.sent)}")
