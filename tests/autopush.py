"""A push service on loopback that a real Firefox subscribes to and receives Web Push messages from.

Firefox's push client (dom/push/PushServiceWebSocket.sys.mjs) keeps one WebSocket to its push service
and speaks Mozilla's autopush protocol over it (JSON text frames, subprotocol ``push-notification``):

    client hello      {"messageType": "hello", "broadcasts": {...}, "use_webpush": true[, "uaid": ...]}
    server hello      {"messageType": "hello", "status": 200, "uaid": "<hex>", "use_webpush": true,
                       "broadcasts": {<changed ids>: <version>}}
    client register   {"messageType": "register", "channelID": "<uuid>", "key": "<b64url, padded>"}
    server register   {"messageType": "register", "status": 200, "channelID": ..., "pushEndpoint": <url>}
    client unregister {"messageType": "unregister", "channelID": ..., "code": 200|201|202}
    server unregister {"messageType": "unregister", "status": 200, "channelID": ...}
    server notify     {"messageType": "notification", "channelID": ..., "version": "<opaque>",
                       "data": "<b64url body>", "headers": {"encoding": "aes128gcm"}}
    client ack        {"messageType": "ack", "updates": [{"channelID", "version", "code": 100|101|102}]}
    client nack       {"messageType": "nack", "version": ..., "code": 301|302|303}
    client ping       {}  -> server answers {}
    client broadcast_subscribe {"messageType": "broadcast_subscribe", "broadcasts": {id: version}}
    server broadcast  {"messageType": "broadcast", "broadcasts": {id: version}}

The client sends its ``uaid`` in hello only when it holds subscriptions; a server that does not know that
uaid hands out a new one, and Firefox then drops its old subscriptions (as with the real service). Ack
codes: 100 delivered, 101 decryption failed, 102 not delivered (no worker / no permission).

``AutopushServer`` is that WebSocket side. ``ForwardingPushEndpoint`` is the HTTP side of RFC 8030 an
application server POSTs to (``POST /wpush/{token}``): the subscriber's private key lives in the browser,
so it checks the request (TTL, Content-Encoding, VAPID signature and key) and forwards the encrypted body
as it came. Typical use::

    with ForwardingPushEndpoint() as http, AutopushServer(http.endpoint_base) as ws:
        http.autopush = ws
        ...  # Firefox with dom.push.serverURL = ws.ws_url subscribes; webpush() POSTs to the endpoint
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

SUBPROTOCOL = "push-notification"
ACK_DELIVERED, ACK_DECRYPTION_ERROR, ACK_NOT_DELIVERED = 100, 101, 102


def b64url_decode(text: str) -> bytes:
    """Base64url with or without padding (Firefox pads VAPID keys, pywebpush does not)."""
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class PushError(Exception):
    """A push could not be handed to the browser, or the browser did not take it."""


class UnknownSubscription(PushError, LookupError):
    """No registration has that token (never made, or unsubscribed)."""


class NotConnected(PushError):
    """The registration exists, but no browser with its uaid is connected now."""


class NotAcknowledged(PushError):
    """The browser did not ack in time, or acked with a code other than 100."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Registration:
    channel_id: str
    uaid: str
    vapid_key: str | None  # as the browser sent it: base64url of the 65-byte P-256 point, or None
    token: str = ""
    endpoint: str = ""


@dataclass
class _Waiter:
    event: threading.Event = field(default_factory=threading.Event)
    code: int | None = None


class _Client:
    """One open WebSocket, and what its hello said."""

    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.uaid: str | None = None
        self.broadcasts: dict[str, str] = {}


class AutopushServer:
    """Mozilla's autopush WebSocket protocol on 127.0.0.1, for one or more Firefox instances.

    Set Firefox's ``dom.push.serverURL`` to ``ws_url`` (with ``dom.push.testing.allowInsecureServerURL``).
    Every register gets a fresh random token and the endpoint ``f"{endpoint_base}/{token}"``;
    ``registrations`` maps the token to its ``Registration``. ``deliver()`` sends an encrypted body to
    the browser that holds the registration and waits for its ack. All methods are thread-safe.
    """

    def __init__(self, endpoint_base: str | None = None, *, ack_timeout: float = 10.0,
                 broadcasts: dict[str, str] | None = None) -> None:
        self.endpoint_base = endpoint_base.rstrip("/") if endpoint_base else None
        self.ack_timeout = ack_timeout
        self.registrations: dict[str, Registration] = {}
        self.unregistered: list[tuple[Registration, int | None]] = []  # (registration, reason code)
        self.acks: list[dict[str, Any]] = []  # every ack update: {"channelID", "version", "code"}
        self.nacks: list[dict[str, Any]] = []  # {"version", "code"}: the worker failed to handle a push
        self.broadcasts: dict[str, str] = dict(broadcasts or {})  # megaphone ids -> current version
        self.frames: list[tuple[str, str]] = []  # ("in"|"out", text): the whole conversation, for failures
        self._lock = threading.Condition()
        self._clients: dict[str, _Client] = {}  # uaid -> its open connection
        self._uaids: set[str] = set()  # every uaid this server handed out
        self._waiters: dict[str, _Waiter] = {}  # version -> who waits for its ack
        self._server = serve(self._handle, "127.0.0.1", 0, subprotocols=[SUBPROTOCOL],
                             ping_interval=None, compression=None)
        self.port: int = self._server.socket.getsockname()[1]
        self.ws_url = f"ws://127.0.0.1:{self.port}/"
        self._thread = threading.Thread(target=self._server.serve_forever, name="autopush", daemon=True)
        self._thread.start()

    # -- lifecycle -------------------------------------------------------------------------------

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(5)
        with self._lock:
            for waiter in self._waiters.values():
                waiter.event.set()

    def __enter__(self) -> AutopushServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what tests call -------------------------------------------------------------------------

    def wait_registered(self, count: int = 1, timeout: float = 10.0) -> list[Registration]:
        """Block until at least ``count`` registrations exist; returns them in registration order."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.registrations) >= count, timeout):
                raise TimeoutError(f"{len(self.registrations)} of {count} registrations after {timeout}s"
                                   f"\n{self.transcript()}")
            return list(self.registrations.values())

    def wait_connected(self, count: int = 1, timeout: float = 10.0) -> None:
        """Block until ``count`` browsers have said hello and are still connected."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._clients) >= count, timeout):
                raise TimeoutError(f"{len(self._clients)} of {count} browsers connected after {timeout}s")

    def connected(self, uaid: str) -> bool:
        with self._lock:
            return uaid in self._clients

    def registration(self, token_or_endpoint: str) -> Registration:
        token = token_or_endpoint.rstrip("/").rsplit("/", 1)[-1]
        with self._lock:
            try:
                return self.registrations[token]
            except KeyError:
                raise UnknownSubscription(f"no registration with token {token!r}") from None

    def deliver(self, token: str, body: bytes, headers: dict[str, str] | None = None, *,
                version: str | None = None, timeout: float | None = None) -> None:
        """Send ``body`` (the encrypted request body as POSTed, e.g. aes128gcm) to the browser holding
        registration ``token`` and wait for its ack.

        ``headers`` are the HTTP request's (any case): Content-Encoding, and for the old aesgcm also
        Encryption and Crypto-Key. An empty body is a push without payload. Raises UnknownSubscription,
        NotConnected (the browser is not connected now: this service stores nothing), or
        NotAcknowledged (no ack in ``timeout``, or an ack code other than 100: 101 means the browser
        could not decrypt it, 102 that it had no worker or permission for it).
        """
        version = version or uuid.uuid4().hex
        waiter = _Waiter()
        with self._lock:
            reg = self.registrations.get(token)
            if reg is None:
                raise UnknownSubscription(f"no registration with token {token!r}")
            client = self._clients.get(reg.uaid)
            if client is None:
                raise NotConnected(f"no browser connected with uaid {reg.uaid} (registration {token!r})")
            self._waiters[version] = waiter
        message: dict[str, Any] = {"messageType": "notification", "channelID": reg.channel_id,
                                   "version": version}
        if body:
            message["data"] = b64url_encode(body)
            message["headers"] = _crypto_headers(headers or {})
        try:
            self._send(client, message)
            if not waiter.event.wait(self.ack_timeout if timeout is None else timeout):
                raise NotAcknowledged(f"no ack for version {version} on channel {reg.channel_id}"
                                      f"\n{self.transcript()}")
            if waiter.code is None:
                raise NotAcknowledged(f"connection closed before the ack of version {version}")
            if waiter.code != ACK_DELIVERED:
                raise NotAcknowledged(f"browser acked version {version} with code {waiter.code}", waiter.code)
        except ConnectionClosed as exc:
            raise NotConnected(f"connection to {reg.uaid} closed while sending: {exc}") from exc
        finally:
            with self._lock:
                self._waiters.pop(version, None)

    def send_broadcast(self, broadcast_id: str, version: str) -> None:
        """Change a megaphone broadcast; connected browsers subscribed to it get a broadcast message."""
        with self._lock:
            self.broadcasts[broadcast_id] = version
            clients = [c for c in self._clients.values() if broadcast_id in c.broadcasts]
        for client in clients:
            self._send(client, {"messageType": "broadcast", "broadcasts": {broadcast_id: version}})

    def disconnect(self, uaid: str | None = None) -> None:
        """Close the browser's WebSocket (all of them without ``uaid``); Firefox reconnects on its own."""
        with self._lock:
            clients = [c for u, c in self._clients.items() if uaid is None or u == uaid]
        for client in clients:
            client.ws.close()

    def transcript(self) -> str:
        with self._lock:
            return "\n".join(f"{'<-' if d == 'in' else '->'} {text}" for d, text in self.frames[-50:])

    # -- the protocol ----------------------------------------------------------------------------

    def _send(self, client: _Client, message: dict[str, Any]) -> None:
        text = "{}" if message == {} else json.dumps(message)
        with self._lock:
            self.frames.append(("out", text))
        client.ws.send(text)

    def _handle(self, ws: ServerConnection) -> None:
        client = _Client(ws)
        try:
            for frame in ws:
                if not isinstance(frame, str):
                    continue
                with self._lock:
                    self.frames.append(("in", frame))
                try:
                    message = json.loads(frame)
                except ValueError:
                    ws.close(1003, "not JSON")
                    return
                if not isinstance(message, dict):
                    continue
                kind = message.get("messageType")
                if kind is None or kind == "ping":  # "{}": a ping, answered the same way
                    self._send(client, {})
                elif kind == "hello":
                    self._hello(client, message)
                elif client.uaid is None:  # anything else before hello is a protocol error
                    ws.close(1002, "hello first")
                    return
                elif kind == "register":
                    self._register(client, message)
                elif kind == "unregister":
                    self._unregister(client, message)
                elif kind == "ack":
                    self._ack(message)
                elif kind == "nack":
                    with self._lock:
                        self.nacks.append({"version": message.get("version"), "code": message.get("code")})
                elif kind == "broadcast_subscribe":
                    self._broadcast_subscribe(client, message)
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                if client.uaid is not None and self._clients.get(client.uaid) is client:
                    del self._clients[client.uaid]
                self._lock.notify_all()

    def _hello(self, client: _Client, message: dict[str, Any]) -> None:
        asked = message.get("uaid")
        wanted = message.get("broadcasts") or {}
        with self._lock:
            if client.uaid is not None:
                return  # a second hello on one connection: ignored, as autopush does
            uaid = asked if isinstance(asked, str) and asked in self._uaids else uuid.uuid4().hex
            self._uaids.add(uaid)
            old = self._clients.get(uaid)
            client.uaid = uaid
            client.broadcasts = {k: v for k, v in wanted.items() if isinstance(v, str)}
            self._clients[uaid] = client
            changed = {k: self.broadcasts[k] for k, v in client.broadcasts.items()
                       if k in self.broadcasts and self.broadcasts[k] != v}
            self._lock.notify_all()
        if old is not None and old is not client:  # the same browser again: the older socket goes
            old.ws.close()
        self._send(client, {"messageType": "hello", "status": 200, "uaid": uaid, "use_webpush": True,
                            "broadcasts": changed})

    def _register(self, client: _Client, message: dict[str, Any]) -> None:
        channel_id = message.get("channelID")
        key = message.get("key")
        reply: dict[str, Any] = {"messageType": "register", "channelID": channel_id}
        if not isinstance(channel_id, str) or not _is_uuid(channel_id):
            reply["status"] = 401
        elif key is not None and not _is_p256_point(key):
            reply["status"] = 400
        elif self.endpoint_base is None:  # a harness mistake: set endpoint_base before browsers register
            reply["status"] = 500
        else:
            token = secrets.token_urlsafe(24)
            endpoint = f"{self.endpoint_base}/{token}"
            reg = Registration(channel_id=channel_id, uaid=client.uaid or "", vapid_key=key, token=token,
                               endpoint=endpoint)
            with self._lock:
                self.registrations[token] = reg
                self._lock.notify_all()
            reply.update(status=200, pushEndpoint=endpoint)
        self._send(client, reply)

    def _unregister(self, client: _Client, message: dict[str, Any]) -> None:
        channel_id = message.get("channelID")
        code = message.get("code")
        with self._lock:
            for token, reg in list(self.registrations.items()):
                if reg.uaid == client.uaid and isinstance(channel_id, str) and \
                        reg.channel_id.lower() == channel_id.lower():
                    del self.registrations[token]
                    self.unregistered.append((reg, code))
            self._lock.notify_all()
        self._send(client, {"messageType": "unregister", "channelID": channel_id, "status": 200})

    def _ack(self, message: dict[str, Any]) -> None:
        updates = message.get("updates")
        if not isinstance(updates, list):
            return
        with self._lock:
            for update in updates:
                if not isinstance(update, dict):
                    continue
                self.acks.append(update)
                waiter = self._waiters.get(str(update.get("version")))
                if waiter is not None:
                    waiter.code = update.get("code", ACK_DELIVERED)
                    waiter.event.set()

    def _broadcast_subscribe(self, client: _Client, message: dict[str, Any]) -> None:
        wanted = message.get("broadcasts") or {}
        with self._lock:
            client.broadcasts.update({k: v for k, v in wanted.items() if isinstance(v, str)})
            changed = {k: self.broadcasts[k] for k, v in wanted.items()
                       if k in self.broadcasts and self.broadcasts[k] != v}
        if changed:
            self._send(client, {"messageType": "broadcast", "broadcasts": changed})


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _is_p256_point(key: Any) -> bool:
    if not isinstance(key, str):
        return False
    try:
        raw = b64url_decode(key)
    except (ValueError, binascii.Error):
        return False
    return len(raw) == 65 and raw[0] == 4


def _crypto_headers(http_headers: dict[str, str]) -> dict[str, str]:
    """The notification's ``headers``: what autopush passes on of the request's (lower-cased names)."""
    lower = {k.lower(): v for k, v in http_headers.items()}
    out = {"encoding": lower.get("content-encoding", "aes128gcm")}
    for name, key in (("encryption", "encryption"), ("crypto-key", "crypto_key"),
                      ("encryption-key", "encryption_key")):
        if out["encoding"] != "aes128gcm" and name in lower:
            out[key] = lower[name]
    return out


# -- VAPID (RFC 8292) ------------------------------------------------------------------------------

def verify_vapid(headers: dict[str, str], audience: str, expected_key: str | None) -> str | None:
    """Why the request's VAPID authorization is not acceptable, or None when it is.

    Accepts ``Authorization: vapid t=<jwt>, k=<key>`` (RFC 8292) and the older ``WebPush <jwt>`` with
    ``Crypto-Key: p256ecdsa=<key>``. Checks the ES256 signature, ``aud`` (the endpoint's origin), ``exp``
    (in the future, at most 24 hours ahead) and, when the subscription was made with an
    applicationServerKey, that the signing key is that key.
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    lower = {k.lower(): v for k, v in headers.items()}
    auth = lower.get("authorization", "")
    scheme, _, rest = auth.partition(" ")
    if scheme.lower() == "vapid":
        params = dict(p.strip().split("=", 1) for p in rest.split(",") if "=" in p)
        token, key = params.get("t"), params.get("k")
    elif scheme.lower() == "webpush":
        token = rest.strip()
        match = re.search(r"p256ecdsa=([A-Za-z0-9_\-=]+)", lower.get("crypto-key", ""))
        key = match.group(1) if match else None
    else:
        return "authorization missing" if expected_key else None
    if not token or not key:
        return "authorization without token or key"
    try:
        raw_key = b64url_decode(key)
        header_b64, claims_b64, sig_b64 = token.split(".")
        header = json.loads(b64url_decode(header_b64))
        claims = json.loads(b64url_decode(claims_b64))
        sig = b64url_decode(sig_b64)
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw_key)
    except (ValueError, binascii.Error):
        return "malformed authorization"
    if header.get("alg") != "ES256" or len(sig) != 64:
        return "not an ES256 token"
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    try:
        public.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return "bad signature"
    if expected_key and b64url_decode(expected_key) != raw_key:
        return "signed with a key other than the subscription's applicationServerKey"
    if claims.get("aud") != audience:
        return f"aud {claims.get('aud')!r} is not {audience!r}"
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or not time.time() < exp <= time.time() + 24 * 3600 + 60:
        return f"exp {exp!r} out of range"
    return None


# -- the HTTP side ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Push:
    token: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


class ForwardingPushEndpoint:
    """RFC 8030 push resource on 127.0.0.1 that forwards each push, still encrypted, to ``autopush``.

    ``POST /wpush/{token}`` with ``TTL`` and ``Content-Encoding: aes128gcm`` (or the legacy aesgcm)
    answers 201 with a ``Location`` once the browser acked; 404 for an unknown token, 400 without TTL,
    415 for another encoding, 401/403 for bad VAPID authorization (when ``check_vapid``), 502 when the
    browser is not connected or did not ack (the reason is the body). Each accepted request is recorded
    in ``pushes``. ``autopush`` may be set after construction, since it needs ``endpoint_base`` first.
    """

    def __init__(self, autopush: AutopushServer | None = None, *, check_vapid: bool = True) -> None:
        self.autopush = autopush
        self.check_vapid = check_vapid
        self.pushes: list[Push] = []
        self.rejected: list[tuple[int, str]] = []  # (status, reason) of refused requests
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.endpoint_base = f"{self.origin}/wpush"
        if autopush is not None and autopush.endpoint_base is None:
            autopush.endpoint_base = self.endpoint_base
        self._thread = threading.Thread(target=self._server.serve_forever, name="push-endpoint", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> ForwardingPushEndpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _reject(self, status: int, reason: str) -> tuple[int, str]:
        with self._lock:
            self.rejected.append((status, reason))
        return status, reason

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, str, dict[str, str]]:
        """(status, text, extra headers) for one POST: the logic, apart from the HTTP plumbing."""
        match = re.fullmatch(r"/wpush/([A-Za-z0-9_\-]+)", urlsplit(path).path)
        if match is None:
            return (*self._reject(404, "not a push resource"), {})
        token = match.group(1)
        autopush = self.autopush
        if autopush is None:
            return (*self._reject(503, "no AutopushServer attached"), {})
        try:
            reg = autopush.registration(token)
        except UnknownSubscription:
            return (*self._reject(404, "no such subscription"), {})
        lower = {k.lower(): v for k, v in headers.items()}
        ttl = lower.get("ttl", "")
        if not ttl.strip().isdigit():
            return (*self._reject(400, "TTL header missing or not a number"), {})
        encoding = lower.get("content-encoding", "").strip().lower()
        if body and encoding not in ("aes128gcm", "aesgcm"):
            return (*self._reject(415, f"Content-Encoding {encoding!r} is not aes128gcm"), {})
        if self.check_vapid:
            problem = verify_vapid(headers, self.origin, reg.vapid_key)
            if problem:
                return (*self._reject(401 if "missing" in problem else 403, f"VAPID: {problem}"), {})
        with self._lock:
            self.pushes.append(Push(token=token, headers=lower, body=body))
        version = uuid.uuid4().hex
        try:
            autopush.deliver(token, body, headers, version=version)
        except UnknownSubscription:
            return (*self._reject(404, "no such subscription"), {})
        except PushError as exc:
            return (*self._reject(502, str(exc).splitlines()[0]), {})
        return 201, "", {"Location": f"{self.origin}/m/{version}", "TTL": ttl.strip()}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, text, extra = endpoint.handle(self.path, dict(self.headers.items()), body)
                payload = text.encode()
                self.send_response(status, HTTPStatus(status).phrase)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        return Handler
