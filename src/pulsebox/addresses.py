"""Email address checks shared by every area: one syntax rule, one normal form (lower case)."""

from __future__ import annotations

import re

from pulsebox.errors import ApiError

# RFC 5321 section 4.5.3.1: 64 octets local part, 255 domain, 254 for a usable path.
_ADDRESS = re.compile(r"[^\s@<>()\[\],;:\"\\]{1,64}@(?:[^\s@<>()\[\],;:\"\\.]{1,63}\.)+[^\s@<>()\[\],;:\"\\.\d]{2,63}")


def normalize(value: object) -> str | None:
    """The address in normal form, or None when it is not a plausible address."""
    if not isinstance(value, str):
        return None
    address = value.strip().lower()
    if (len(address) > 254 or not _ADDRESS.fullmatch(address) or ".." in address or address.startswith(".")
            or any(ord(c) < 32 or ord(c) == 127 for c in address)):
        return None
    return address


def require(value: object, *, missing: int = 1101, invalid: int = 906) -> str:
    """A single address from a request, or the documented error (missing: 1101, bad: 906)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ApiError(missing)
    address = normalize(value)
    if address is None:
        raise ApiError(invalid, f"Email address syntax error: {str(value)[:100]!r}")
    return address


def domain(address: str) -> str:
    return address.rpartition("@")[2]


# Mailbox providers where anyone can get an address: proving control of one address there proves
# nothing about the domain, so such a domain can never become an account's verified sending domain.
PUBLIC_MAILBOX_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "ymail.com", "outlook.com", "hotmail.com", "live.com", "msn.com",
    "icloud.com", "me.com", "aol.com", "gmx.com", "gmx.de", "gmx.net", "web.de", "mail.com", "proton.me",
    "protonmail.com", "zoho.com", "yandex.ru", "yandex.com", "ya.ru", "mail.ru", "bk.ru", "inbox.ru", "list.ru",
    "rambler.ru", "ukr.net", "i.ua", "meta.ua", "qq.com", "163.com", "126.com", "naver.com",
    "hotmail.co.uk", "hotmail.fr", "hotmail.de", "hotmail.it", "hotmail.es", "live.co.uk", "live.fr", "outlook.de",
    "outlook.fr", "outlook.es", "yahoo.co.uk", "yahoo.fr", "yahoo.de", "yahoo.co.jp", "yahoo.com.br", "mail.ua",
    "seznam.cz", "wp.pl", "o2.pl", "interia.pl", "libero.it", "orange.fr", "free.fr", "laposte.net", "t-online.de",
})
