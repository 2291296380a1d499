"""Who opened or clicked: client address, country, browser and OS, all from offline data.

Country comes from ``geoip2fast`` (its IP-to-country data ships in the package; loading it takes
a fraction of a second, so one instance is made on first use and shared), browser and OS from
``ua-parser`` (its regexes ship in the package). Nothing here touches the network.

The client address is the connection's peer. ``X-Forwarded-For`` is believed only when the
operator lists the reverse proxies in ``PULSEBOX_TRUSTED_PROXIES`` (comma-separated IPs or
networks) and the peer is one of them; then it is read from the right, past trusted proxies.
"""

from __future__ import annotations

import ipaddress
import threading
from functools import lru_cache

from ua_parser import parse

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_geo = None
_geo_lock = threading.Lock()


def _geoip():  # noqa: ANN202
    global _geo
    if _geo is None:
        with _geo_lock:
            if _geo is None:
                from geoip2fast import GeoIP2Fast

                _geo = GeoIP2Fast(verbose=False)
    return _geo


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1:value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.partition(":")[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


@lru_cache(maxsize=8)
def networks(raw: str) -> tuple[_Network, ...]:
    """``PULSEBOX_TRUSTED_PROXIES`` (comma-separated IPs or networks), parsed once per value."""
    networks = []
    for item in raw.split(","):
        item = item.strip()
        if item:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                continue  # a typo trusts nothing rather than failing every request
    return tuple(networks)


def client_ip(peer: str, forwarded_for: str | None, trusted: tuple[_Network, ...]) -> str:
    """The client's address. Behind trusted proxies, ``X-Forwarded-For`` is read from the right
    (each proxy appends the address it got the request from), skipping trusted proxies: the first
    address that is not one is the client. Entries left of it are whatever the client sent, so
    they are never believed. Anything that is not an IP address gives ""."""
    address = _address(peer or "")
    if forwarded_for and trusted and address is not None and any(address in n for n in trusted):
        for entry in reversed(forwarded_for.split(",")):
            hop = _address(entry)
            if hop is None:
                break  # garbage in the chain: stop at the last proxy we trust
            address = hop
            if not any(hop in n for n in trusted):
                break
    return str(address) if address is not None else ""


def counted_as(ip: str) -> str:
    """The unit a client is counted by in rate limits: its address, or for IPv6 its /64, which
    one host usually holds whole (a client must not get a fresh budget per address of it)."""
    if ":" in ip:
        try:
            return f"{int(ipaddress.IPv6Address(ip)) >> 64:x}/64"
        except ValueError:
            return ip
    return ip


def country(ip: str) -> str:
    """The country's name ("Ukraine"), or "" for private, reserved, unknown or invalid addresses."""
    if not ip:
        return ""
    try:
        found = _geoip().lookup(ip)
    except Exception:  # noqa: BLE001 - a lookup failure only loses the country
        return ""
    code = getattr(found, "country_code", "") or ""
    if len(code) != 2 or not code.isalpha() or getattr(found, "is_private", False):
        return ""
    return (getattr(found, "country_name", "") or "")[:64]


def _version(family: str | None, *parts: str | None) -> str:
    if not family or family == "Other":
        return ""
    numbers = [p for p in parts if p]
    return " ".join([family, ".".join(numbers)]) if numbers else family


def agent(user_agent: str) -> tuple[str, str]:
    """(browser, os): ("Chrome 120.0", "Windows 10"); "" for what the parser does not know."""
    if not user_agent:
        return "", ""
    try:
        parsed = parse(user_agent[:1000])
    except Exception:  # noqa: BLE001
        return "", ""
    ua, system = parsed.user_agent, parsed.os
    browser = _version(ua.family, ua.major, ua.minor) if ua else ""
    os_name = _version(system.family, system.major) if system else ""
    return browser[:120], os_name[:120]


def client_info(ip: str, user_agent: str) -> dict:
    browser, os_name = agent(user_agent)
    return {"ip": ip[:45], "country": country(ip), "browser": browser, "os": os_name}
