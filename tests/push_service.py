"""A real Web Push service on loopback for the tests of Pulsebox's push sender.

``PushService`` is an HTTP/1.1 server (``ThreadingHTTPServer`` on 127.0.0.1, a port the system picks,
keep-alive) that takes ``POST /wpush/{token}`` as a push service does (RFC 8030 §5) and checks what a
strict one would: the ``TTL``, ``Urgency`` and ``Topic`` header fields (RFC 8030 §5.2-5.4), the VAPID
``Authorization: vapid t=<JWT>, k=<key>`` (RFC 8292 §3: ES256 signature, ``aud`` the endpoint's origin,
``exp`` in the future and at most 24 hours ahead, ``sub`` a mailto: or https: URI) and the
``aes128gcm`` body (RFC 8188, RFC 8291 §4: one record, the sender's 65-octet key as keyid), which it
decrypts with the subscriber's private key (``http_ece``). An accepted push is answered ``201 Created``
with a ``Location`` and kept in ``received``; a refused one gets the status a push service gives and is
kept in ``rejected`` with the reason.

Each ``Subscriber`` (``subscribe()``) is one browser's subscription: its ``to_json()`` is what the
browser's ``PushSubscription.toJSON()`` gives the application. A test scripts the service's answers per
endpoint with ``answer()`` (429 with ``Retry-After``, 500, 410 ...) and ``forget()`` (the browser
unsubscribed: 410 Gone from then on), and waits for pushes with ``wait_for()``.

Encodings are checked as the RFCs write them: base64url without padding in the JWT (RFC 7515) and in
``k`` (RFC 8292 §3.2); the subscription's ``p256dh`` and ``auth`` are given unpadded, as browsers do.
"""

from __future__ import annotations

import base64
import binascii
import collections
import itertools
import json
import re
import secrets
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

MAX_BODY = 4096  # RFC 8030 §7.2 / RFC 8291 §4: the payload a push service must take (larger: 413)
MAX_READ = 1 << 20  # a larger request body is not even read: 413 and the connection closed
MAX_EXP_AHEAD = 24 * 60 * 60  # RFC 8292 §2: exp no more than 24 hours after the request
URGENCIES = ("very-low", "low", "normal", "high")  # RFC 8030 §5.3
TOPIC = re.compile(r"[A-Za-z0-9_-]{1,32}")  # RFC 8030 §5.4: at most 32 characters of base64url
B64URL = re.compile(r"[A-Za-z0-9_-]*")  # unpadded (RFC 7515 §2)
WPUSH = re.compile(r"/wpush/([^/?#]+)")

Answer = int | tuple[int, dict]


def b64url(data: bytes) -> str:
    """base64url without padding (RFC 7515 §2), as browsers give ``p256dh`` and ``auth``."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """The bytes of unpadded base64url ``text`` (ValueError for anything else, padding included)."""
    if not B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_key_b64url(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> str:
    """A P-256 key's public point, uncompressed (65 octets), in unpadded base64url: an application
    server key (VAPID ``k``) or a subscription's ``p256dh``."""
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return b64url(public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))


@dataclass(repr=False)
class Subscriber:
    """One browser's push subscription at this service."""

    token: str  # path segment of its endpoint
    endpoint: str  # f"{service.base_url}/wpush/{token}"
    private_key: ec.EllipticCurvePrivateKey  # P-256, the user agent's key (RFC 8291 §2)
    auth: bytes  # the 16-octet authentication secret

    @property
    def p256dh(self) -> str:
        return public_key_b64url(self.private_key)

    def to_json(self) -> dict:
        """What ``PushSubscription.toJSON()`` gives in a browser (keys unpadded base64url)."""
        return {"endpoint": self.endpoint, "expirationTime": None,
                "keys": {"p256dh": self.p256dh, "auth": b64url(self.auth)}}

    def decrypt(self, body: bytes) -> bytes:
        """The plaintext of an ``aes128gcm`` push message body meant for this subscriber."""
        return http_ece.decrypt(body, private_key=self.private_key, auth_secret=self.auth, version="aes128gcm")

    def __repr__(self) -> str:
        return f"Subscriber({self.endpoint!r})"


@dataclass
class Received:
    """One push the service accepted."""

    token: str
    ttl: int
    urgency: str | None
    topic: str | None
    claims: dict  # the VAPID JWT's claims (aud, exp, sub)
    vapid_key: str  # the k= parameter (unpadded base64url of the uncompressed public key)
    payload: bytes  # the decrypted plaintext
    at: float  # time.monotonic() when it was accepted
    headers: dict  # the request's header fields, names in lower case ("content-encoding")
    location: str = ""  # the Location it was answered with: /m/<id>
    connection: int = 0  # which TCP connection (1, 2, ... in accept order) it came on


class _Refused(Exception):
    """A push refused: the status to answer and why."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(status, why)
        self.status, self.why = status, why


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    service: PushService

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001
        """No traceback on stderr: an error in a handler is kept in ``service.errors``."""
        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, ConnectionError) and not self.service.closed:
            self.service.errors.append(error)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every answer has a Content-Length
    server_version = "PushService/1"
    timeout = 60  # an idle keep-alive connection is closed after this
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.number = self.server.service._connected(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.service._disconnected(self.connection)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # no output; what happened is in received, rejected, log

    def do_POST(self) -> None:
        try:
            body = self._body()
        except _Refused as refused:
            self.close_connection = True
            self.server.service._refused_request(self.path, refused)
            self._reply(refused.status, {"Content-Type": "text/plain; charset=utf-8"}, refused.why.encode())
            return
        service = self.server.service
        status, headers, text, received = service._push(self.path, self.headers, body, self.number)
        self._reply(status, headers, text.encode())
        if received is not None:
            service._pushed(received)

    def do_GET(self) -> None:
        self._reply(404 if not WPUSH.fullmatch(urlsplit(self.path).path) else 405, {}, b"")

    do_PUT = do_DELETE = do_PATCH = do_GET

    def _body(self) -> bytes:
        """The request's body, read whole (a connection stays in step), at most MAX_READ octets."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, size = [], 0
            while True:
                line = self.rfile.readline(1024)
                try:
                    length = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise _Refused(400, "bad chunked encoding") from None
                if length == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):  # trailer fields
                        pass
                    return b"".join(chunks)
                size += length
                if size > MAX_READ:
                    raise _Refused(413, f"body larger than {MAX_BODY} octets")
                chunks.append(self.rfile.read(length))
                self.rfile.readline(1024)
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        try:
            length = int(raw)
            if length < 0:
                raise ValueError
        except ValueError:
            raise _Refused(400, f"bad Content-Length {raw!r}") from None
        if length > MAX_READ:
            raise _Refused(413, f"body of {length} octets, larger than {MAX_BODY}")
        return self.rfile.read(length)

    def _reply(self, status: int, headers: dict, body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, str(value))
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


class PushService:
    """A push service on ``base_url`` (``http://127.0.0.1:<port>``), started when made; a context manager
    (``close()`` at the end). Thread-safe: pushes come in on the server's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self.received: list[Received] = []  # accepted pushes, in arrival order
        self.rejected: list[tuple[str, int, str]] = []  # (token, status, why) of the pushes it refused
        self.attempts: dict[str, int] = {}  # POSTs seen per token, whatever the answer
        self.log: list[tuple[str, int, str]] = []  # (token, status, why) of every POST, in order
        self.errors: list[BaseException] = []  # exceptions in the server's threads (an on_push hook's too)
        self.on_push: Callable[[Subscriber | None, Received], None] | None = None
        self.connections = 0  # TCP connections accepted so far (keep-alive: a reusing sender makes few)
        self.closed = False
        self._subscribers: dict[str, Subscriber] = {}
        self._forgotten: set[str] = set()
        self._answers: dict[str, collections.deque[Answer]] = {}
        self._expected_key: bytes | None = None
        self._ids = itertools.count(1)
        self._open: set[socket.socket] = set()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.service = self
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        # serve_forever looks for shutdown() every poll_interval: a short one makes close() quick
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="push-service", daemon=True)
        self._thread.start()

    # the test's side

    def subscribe(self) -> Subscriber:
        """A new subscription (a fresh P-256 key and auth secret), known to the service from now on."""
        token = secrets.token_urlsafe(16)
        subscriber = Subscriber(token=token, endpoint=f"{self.base_url}/wpush/{token}",
                                private_key=ec.generate_private_key(ec.SECP256R1()), auth=secrets.token_bytes(16))
        with self._lock:
            self._subscribers[token] = subscriber
        return subscriber

    def expect_vapid_key(self, public_key_b64url: str | None) -> None:
        """Refuse (403) a push signed with another key than this one (unpadded base64url of the
        uncompressed point, the ``applicationServerKey``; padding is ignored here); None: any valid
        signature will do."""
        key = None if public_key_b64url is None else b64url_decode(public_key_b64url.rstrip("="))
        with self._lock:
            self._expected_key = key

    def answer(self, token: str, *statuses: Answer) -> None:
        """Answer the next pushes to ``token``'s endpoint with these, in turn, before the default 201:
        a status, or ``(status, headers)`` (``(429, {"Retry-After": "1"})``). A queued answer that is
        not 2xx is given as soon as the push arrives, unchecked and not kept in ``received`` (only in
        ``attempts`` and ``log``); a 2xx one replaces the 201 if the push passes the checks (a refused
        push uses it up all the same). Unknown and forgotten endpoints use up none."""
        with self._lock:
            self._answers.setdefault(token, collections.deque()).extend(statuses)

    def forget(self, token: str) -> None:
        """The browser unsubscribed: its endpoint answers 410 Gone from now on (queued answers dropped)."""
        with self._lock:
            self._forgotten.add(token)
            self._answers.pop(token, None)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """The pushes accepted so far, once there are at least ``count`` (AssertionError after ``timeout``)."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(
                    f"push service: {len(self.received)} push(es) accepted in {timeout:g} s, waited for {count};"
                    f" attempts {self.attempts}, rejected {self.rejected}, every POST {self.log[-20:]}"
                    + (f", errors {self.errors!r}" if self.errors else ""))
            return list(self.received)

    def close(self) -> None:
        """Stop listening and drop the open connections (a reusing sender sees them closed)."""
        if self.closed:
            return
        self.closed = True
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            sockets = list(self._open)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)

    def __enter__(self) -> PushService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # the server's side

    def _connected(self, sock: socket.socket) -> int:
        with self._lock:
            self._open.add(sock)
            self.connections += 1
            return self.connections

    def _disconnected(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)

    def _refused_request(self, path: str, refused: _Refused) -> None:
        match = WPUSH.fullmatch(urlsplit(path).path)
        token = match.group(1) if match else path
        with self._lock:
            self.attempts[token] = self.attempts.get(token, 0) + 1
            self.rejected.append((token, refused.status, refused.why))
            self.log.append((token, refused.status, refused.why))

    def _push(self, path: str, headers, body: bytes, connection: int) -> tuple[int, dict, str, Received | None]:  # noqa: ANN001
        """The answer to one POST: (status, header fields, body text, the push if it was accepted)."""
        match = WPUSH.fullmatch(urlsplit(path).path)
        token = match.group(1) if match else path
        with self._lock:
            self.attempts[token] = self.attempts.get(token, 0) + 1
            subscriber = self._subscribers.get(token) if match else None
            forgotten = token in self._forgotten
            queue = self._answers.get(token)
            scripted = queue.popleft() if queue and not forgotten and subscriber else None
            expected_key = self._expected_key
        if scripted is None:
            status, extra = 201, {}
        elif isinstance(scripted, tuple):
            status, extra = scripted
        else:
            status, extra = scripted, {}
        try:
            if not match or (subscriber is None and not forgotten):
                raise _Refused(404, "no such subscription")
            if forgotten:
                raise _Refused(410, "subscription gone (unsubscribed)")
            if not 200 <= status < 300:
                with self._lock:
                    self.log.append((token, status, "scripted answer"))
                return status, dict(extra), "", None
            received = self._check(token, subscriber, headers, body, expected_key)
        except _Refused as refused:
            with self._lock:
                self.rejected.append((token, refused.status, refused.why))
                self.log.append((token, refused.status, refused.why))
            return refused.status, {"Content-Type": "text/plain; charset=utf-8"}, refused.why, None
        received.location = f"/m/{next(self._ids)}"
        received.connection = connection
        with self._arrived:
            received.at = time.monotonic()
            self.received.append(received)
            self.log.append((token, status, "accepted"))
            self._arrived.notify_all()
        return status, {"Location": received.location, "TTL": str(received.ttl), **extra}, "", received

    def _pushed(self, received: Received) -> None:
        """After the 201 went out: the test's hook, if any (its exception is kept in ``errors``)."""
        hook = self.on_push
        if hook is None:
            return
        try:
            hook(self._subscribers.get(received.token), received)
        except Exception as error:  # noqa: BLE001
            with self._lock:
                self.errors.append(error)

    def _check(self, token: str, subscriber: Subscriber, headers, body: bytes,  # noqa: ANN001
               expected_key: bytes | None) -> Received:
        """The accepted push, or _Refused with the status a push service gives and why."""
        # RFC 8030 §5.2-5.4
        ttl = headers.get("TTL")
        if ttl is None:
            raise _Refused(400, "no TTL header (RFC 8030 §5.2)")
        if not re.fullmatch(r"[0-9]+", ttl.strip()):
            raise _Refused(400, f"TTL {ttl!r} is not a number of seconds")
        urgency = headers.get("Urgency")
        if urgency is not None and urgency.strip() not in URGENCIES:
            raise _Refused(400, f"Urgency {urgency!r} is not one of {', '.join(URGENCIES)}")
        topic = headers.get("Topic")
        if topic is not None and not TOPIC.fullmatch(topic.strip()):
            raise _Refused(400, f"Topic {topic!r} is not 1 to 32 characters of base64url")
        # RFC 8292 §3
        claims, vapid_key, key = self._vapid(headers.get("Authorization"))
        if expected_key is not None and key != expected_key:
            raise _Refused(403, f"signed with key {vapid_key}, the subscription is restricted to another")
        # RFC 8030 §7.2, RFC 8188, RFC 8291 §4
        if len(body) > MAX_BODY:
            raise _Refused(413, f"body of {len(body)} octets, larger than {MAX_BODY}")
        encoding = headers.get("Content-Encoding")
        if encoding is None or encoding.strip().lower() != "aes128gcm":
            raise _Refused(415, f"Content-Encoding {encoding!r}, not aes128gcm")
        if len(body) < 21 or len(body) < 21 + body[20]:
            raise _Refused(400, f"aes128gcm body of {len(body)} octets is shorter than its header")
        (rs,), idlen = struct.unpack("!L", body[16:20]), body[20]
        records = body[21 + idlen:]
        if idlen != 65 or body[21] != 4:
            raise _Refused(400, f"aes128gcm keyid is {idlen} octets, not the sender's 65-octet key (RFC 8291 §4)")
        if rs < 18:
            raise _Refused(400, f"aes128gcm record size {rs} is below 18 (RFC 8188 §2.1)")
        if len(records) > rs:
            raise _Refused(400, f"{len(records)} octets of records with rs {rs}: not one record (RFC 8291 §4)")
        if len(records) < 17:
            raise _Refused(400, "aes128gcm record shorter than its tag and delimiter")
        try:
            payload = subscriber.decrypt(body)
        except Exception as error:  # noqa: BLE001  (http_ece: ECEException, ValueError for a bad point)
            raise _Refused(400, f"cannot decrypt: {getattr(error, 'message', None) or error!r}") from None
        return Received(token=token, ttl=int(ttl.strip()), urgency=urgency.strip() if urgency else None,
                        topic=topic.strip() if topic else None, claims=claims, vapid_key=vapid_key,
                        payload=payload, at=0.0, headers={k.lower(): v for k, v in headers.items()})

    def _vapid(self, authorization: str | None) -> tuple[dict, str, bytes]:
        """The claims, the ``k`` text and the key's octets of a valid ``vapid`` Authorization (RFC 8292)."""
        if authorization is None:
            raise _Refused(401, "no Authorization header (RFC 8292 §3)")
        scheme, _, rest = authorization.strip().partition(" ")
        if scheme.lower() != "vapid":
            raise _Refused(401, f"Authorization scheme {scheme!r}, not vapid (RFC 8292 §3)")
        params: dict[str, str] = {}
        for part in rest.split(","):
            name, eq, value = part.strip().partition("=")
            if not part.strip():
                continue
            if not eq or not name.strip():
                raise _Refused(401, f"malformed Authorization parameter {part.strip()!r}")
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            if name.strip().lower() in params:
                raise _Refused(401, f"Authorization parameter {name.strip()!r} given twice")
            params[name.strip().lower()] = value
        if "t" not in params or "k" not in params:
            raise _Refused(401, "Authorization vapid without t= and k=")
        vapid_key = params["k"]
        try:
            key = b64url_decode(vapid_key)
        except (ValueError, binascii.Error):
            raise _Refused(401, f"k={vapid_key!r} is not unpadded base64url") from None
        if len(key) != 65 or key[0] != 4:
            raise _Refused(401, f"k is {len(key)} octets, not an uncompressed P-256 point")
        try:
            public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key)
        except ValueError:
            raise _Refused(401, "k is not a point on P-256") from None
        parts = params["t"].split(".")
        if len(parts) != 3:
            raise _Refused(401, "t is not a JWS compact serialization (three parts)")
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            signature = b64url_decode(parts[2])
        except (ValueError, binascii.Error) as error:
            raise _Refused(401, f"JWT parts are not unpadded base64url of JSON: {error}") from None
        if not isinstance(header, dict) or header.get("alg") != "ES256" or header.get("typ") != "JWT":
            raise _Refused(401, f"JWT header {header!r}: not typ JWT, alg ES256")
        if not isinstance(claims, dict):
            raise _Refused(401, "JWT claims are not a JSON object")
        if len(signature) != 64:
            raise _Refused(401, f"JWT signature of {len(signature)} octets, not r||s (64)")
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        try:
            public_key.verify(der, f"{parts[0]}.{parts[1]}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise _Refused(401, "JWT signature does not verify with k") from None
        if claims.get("aud") != self.base_url:
            raise _Refused(401, f"JWT aud {claims.get('aud')!r}, not the endpoint's origin {self.base_url!r}")
        exp, now = claims.get("exp"), time.time()
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise _Refused(401, f"JWT exp {exp!r} is not a NumericDate")
        if exp <= now:
            raise _Refused(401, f"JWT expired {now - exp:.0f} s ago")
        if exp > now + MAX_EXP_AHEAD:
            raise _Refused(401, f"JWT exp {exp - now:.0f} s ahead, more than 24 hours (RFC 8292 §2)")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not re.match(r"(mailto:.+|https:.+)", sub):
            raise _Refused(401, f"JWT sub {sub!r} is not a mailto: or https: URI")
        return claims, vapid_key, key


__all__ = ["PushService", "Received", "Subscriber", "b64url", "b64url_decode", "public_key_b64url"]
