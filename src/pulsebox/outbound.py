"""The one way Pulsebox calls an address a user gave it (webhooks now, web push later), safe against SSRF.

A user-given URL must never reach this machine, the operator's network or a cloud metadata service.
So every new connection resolves the host itself and checks every address it gets (one bad answer
refuses the target: whoever controls the name's DNS picks the answers), then connects to the address it
checked: the request goes to the IP, with the original name in the Host header (RFC 9110 §7.2) and, for
https, as TLS SNI (RFC 6066 §3) and as the name the certificate must carry (RFC 6125). Nothing looks the
name up again, so a name that answers a public address to the check and a private one to the connection
(DNS rebinding) gains nothing. Resolving again for every connection, not once when the URL was saved,
is what stops a name that was public then and points inside now; a kept-alive connection lives at most
a minute (``Pool``). httpx parses URLs and makes the TLS context; requests go out through
``http.client`` on the pinned socket.

What is refused is what the IANA special-purpose registries (RFC 6890) list as not globally reachable,
named below with the RFC of each block. IPv6 is checked from the other side: only global unicast
(2000::/3, RFC 4291 §2.4) is on the public Internet, minus its special blocks; an IPv6 address that
carries an IPv4 one (IPv4-mapped, NAT64 64:ff9b::/96, 6to4 2002::/16) is judged by the IPv4 address it
leads to.

Redirects are never followed (a redirect is a new, unchecked target), the answer's body is read only up
to a cap, and the whole exchange, not only each socket operation, is bounded by the timeout.
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import socket
import ssl
import threading
import time
import unicodedata
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Self

import httpx

USER_AGENT = "Pulsebox-Webhooks/1"
MAX_URL_LENGTH = 2000
_DEFAULT_PORTS = {"http": 80, "https": 443}

# The caller's headers never decide how the message is framed or where it goes: Host is the URL's,
# Content-Length is the body's, and whether a connection is kept is the Pool's.
_OURS = frozenset({"host", "content-length", "transfer-encoding", "connection"})

_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _networks(table: list[tuple[str, str]]) -> list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]]:
    return [(ipaddress.ip_network(block), what) for block, what in table]


# IANA IPv4 Special-Purpose Address Registry (RFC 6890) entries that are not globally reachable, plus
# multicast and the rest of class E. First match names the reason, so the narrow entries come first.
_IPV4_REFUSED = _networks([
    ("0.0.0.0/8", "an unspecified address"),  # RFC 791 "this network"; Linux connects 0.0.0.0 to itself
    ("10.0.0.0/8", "a private address"),  # RFC 1918
    ("100.64.0.0/10", "a shared (CGNAT) address"),  # RFC 6598; also some clouds' internal services
    ("127.0.0.0/8", "a loopback address"),  # RFC 1122 §3.2.1.3
    ("169.254.169.254/32", "a cloud metadata address"),  # AWS, GCP, Azure, OpenStack instance metadata
    ("169.254.0.0/16", "a link-local address"),  # RFC 3927
    ("172.16.0.0/12", "a private address"),  # RFC 1918
    ("192.0.0.0/24", "a reserved address"),  # RFC 6890 §2.2.2: IETF protocol assignments
    ("192.0.2.0/24", "a documentation address"),  # RFC 5737 TEST-NET-1
    ("192.88.99.0/24", "a reserved address"),  # RFC 7526: the deprecated 6to4 relay anycast
    ("192.168.0.0/16", "a private address"),  # RFC 1918
    ("198.18.0.0/15", "a reserved address"),  # RFC 2544: benchmarking
    ("198.51.100.0/24", "a documentation address"),  # RFC 5737 TEST-NET-2
    ("203.0.113.0/24", "a documentation address"),  # RFC 5737 TEST-NET-3
    ("224.0.0.0/4", "a multicast address"),  # RFC 5771
    ("240.0.0.0/4", "a reserved address"),  # RFC 1112 §4 class E, with 255.255.255.255 (RFC 919)
])

_IPV6_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")  # RFC 4291 §2.4; everything else is refused
_IPV6_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 §2.1: the well-known prefix, IPv4 in the last 32 bits
_IPV6_REFUSED = _networks([
    ("::/128", "an unspecified address"),  # RFC 4291 §2.5.2
    ("::1/128", "a loopback address"),  # RFC 4291 §2.5.3
    ("fd00:ec2::254/128", "a cloud metadata address"),  # AWS instance metadata over IPv6
    ("fc00::/7", "a private address"),  # RFC 4193 unique local
    ("fe80::/10", "a link-local address"),  # RFC 4291 §2.5.6
    ("fec0::/10", "a private address"),  # RFC 3879: the deprecated site-local
    ("ff00::/8", "a multicast address"),  # RFC 4291 §2.7
    # inside 2000::/3 but not on the public Internet
    ("2001:db8::/32", "a documentation address"),  # RFC 3849
    ("2001::/23", "a reserved address"),  # RFC 2928 IETF protocol assignments: Teredo (RFC 4380), ORCHID, ...
    ("3fff::/20", "a documentation address"),  # RFC 9637
])


class UnsafeTarget(ValueError):
    """The URL may not be called: its message says why (shown to API users)."""


@dataclass(frozen=True)
class Answer:
    status: int | None  # HTTP status, None when no answer came
    latency_ms: int  # the whole call: resolution, connection, request, answer (its body up to the cap)
    error: str | None  # why it failed (timeout, refused, unsafe target, ...), None on any HTTP answer
    body: bytes  # at most max_response_bytes of the answer's body, as it came (no content decoding)
    headers: dict[str, str] = field(default_factory=dict)  # the answer's headers, names in lower case

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class _Target:
    url: httpx.URL  # the one parse everything below uses: what is resolved is what is sent
    host: str  # ASCII (IDNA) name or IP literal: looked up, and the TLS name
    port: int
    host_header: str  # host[:port] as the URL gives them


def check_url(url: str) -> str:
    """Syntax only (no DNS): an absolute http or https URL with a host, no userinfo (user:pass@),
    a port in 1..65535 if given, at most 2000 characters, no whitespace/control characters. Returns the URL
    (unchanged). Raises UnsafeTarget otherwise."""
    _target(url)
    return url


def _target(url: str) -> _Target:
    if not isinstance(url, str):
        raise UnsafeTarget("the URL must be a string")
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeTarget(f"the URL is longer than {MAX_URL_LENGTH} characters")
    # urlsplit quietly drops tabs and newlines (WHATWG), and a header built from such a URL is an
    # injection: refuse them rather than guess what was meant
    if any(c.isspace() or unicodedata.category(c) == "Cc" for c in url):
        raise UnsafeTarget("the URL contains whitespace or control characters")
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:  # an unclosed [ in the host
        raise UnsafeTarget("the URL is not valid") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise UnsafeTarget("the URL must start with http:// or https://")
    authority = parts.netloc
    if "@" in authority:
        raise UnsafeTarget("the URL may not carry a user name or password")
    raw_port = _split_port(authority)
    if raw_port and not (raw_port.isascii() and raw_port.isdigit() and 1 <= int(raw_port) <= 65535):
        raise UnsafeTarget("the URL's port must be a number from 1 to 65535")
    # httpx parses it again (IDNA, the path as it goes on the wire): the host it finds is the one resolved
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise UnsafeTarget(f"the URL is not valid: {exc}") from None
    host = parsed.raw_host.decode("ascii")
    if not parsed.is_absolute_url or not host:
        raise UnsafeTarget("the URL has no host")
    port = int(raw_port) if raw_port else _DEFAULT_PORTS[scheme]
    return _Target(parsed, host, port, parsed.netloc.decode("ascii"))


def _split_port(authority: str) -> str:
    """The port text of ``host[:port]`` or ``[v6][:port]``; refuses an IPv6 literal with a zone
    (RFC 6874: it names an interface of the sender's, never a remote service) or an IPvFuture one."""
    if authority.startswith("["):
        inside, bracket, rest = authority[1:].partition("]")
        try:
            ipaddress.IPv6Address(inside)
        except ValueError:
            bracket = ""
        if not bracket or "%" in inside or (rest and not rest.startswith(":")):
            raise UnsafeTarget("the URL's IPv6 address is not valid")
        return rest[1:]
    if not authority.partition(":")[0]:
        raise UnsafeTarget("the URL has no host")
    return authority.partition(":")[2]


def resolve(url: str, *, allow_private: bool) -> list[str]:
    """The IP addresses the URL's host resolves to (socket.getaddrinfo; an IP literal is itself), all of
    them checked: unless allow_private, any address that is loopback, private (RFC 1918, fc00::/7),
    link-local (169.254/16, fe80::/10; this includes cloud metadata 169.254.169.254), CGNAT 100.64/10,
    multicast, reserved, unspecified (0.0.0.0, ::), the AWS IPv6 metadata fd00:ec2::254, or an
    IPv4-mapped/NAT64/6to4 form of one of those, makes the whole target UnsafeTarget (one bad answer is
    enough: an attacker controls the DNS). A name that does not resolve is UnsafeTarget too."""
    return [str(a) for a in _resolve(_target(url), allow_private=allow_private)]


def _resolve(target: _Target, *, allow_private: bool) -> list[_IPAddress]:
    try:
        literal: _IPAddress | None = ipaddress.ip_address(target.host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            # called through the module so a test can stand in for DNS; numeric forms such as
            # 2130706433 or 127.1 come back as the address the system reads them as
            found = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):  # gaierror is an OSError; UnicodeError: a label IDNA refuses
            raise UnsafeTarget("the URL's host does not resolve") from None
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in found))
        if not addresses:
            raise UnsafeTarget("the URL's host does not resolve")
    if not allow_private:
        for address in addresses:
            reason = _refused(address)
            if reason is None:
                continue
            if literal is not None:
                raise UnsafeTarget(f"{address} is {reason}")
            # a name's addresses stay out of the message: it would map the operator's internal DNS
            # for whoever asks
            raise UnsafeTarget(f"the URL's host resolves to {reason}")
    return addresses


def _refused(address: _IPAddress) -> str | None:
    """Why ``address`` may not be called ("a loopback address", ...), None when it is public."""
    if isinstance(address, ipaddress.IPv4Address):
        return _first_match(address, _IPV4_REFUSED)
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        reason = _refused(embedded)
        return None if reason is None else f"{reason} (in an IPv6 form)"
    reason = _first_match(address, _IPV6_REFUSED)
    if reason is None and address not in _IPV6_GLOBAL_UNICAST:
        reason = "a reserved address"
    return reason


def _first_match(address: _IPAddress, table: list[tuple[Any, str]]) -> str | None:
    return next((what for network, what in table if address in network), None)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one leads to: IPv4-mapped ::ffff:a.b.c.d (RFC 4291 §2.5.5.2, what a
    dual-stack socket connects to as IPv4), NAT64 (RFC 6052) and 6to4 (RFC 3056 §2)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _IPV6_NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


class Pool:
    """Calls to the URLs users gave, over kept-alive connections (a webhook's turn of posts, a push
    campaign's sends to one push service: a new TCP and TLS handshake a call would cost more than
    the call).

    Every connection goes to an address resolved and checked when the connection was opened, and is
    pinned to it: whatever the name's DNS says later cannot move an open connection (DNS rebinding
    gains nothing), and a new connection is opened only after a new check. Connections are kept per
    (scheme, name, port), so one made for a name (its Host, its TLS SNI and certificate) never carries
    a request for another name on the same IP; each is used by one call at a time. A kept connection
    is dropped after ``refresh`` seconds, so a name that now points elsewhere is looked up again, and
    after any failure or an answer not read to its end (the next request would read the rest).

    ``timeout`` bounds each connect, read and write, and the whole exchange after the lookup (a server
    that answers a byte at a time gets no longer; the system resolver's own wait cannot be cut short).
    ``verify``: the TLS trust (default: httpx's, certifi's CAs)."""

    def __init__(self, *, allow_private: bool, timeout: float = 5.0, max_response_bytes: int = 4096,
                 refresh: float = 60.0, verify: ssl.SSLContext | None = None) -> None:
        self.allow_private, self.timeout, self.max_response_bytes = allow_private, timeout, max_response_bytes
        self.refresh = refresh
        self._verify = verify
        self._idle: dict[tuple[str, str, int], list[_Line]] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            lines = [line for kept in self._idle.values() for line in kept]
            self._idle.clear()
        for line in lines:
            line.close()

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        """POST body to url: the answer's status and up to ``max_response_bytes`` of its body, as it came.
        Redirects are never followed (a 3xx is returned as it is: not ok). Never raises for network
        trouble or unsafe targets: those come back as ``Answer(status=None, error=...)``."""
        started = time.monotonic()
        try:
            target = _target(url)
            line = self._checkout(target)
        except UnsafeTarget as exc:
            return Answer(None, int((time.monotonic() - started) * 1000), f"unsafe target: {exc}", b"")
        outgoing = [(name, value) for name, value in headers.items() if name.lower() not in _OURS]
        named = {name.lower() for name, _ in outgoing}
        outgoing.append(("Host", target.host_header))
        if "user-agent" not in named:
            outgoing.append(("User-Agent", USER_AGENT))
        if "accept-encoding" not in named:  # the body is kept as it came: a compressed one is never unpacked
            outgoing.append(("Accept-Encoding", "identity"))  # (a few KB can unpack to gigabytes)
        outgoing.append(("Content-Length", str(len(body))))
        answer = self._exchange(line, target, body, outgoing, started)
        if answer.status is None and line.reused and line.stale:
            # a kept connection the server had closed meanwhile: nothing was answered, so nothing was
            # taken (RFC 9112 §9.3.1 lets a client retry then); once, on a new connection to a checked address
            try:
                line = self._checkout(target, fresh=True)
            except UnsafeTarget as exc:
                return Answer(None, int((time.monotonic() - started) * 1000), f"unsafe target: {exc}", b"")
            answer = self._exchange(line, target, body, outgoing, started)
        return answer

    def _exchange(self, line: _Line, target: _Target, body: bytes, outgoing: list[tuple[str, str]],
                  started: float) -> Answer:
        reusable = False
        call = _WATCHDOG.watch(line, self.timeout)
        try:
            try:
                line.http.putrequest("POST", target.url.raw_path.decode("ascii"), skip_host=True,
                                     skip_accept_encoding=True)
                for name, value in outgoing:
                    line.http.putheader(name, value)
                line.http.endheaders(body)
                response = line.http.getresponse()
            except (OSError, http.client.HTTPException, ValueError) as exc:
                line.stale = isinstance(exc, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError))
                return Answer(None, int((time.monotonic() - started) * 1000),
                              _failure(exc, call.expired, self.timeout), b"")
            received, whole = _read_capped(response, self.max_response_bytes)
            if call.expired:  # the socket was shut mid-answer: what was read may look whole, and is not
                return Answer(None, int((time.monotonic() - started) * 1000),
                              _failure(TimeoutError(), True, self.timeout), b"")
            reusable = whole and not response.will_close
            return Answer(response.status, int((time.monotonic() - started) * 1000), None, received,
                          {name.lower(): value for name, value in response.getheaders()})
        finally:
            _WATCHDOG.release(call)
            if reusable and not call.expired:
                self._checkin(target, line)
            else:
                line.close()

    def _checkout(self, target: _Target, *, fresh: bool = False) -> _Line:
        key = (target.url.scheme, target.host, target.port)
        now = time.monotonic()
        stale: list[_Line] = []
        line = None
        with self._lock:
            kept = self._idle.get(key, []) if not fresh else []
            while kept:
                candidate = kept.pop()
                if candidate.opened_at + self.refresh > now:
                    line = candidate
                    break
                stale.append(candidate)
        for old in stale:
            old.close()
        if line is None:  # the first address: the resolver's preference
            address = _resolve(target, allow_private=self.allow_private)[0]
            tls = (self._verify or _tls_context(), target.host) if target.url.scheme == "https" else None
            line = _Line(address, target.port, tls, self.timeout)
        else:
            line.reused = True
        return line

    def _checkin(self, target: _Target, line: _Line) -> None:
        with self._lock:
            self._idle.setdefault((target.url.scheme, target.host, target.port), []).append(line)


def post(url: str, body: bytes, headers: dict[str, str], *, allow_private: bool, timeout: float = 5.0,
         max_response_bytes: int = 4096, verify: ssl.SSLContext | None = None) -> Answer:
    """One call (see :class:`Pool`): the host resolved and checked now, the connection closed after."""
    with Pool(allow_private=allow_private, timeout=timeout, max_response_bytes=max_response_bytes,
              verify=verify) as pool:
        return pool.post(url, body, headers)


class _Line:
    """One HTTP/1.1 connection to a checked address (``http.client``: no proxy, no redirects, no
    cookies, and a tenth of a general client's cost a request, measured in bench/push.py). For https the
    name, not the address, is the TLS server name (SNI, RFC 6066 §3) and what the certificate must
    carry (RFC 6125)."""

    def __init__(self, address: _IPAddress, port: int, tls: tuple[ssl.SSLContext, str] | None,
                 timeout: float) -> None:
        self.address, self.opened_at = address, time.monotonic()
        self.socket: socket.socket | None = None  # for the watchdog, once connected
        self.reused = self.stale = False
        self.http = _Pinned(self, str(address), port, tls, timeout)

    def close(self) -> None:
        self.http.close()


class _Pinned(http.client.HTTPConnection):
    def __init__(self, line: _Line, address: str, port: int, tls: tuple[ssl.SSLContext, str] | None,
                 timeout: float) -> None:
        super().__init__(address, port, timeout=timeout)
        self._line, self._tls = line, tls

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._line.socket = sock
        _WATCHDOG.connected(self._line)  # a deadline passed while connecting: shut at once
        if self._tls is not None:
            context, name = self._tls
            sock = context.wrap_socket(sock, server_hostname=name)
        self.sock = sock


def _read_capped(response: http.client.HTTPResponse, limit: int) -> tuple[bytes, bool]:
    """Up to ``limit`` bytes of the body, and whether it was read to its end (then the connection may
    serve another request); a body cut short keeps what came (the status did come)."""
    try:
        received = response.read(limit + 1)  # to the body's end (Content-Length or chunked) or limit + 1
    except http.client.IncompleteRead as cut:
        return cut.partial[:limit], False
    except (OSError, http.client.HTTPException, ValueError):
        return b"", False
    if len(received) > limit:
        return received[:limit], False
    return received, response.isclosed()


def _failure(exc: Exception, expired: bool, timeout: float) -> str:
    if expired or isinstance(exc, TimeoutError):
        return f"timeout: no answer within {timeout:g} s"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"connection failed: certificate not accepted: {exc.verify_message or exc}"
    if isinstance(exc, ConnectionError | ssl.SSLError) and not isinstance(exc, ConnectionResetError | BrokenPipeError):
        return f"connection failed: {exc}"
    if isinstance(exc, http.client.HTTPException | ConnectionResetError | BrokenPipeError):
        return f"bad answer: {exc!r}"
    return f"request failed: {exc}"


@functools.lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """httpx's default verification (certifi's CAs, or SSL_CERT_FILE/SSL_CERT_DIR), built once:
    loading the CA bundle is what makes a new client slow."""
    return httpx.create_ssl_context()


@dataclass(eq=False)
class _Call:
    line: _Line
    deadline: float
    expired: bool = False


class _Watchdog:
    """Bounds every call's whole exchange. Socket timeouts bound each operation, not their sum:
    a server sending a byte of its headers every second would hold a worker as long as it likes. At the
    deadline the call's socket is shut down (shutdown, not close: it wakes a thread blocked reading it),
    which ends whatever http.client was waiting for. One thread for the process, woken by the nearest
    deadline (a timer thread a call would cost more than a kept-alive call itself)."""

    def __init__(self) -> None:
        self._calls: set[_Call] = set()
        self._wake = threading.Condition()
        self._next = float("inf")  # the deadline the thread sleeps until
        self._thread: threading.Thread | None = None

    def watch(self, line: _Line, seconds: float) -> _Call:
        call = _Call(line, time.monotonic() + seconds)
        with self._wake:
            self._calls.add(call)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="pulsebox-outbound-watchdog", daemon=True)
                self._thread.start()
            if call.deadline < self._next:  # only then: calls of one timeout come in deadline order
                self._wake.notify()
        return call

    def release(self, call: _Call) -> None:
        with self._wake:
            self._calls.discard(call)

    def connected(self, line: _Line) -> None:
        """A connection opened: shut it at once if its call's deadline passed while connecting."""
        with self._wake:
            if any(call.line is line and call.expired for call in self._calls):
                _shut(line.socket)

    def _run(self) -> None:
        with self._wake:
            while True:
                now = time.monotonic()
                for call in self._calls:
                    if not call.expired and call.deadline <= now:
                        call.expired = True
                        _shut(call.line.socket)
                self._next = min((c.deadline for c in self._calls if not c.expired), default=float("inf"))
                self._wake.wait(None if self._next == float("inf") else self._next - now)


def _shut(sock: socket.socket | None) -> None:
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:  # already closed: the exchange ended as the deadline came
            pass


_WATCHDOG = _Watchdog()
