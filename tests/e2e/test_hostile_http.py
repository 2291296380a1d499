"""Hostile HTTP framing against the real server (granian, as ``pulsebox serve`` runs it), over raw sockets.

A request body the server cannot read whole (a chunk size that is not hex, a chunked body cut short,
fewer bytes than ``Content-Length`` declares) must get SendPulse's error object with a 4xx status on
every API route, with or without a token: never granian's bare 500, never a write. The server tells
the app "disconnect" for all of these, exactly as for a client that went away mid-body.
"""

from __future__ import annotations

import json
import re
import socket

import pytest
from starlette.routing import Route

from pulsebox.api import endpoint
from pulsebox.app import ROUTES

from .e2e_helpers import Api, LiveServer, unique

pytestmark = pytest.mark.e2e

API_ROUTES = [(r.path, m) for r in ROUTES if isinstance(r, Route) and isinstance(r.endpoint, endpoint)
              for m in sorted(r.methods - {"HEAD"})]
OTHER_ROUTES = [(r.path, m) for r in ROUTES if isinstance(r, Route) and not isinstance(r.endpoint, endpoint)
                for m in sorted(r.methods - {"HEAD"})]

# (label, headers after the request line's Host, body, half-close after sending)
BODIES = [
    ("chunk size zz", "Transfer-Encoding: chunked\r\n", b"zz\r\nabc\r\n0\r\n\r\n", False),
    ("chunked body cut short", "Transfer-Encoding: chunked\r\n", b"10\r\n{\"bookName\"", True),
    ("shorter than Content-Length", "Content-Length: 100\r\n", b'{"bookName": "x"', True),
]


def raw_request(server: LiveServer, method: str, path: str, headers: str, body: bytes, half_close: bool,
                token: str | None = None) -> tuple[int, bytes]:
    """Send one hand-built HTTP/1.1 request; the status and body of the answer (status 0: none)."""
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: application/json\r\n"
            f"{auth}{headers}Connection: close\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        if half_close:
            sock.shutdown(socket.SHUT_WR)  # the client is done sending: the body stays short
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    if not answer:
        return 0, b""
    head_bytes, _, payload = answer.partition(b"\r\n\r\n")
    status = int(head_bytes.split(b" ", 2)[1])
    if re.search(rb"(?im)^transfer-encoding:\s*chunked", head_bytes):  # decode a chunked answer
        out, rest = b"", payload
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                break
            out, rest = out + rest[:size], rest[size + 2:]
        payload = out
    return status, payload


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def assert_sendpulse_error(status: int, payload: bytes, what: str) -> None:
    assert 400 <= status < 500, (what, status, payload[:300])
    body = json.loads(payload)
    assert body["is_error"] is True and type(body["error_code"]) is int and body["message"], (what, body)


@pytest.mark.parametrize(("label", "headers", "body", "half_close"), BODIES, ids=[b[0] for b in BODIES])
def test_unreadable_body_is_a_sendpulse_error_on_every_api_route(live_server: LiveServer, label, headers, body,
                                                                  half_close):
    for path, method in API_ROUTES:
        status, payload = raw_request(live_server, method, concrete(path), headers, body, half_close)
        assert_sendpulse_error(status, payload, f"{label}: {method} {path}")
        assert json.loads(payload)["error_code"] == 8, (label, method, path, payload)


@pytest.mark.parametrize(("label", "headers", "body", "half_close"), BODIES, ids=[b[0] for b in BODIES])
def test_unreadable_body_never_500s_elsewhere(live_server: LiveServer, label, headers, body, half_close):
    """/healthz and the public /t/ links: whatever they answer, never a server error."""
    for path, method in OTHER_ROUTES:
        status, payload = raw_request(live_server, method, concrete(path), headers, body, half_close)
        assert 200 <= status < 500, (label, method, path, status, payload[:300])


def _complete_json_in_an_unfinished_body(full: bytes) -> list[tuple[str, str, bytes, bool]]:
    """Bodies whose bytes hold a whole, valid JSON request, in a request that never ends properly."""
    return [
        ("chunk size zz after a good chunk", "Transfer-Encoding: chunked\r\n",
         f"{len(full):x}\r\n".encode() + full + b"\r\nzz\r\n", False),
        ("no last chunk", "Transfer-Encoding: chunked\r\n", f"{len(full):x}\r\n".encode() + full + b"\r\n", True),
        ("Content-Length 10 past the JSON", f"Content-Length: {len(full) + 10}\r\n", full, True),
    ]


def test_unreadable_body_with_a_token_writes_nothing(live_server: LiveServer, api: Api):
    """The whole JSON object arrived, the request did not: nothing is created."""
    # a client that really went away (the socket closed, not half-closed) changes nothing either;
    # sent first, so the three round trips below give the server time to get it wrong
    gone = unique("hostile")
    names = [gone]
    full = json.dumps({"bookName": gone}).encode()
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=10) as sock:
        sock.sendall(f"POST /addressbooks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {api.token()}\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {len(full) + 10}\r\n\r\n".encode() + full)
    for i in range(3):
        name = unique("hostile")
        names.append(name)
        label, headers, body, half_close = _complete_json_in_an_unfinished_body(
            json.dumps({"bookName": name}).encode())[i]
        status, payload = raw_request(live_server, "POST", "/addressbooks", headers, body, half_close, api.token())
        assert_sendpulse_error(status, payload, label)
    books = api.ok("GET", "/addressbooks", params={"limit": 100})
    assert not set(names) & {b["name"] for b in books}
    assert api.ok("POST", "/addressbooks", json={"bookName": unique("after")})["id"]  # still serving
