"""The embedded default: every message is kept, as sent, in a local Maildir.

A Maildir (one file per message under ``new/``) can be read by any mail client (``mutt -f``),
and files are written atomically (tmp/ then rename), so a reader never sees half a message.
"""

from __future__ import annotations

import mailbox
import threading
from pathlib import Path

from pulsebox.delivery.transports import Receipt


class CaptureTransport:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._box = mailbox.Maildir(str(path), create=True)
        self._lock = threading.Lock()

    def send(self, mail_from: str, recipients: list[str], message: bytes) -> Receipt:
        envelope = (f"X-Pulsebox-Envelope-From: {mail_from}\r\n"
                    f"X-Pulsebox-Envelope-To: {', '.join(recipients)}\r\n").encode()
        with self._lock:
            key = self._box.add(envelope + message)
        return Receipt(250, f"2.0.0 captured as {key}", key)

    def read(self, key: str) -> bytes | None:
        """The stored message (with its two envelope lines), or None if it is gone."""
        try:
            with self._lock:
                return self._box.get_bytes(key)
        except KeyError:
            return None
