"""One hostile request must never stop the service for everyone else.

Each payload below froze a running ``pulsebox serve`` for 20-54 s before the fix (an outside probe,
issue 13). Here each is sent to the real server (granian, SQLite, the in-process worker) while a
second thread keeps asking ``/healthz`` and another account's API: every one of those answers must
come back within a second while the hostile request is processed, and the hostile request itself
must get its answer (a 4xx, or an accepted message) promptly.
"""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest

from .e2e_helpers import Api, LiveServer, poll, unique

PHP_LOOP = "a:1000000000000000:{i:0;a:0:{}i:1;O:-17:}"  # a negative length made the reader jump back for ever
MAX_PAUSE = 1.0  # seconds any other request may wait while a hostile one is processed


@pytest.fixture(scope="module")
def bystander(live_server: LiveServer) -> Iterator[Api]:
    """Another account, going about its business."""
    client = live_server.api(live_server.create_account(unique("bystander")))
    yield client
    client.close()


@contextmanager
def others_keep_answering(server: LiveServer, bystander: Api) -> Iterator[None]:
    """Probe ``/healthz`` and the bystander's ``GET /addressbooks`` every 20 ms while the block runs;
    fail if any of them took longer than MAX_PAUSE or failed."""
    token = bystander.token()
    stop = threading.Event()
    slowest: list[tuple[float, str]] = []
    failures: list[str] = []

    def probe() -> None:
        with httpx.Client(base_url=server.base_url, timeout=10.0) as http:
            while not stop.is_set():
                for path, headers in (("/healthz", {}), ("/addressbooks", {"Authorization": f"Bearer {token}"})):
                    started = time.perf_counter()
                    try:
                        answer = http.get(path, headers=headers)
                        if answer.status_code != 200:
                            failures.append(f"{path}: {answer.status_code} {answer.text[:200]}")
                    except httpx.HTTPError as exc:
                        failures.append(f"{path}: {exc!r}")
                    slowest.append((time.perf_counter() - started, path))
                stop.wait(0.02)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    time.sleep(0.1)  # the probe is running before the hostile request goes out
    try:
        yield
    finally:
        time.sleep(0.1)
        stop.set()
        thread.join(timeout=15)
    assert not failures, failures[:5]
    assert len(slowest) >= 4
    worst = max(slowest)
    assert worst[0] < MAX_PAUSE, f"{worst[1]} waited {worst[0]:.2f}s while the hostile request ran"


def timed(request: Callable[[], httpx.Response], limit: float = 5.0) -> httpx.Response:
    started = time.perf_counter()
    answer = request()
    assert time.perf_counter() - started < limit, f"the hostile request took {time.perf_counter() - started:.1f}s"
    return answer


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_php_serialize_loop_in_a_get_query(live_server, api, bystander):
    with others_keep_answering(live_server, bystander):
        answer = timed(lambda: api.request("GET", "/blacklist", params={"emails": PHP_LOOP}))
    assert answer.status_code == 400 and answer.json()["error_code"] == 8


def test_php_serialize_loop_in_four_token_requests_at_once(live_server, bystander):
    """Unauthenticated: four at once used to hold every write thread, token issuance included."""
    def hostile() -> httpx.Response:
        return httpx.post(f"{live_server.base_url}/oauth/access_token", timeout=30,
                          data={"grant_type": "client_credentials", "client_id": PHP_LOOP, "client_secret": "x"})

    with others_keep_answering(live_server, bystander), ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: timed(hostile), range(4)))
        # and a write of the bystander's goes through meanwhile
        assert bystander.ok("POST", "/addressbooks", json={"bookName": unique("list")})["id"]
    assert all(400 <= a.status_code < 500 and a.json()["is_error"] for a in answers)


@pytest.mark.parametrize("html", ["<a " * 30_000, "<a href=x>" * 24_000, '<a href="' * 100_000,
                                  "<!--<a title='" * 60_000],
                         ids=["unclosed anchors", "anchors never closed", "open quotes", "comments and quotes"])
def test_hostile_html_is_accepted_and_sent_without_stalling_anyone(live_server, api, bystander, html):
    """Links are found while the message is accepted (inside the group commit) and the text part
    is made from the html in the worker: both used backtracking regexes."""
    hostile_to, other_to = f"{unique('victim')}@example.com", f"{unique('other')}@example.com"
    with others_keep_answering(live_server, bystander):
        answer = timed(lambda: api.request("POST", "/smtp/emails", json={"email": {
            "subject": "hostile", "from": {"email": "attacker@example.com"}, "to": [{"email": hostile_to}],
            "html": b64(html)}}))
        assert answer.status_code == 200, answer.text
        started = time.perf_counter()
        bystander.ok("POST", "/smtp/emails", json={"email": {
            "subject": "hello", "from": {"email": "shop@example.com"}, "to": [{"email": other_to}],
            "html": b64("<p>Your order</p>")}})
        poll("the bystander's mail", lambda: bystander.ok("GET", "/capture/messages", params={"recipient": other_to}),
             timeout=10)
        assert time.perf_counter() - started < 3.0  # another account's mail is not held up
    poll("the hostile mail", lambda: api.ok("GET", "/capture/messages", params={"recipient": hostile_to}), timeout=10)


def test_large_form_body_on_a_get(live_server, api, bystander):
    body = b"&".join(b"f%d=%s" % (i, b"x" * 40) for i in range(250_000))  # ~12 MB of form fields
    with others_keep_answering(live_server, bystander):
        answer = timed(lambda: api.request("GET", "/addressbooks", content=body,
                                           headers={"Content-Type": "application/x-www-form-urlencoded"}), 20)
    assert answer.status_code in (200, 400, 413), answer.text[:200]


def test_malformed_chunked_body(live_server, bystander):
    with others_keep_answering(live_server, bystander):
        with socket.create_connection(("127.0.0.1", live_server.port), timeout=10) as conn:
            conn.sendall(b"POST /oauth/access_token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")
            reply = conn.recv(65536)
    assert reply.startswith(b"HTTP/1.1 4"), reply[:200]


def test_replayed_pixel_and_odd_variable_searches(live_server, api, bystander):
    """The other payloads of the probe: 300 replays of one open pixel (counted once), and searches
    by variable that used to loop on a redirect (``.../name/``) or fail a cast on PostgreSQL."""
    to = f"{unique('reader')}@example.com"
    public_id = api.ok("POST", "/smtp/emails", json={"email": {
        "subject": "news", "from": {"email": "shop@example.com"}, "to": [{"email": to}],
        "html": b64("<p>Hello</p>")}})["id"]
    captured = poll("the message", lambda: api.ok("GET", "/capture/messages", params={"recipient": to}), timeout=10)
    html = api.ok("GET", f"/capture/messages/{captured[0]['id']}")["html"]
    pixel = html[html.index("/t/o/"):].split('"', 1)[0]
    book = api.ok("POST", "/addressbooks", json={"bookName": unique("vars")})["id"]
    api.ok("POST", f"/addressbooks/{book}/emails", json={"emails": [{"email": to, "variables": {"city": "Kyiv"}}]})
    with others_keep_answering(live_server, bystander), httpx.Client(base_url=live_server.base_url) as http:
        assert all(http.get(pixel).status_code == 200 for _ in range(300))
        for value in ("", "30", "nan", "1e999"):
            answer = api.request("GET", f"/addressbooks/{book}/variables/city/{value}", follow_redirects=False)
            assert answer.status_code == (400 if value == "" else 200), (value, answer.status_code, answer.text)
    assert api.ok("GET", f"/smtp/emails/{public_id}")["tracking"]["open"] == 1
