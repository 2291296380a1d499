"""The capture transport's Maildir, read by key: one file per message, ``new/<key>`` (or
``cur/<key>:2,<flags>`` once a mail client has seen it). The file starts with two envelope lines
the transport adds (``X-Pulsebox-Envelope-From``/``-To``), then the message exactly as sent."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from pulsebox.config import Settings
from pulsebox.delivery.transports import capture_dir

ENVELOPE_PREFIX = b"x-pulsebox-envelope-"
ENVELOPE_MAX = 64 * 1024  # far more than two envelope lines (a delivery has one recipient)


@dataclass(frozen=True)
class Captured:
    raw: bytes  # the message as sent, without the envelope lines
    mail_from: str
    recipients: list[str]


def split_envelope(data: bytes) -> Captured:
    mail_from, recipients, position = "", [], 0
    while True:
        end = data.find(b"\n", position)
        if end == -1 or not data[position:end + 1].lower().startswith(ENVELOPE_PREFIX):
            break
        name, _, value = data[position:end].decode("utf-8", "replace").partition(":")
        value = value.strip()
        if name.lower().endswith("-from"):
            mail_from = value
        elif name.lower().endswith("-to"):
            recipients = [r.strip() for r in value.split(",") if r.strip()]
        position = end + 1
    return Captured(data[position:], mail_from, recipients)


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _file(self, key: str) -> Path | None:
        if not key or "/" in key or "\\" in key or key.startswith(".") or "\x00" in key:
            return None
        fresh = self.path / "new" / key
        if fresh.is_file():
            return fresh
        seen = self.path / "cur" / key
        if seen.is_file():
            return seen
        for name in glob.glob(glob.escape(str(self.path / "cur" / key)) + "[:!]*"):
            return Path(name)
        return None

    def size(self, key: str) -> int | None:
        """The size of the message as sent (without reading all of it), or None when it is gone."""
        path = self._file(key)
        if path is None:
            return None
        try:
            with open(path, "rb") as file:
                head = file.read(ENVELOPE_MAX)
                total = os.fstat(file.fileno()).st_size
        except FileNotFoundError:
            return None
        return total - (len(head) - len(split_envelope(head).raw))

    def read(self, key: str) -> Captured | None:
        path = self._file(key)
        if path is None:
            return None
        try:
            return split_envelope(path.read_bytes())
        except FileNotFoundError:  # removed between the lookup and the read
            return None

    def delete(self, key: str) -> bool:
        path = self._file(key)
        if path is None:
            return False
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        return True


def for_settings(settings: Settings) -> Store | None:
    """The store of the configured transport, or None when it is not ``capture://``."""
    path = capture_dir(settings.mail_url, settings.data_dir)
    return Store(path) if path is not None else None
