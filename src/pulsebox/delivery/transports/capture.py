"""The embedded default: every message is kept, as sent, in a local Maildir.

A Maildir (one file per message under ``new/``) can be read by any mail client (``mutt -f``),
and files are written atomically (tmp/ then rename), so a reader never sees half a message.
"""

from __future__ import annotations

import mailbox
import tempfile
import threading
from pathlib import Path

from pulsebox.delivery.transports.base import Receipt


def make_maildir(path: Path) -> None:
    """Create the Maildir with every missing parent and its ``tmp/``, ``new/``, ``cur/`` (private:
    mode 0700), and check a message can be written there. ``mailbox.Maildir(create=True)`` makes
    only the last level, and nothing in a folder that already exists. Raises OSError."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for sub in ("tmp", "new", "cur"):
        (path / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=path / "tmp"):
        pass


class CaptureTransport:
    def __init__(self, path: Path) -> None:
        self.path = path
        make_maildir(path)
        self._box = mailbox.Maildir(str(path), create=False)
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
