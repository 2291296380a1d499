"""Transports, and the choice of one from ``PULSEBOX_MAIL_URL``.

``capture://`` (default): messages are kept in a local Maildir under the data directory.
``smtp://[user:pass@]host:port[?tls=starttls|ssl|none&pool=8]``: relay over pooled connections.
``mx://[?dkim_keys=/dir/of/<domain>.pem&dkim_selector=pulsebox&helo=host]``: direct delivery, DKIM-signed.
``memory://``: an in-memory fake for unit tests.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from pulsebox.delivery.transports import mx
from pulsebox.delivery.transports.base import (DeliveryError, Receipt, Transport, address_fault,
                                               enhanced_status, send_each)
from pulsebox.delivery.transports.capture import CaptureTransport
from pulsebox.delivery.transports.memory import MemoryTransport
from pulsebox.delivery.transports.smtp import SmtpRelayTransport

__all__ = ["DeliveryError", "Receipt", "Transport", "address_fault", "capture_dir", "enhanced_status", "from_url",
           "send_each"]


def capture_dir(url: str, data_dir: Path | None) -> Path | None:
    """The Maildir a ``capture://[/path]`` URL keeps messages in (``<data_dir>/mail`` by default),
    or None for any other transport."""
    parts = urlsplit(url)
    if parts.scheme != "capture":
        return None
    location = parts.netloc + parts.path
    if location:
        return Path(location)
    return Path(data_dir or ".") / "mail"


def from_url(url: str, data_dir: Path | None) -> Transport:
    parts = urlsplit(url)
    location = capture_dir(url, data_dir)
    if location is not None:
        return CaptureTransport(location)
    if parts.scheme in ("smtp", "smtps"):
        return SmtpRelayTransport(url if parts.scheme == "smtp" else url.replace("smtps://", "smtp://", 1)
                                  + ("&" if parts.query else "?") + "tls=ssl")
    if parts.scheme == "mx":
        return mx.from_options({k: v[-1] for k, v in parse_qs(parts.query).items()})
    if parts.scheme == "memory":
        return MemoryTransport()
    raise SystemExit(f"PULSEBOX_MAIL_URL: unsupported transport {parts.scheme!r} (capture://, smtp://, mx:// or memory://)")
