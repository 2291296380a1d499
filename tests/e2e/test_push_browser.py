"""Web push end to end with a real browser: what Pulsebox serves works in Firefox.

A website of the test's own (``Site``: http.server on 127.0.0.1, another port than Pulsebox's, so every
call its page and its service worker make to Pulsebox is cross-origin and CORS is exercised) carries the
``script_code`` Pulsebox gives for it and serves its ``service_worker_code`` at
``/pulsebox-push-worker.js``. A headless Firefox (tests/firefox.py) whose push client talks to a loopback
autopush server (tests/autopush.py: ``AutopushServer`` for the browser's WebSocket,
``ForwardingPushEndpoint`` for the RFC 8030 endpoint Pulsebox POSTs to, VAPID checked) opens the page:
the snippet registers the worker, subscribes and posts the subscription to the live ``pulsebox serve``,
with the variable ``name`` = Ann the page queued before the snippet loaded (then ``city`` = Paris, pushed
after). A push task is then created through the API; the server's embedded worker copies the subscriber,
encrypts and POSTs the push; Firefox decrypts it, the service worker reports it (``/t/ps/...``) and shows
the notification; a click on it goes through Pulsebox's click redirect (``/t/pc/...``) to the site's
landing page. Every step is checked on both sides: what the browser shows and visits, and what the API
counts (``send``, ``delivered``, ``redirect``).

SQLite only: what is under test is the browser side (the scripts, CORS, the worker's reports and the
click redirect), which does not depend on the database; the push pumps on PostgreSQL are covered without
a browser by tests/push. One Firefox start costs seconds, so the browser runs once, not once per backend.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from autopush import AutopushServer, ForwardingPushEndpoint
from firefox import Firefox, firefox_available, firefox_unavailable_reason, push_prefs

from .e2e_helpers import Api, LiveServer, free_port, poll, serve_env, spawn_serve, stop_server, unique

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not firefox_available(), reason=firefox_unavailable_reason() or "no Firefox"),
]

SUBSCRIBE_TIMEOUT = 20.0  # seconds from navigate() to the subscriber in the API (worker install, subscribe, post)
PUSH_TIMEOUT = 15.0  # seconds from the task's creation to the notification on screen and its report counted
CLICK_TIMEOUT = 10.0  # seconds from the click to the landing page's visit and the redirect counted
TITLE = "Ann, your order shipped"
BODY = "Tracking number 42 \u2014 arriving Tuesday"
WORKER_PATH = "/pulsebox-push-worker.js"


# ------------------------------------------------------------------------------------------------ #
#                                          the website                                              #
# ------------------------------------------------------------------------------------------------ #


@dataclass(frozen=True)
class Visit:
    at: float
    path: str
    headers: dict[str, str]  # names lower-cased


@dataclass
class Site:
    """A customer's website on its own origin: ``/`` (the page with Pulsebox's snippet), the service
    worker file at ``WORKER_PATH``, and ``/landing`` (where the push's link goes). Every GET is recorded."""

    index_html: str = "<!doctype html><title>not set up yet</title>"
    worker_js: str = ""
    visits: list[Visit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    origin: str = ""

    def visited(self, path_prefix: str) -> list[Visit]:
        with self.lock:
            return [v for v in self.visits if v.path.startswith(path_prefix)]

    def summary(self) -> str:
        with self.lock:
            return "site visits: " + repr([(round(v.at, 2), v.path) for v in self.visits])


@contextlib.contextmanager
def running_site() -> Iterator[Site]:
    site = Site()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, status: int, body: str, content_type: str) -> None:
            payload = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            with site.lock:
                site.visits.append(Visit(time.time(), self.path, {k.lower(): v for k, v in self.headers.items()}))
            path = urlsplit(self.path).path
            if path == "/":
                self._answer(200, site.index_html, "text/html; charset=utf-8")
            elif path == WORKER_PATH:
                self._answer(200, site.worker_js, "text/javascript")
            elif path == "/landing":
                self._answer(200, "<!doctype html><meta charset=utf-8><title>Landing</title><h1>Welcome back</h1>",
                             "text/html; charset=utf-8")
            else:
                self._answer(404, "not found", "text/plain")

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    server.daemon_threads = True
    site.origin = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="push-site", daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def index_page(script_code: str) -> str:
    """The site's page: SendPulse's way of passing a variable (``oSpP.push`` before the snippet loaded,
    queued in an array the snippet reads), then the snippet tag exactly as Pulsebox gave it."""
    return ("<!doctype html>\n<meta charset=\"utf-8\">\n<title>Ann's shop</title>\n"
            "<script>window.oSpP = window.oSpP || []; oSpP.push(\"name\", \"Ann\");</script>\n"
            f"{script_code}\n<h1>Ann's shop</h1>\n")


# ------------------------------------------------------------------------------------------------ #
#                                             the test                                              #
# ------------------------------------------------------------------------------------------------ #


def quit_firefox(ff: Firefox, starting: Future) -> None:
    """Quit Firefox once its start (in a thread) is over, whether it succeeded or not."""
    with contextlib.suppress(Exception):
        starting.result(timeout=120)
    ff.quit()


def tab_urls(ff: Firefox) -> list[str]:
    """The URL each tab shows (Marionette's content context visits them in turn)."""
    urls = []
    for handle in ff.marionette.window_handles:
        ff.marionette.switch_to_window(handle)
        urls.append(ff.marionette.get_url())
    return urls


def task_stats(api: Api, task_id: int) -> dict:
    return api.ok("GET", f"/push/tasks/{task_id}")


def test_firefox_subscribes_receives_reports_and_clicks_through_pulsebox() -> None:
    started = time.monotonic()
    diagnostics: list[Any] = []  # callables giving text, printed when the test fails

    with contextlib.ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pulsebox-push-browser-")))

        # -- the push service (HTTP endpoint + autopush WebSocket), the website, the live server --
        endpoint = stack.enter_context(ForwardingPushEndpoint())
        autopush = stack.enter_context(AutopushServer(endpoint.endpoint_base))
        endpoint.autopush = autopush
        # Firefox starts (seconds) while the server does; it quits before autopush closes (ExitStack: LIFO)
        ff = Firefox(push_prefs(autopush.ws_url))
        starting = stack.enter_context(ThreadPoolExecutor(1, thread_name_prefix="firefox-start")).submit(ff.start)
        stack.callback(quit_firefox, ff, starting)
        diagnostics.append(lambda: "--- firefox log ---\n" + ff.log())
        site = stack.enter_context(running_site())
        port = free_port()
        env = serve_env(root / "data", None,
                        PUBLIC_URL=f"http://127.0.0.1:{port}",  # the server's own address: scripts, reports, clicks
                        PUSH_ALLOW_PRIVATE="true",  # the push endpoint is http://127.0.0.1:...
                        PUSH_TASK_INTERVAL="0")
        server: LiveServer = spawn_serve(env, root / "logs", port=port)
        stack.callback(stop_server, server)
        api = server.api(server.create_account(unique("push")))
        stack.callback(api.close)
        diagnostics += [site.summary, server.server_output,
                        lambda: "--- autopush transcript ---\n" + autopush.transcript(),
                        lambda: f"push endpoint: forwarded {len(endpoint.pushes)}, rejected {endpoint.rejected}"]

        try:
            # -- 1: the website in Pulsebox, and its code on the site --
            added = api.ok("POST", "/push/websites", json={"url": site.origin + "/"})
            assert added["result"] is True and isinstance(added["id"], int), added
            website_id, appkey, vapid_key = added["id"], added["appkey"], added["vapid_public_key"]
            code = api.ok("GET", f"/push/websites/{website_id}/code")
            assert code["service_worker_path"] == WORKER_PATH, code
            assert code["script_url"] == f"{server.base_url}/push/sdk/{appkey}.js", code
            assert code["script_url"] in code["script_code"] and "async" in code["script_code"], code
            assert f'importScripts("{server.base_url}/push/sdk/worker.js")' in code["service_worker_code"], code
            site.index_html = index_page(code["script_code"])
            site.worker_js = code["service_worker_code"]

            # -- 2: Firefox opens the page; the snippet subscribes it --
            starting.result(timeout=90)
            ff.navigate(site.origin + "/")

            def subscribers() -> list[dict]:
                return api.ok("GET", f"/push/websites/{website_id}/subscriptions")

            def subscribed() -> list[dict] | None:
                rows = subscribers()
                return rows if rows and any(v["name"] == "name" for v in rows[0]["variables"]) else None

            rows = poll("the browser's subscription, with name=Ann, in the API", subscribed,
                        timeout=SUBSCRIBE_TIMEOUT, every=0.2, detail=lambda: f"subscriptions: {subscribers()}")
            assert len(rows) == 1, rows
            [row] = rows
            assert row["status"] == 1 and row["browser"] == "Firefox", row
            assert row["variables"] == [{"name": "name", "value": "Ann"}], row
            assert row["os"] == "Linux", row
            [registration] = autopush.wait_registered(1, timeout=5)
            assert registration.vapid_key is not None
            assert registration.vapid_key.rstrip("=") == vapid_key  # subscribed with the website's key
            # the browser's own view: the site's worker, active at the root, subscribed at our push service
            subscription = ff.execute_promise(
                "const r = await navigator.serviceWorker.ready;"
                "const s = await r.pushManager.getSubscription();"
                "return s && {endpoint: s.endpoint, scope: r.scope, script: r.active && r.active.scriptURL};")
            assert subscription == {"endpoint": registration.endpoint, "scope": site.origin + "/",
                                    "script": site.origin + WORKER_PATH}, subscription
            assert site.visited(WORKER_PATH), "the browser never fetched the service worker"

            # a variable the page sets after the snippet loaded is posted too (the same subscriber, merged)
            ff.execute_script("window.wrappedJSObject.oSpP.push('city', 'Paris');")
            rows = poll("city=Paris added to the subscriber", lambda: (r := subscribers()) and len(
                r[0]["variables"]) == 2 and r, timeout=10, every=0.2, detail=lambda: f"subscriptions: {subscribers()}")
            assert [(r["id"], r["variables"]) for r in rows] == [
                (row["id"], [{"name": "name", "value": "Ann"}, {"name": "city", "value": "Paris"}])], rows

            # -- 3: a push task; the notification shows and the worker's report is counted --
            link = f"{site.origin}/landing?from=push"
            button_link = f"{site.origin}/landing?from=button"
            created = api.ok("POST", "/push/tasks", json={
                "title": TITLE, "website_id": website_id, "body": BODY, "ttl": 3600, "link": link,
                "stretch_time": 0, "buttons": [{"text": "Track it", "link": button_link}]})
            assert created["result"] is True and isinstance(created["id"], int), created
            task_id = created["id"]
            diagnostics.append(lambda: f"task: {task_stats(api, task_id)}")

            def shown() -> list[dict]:
                return [n for n in ff.notifications() if n["title"] == TITLE]

            [note] = poll("the notification on screen", shown, timeout=PUSH_TIMEOUT, every=0.1,
                          detail=lambda: f"on screen: {ff.notifications()}")
            assert note["body"] == BODY, note
            assert note["host"] == urlsplit(site.origin).netloc, note  # shown by the site's worker
            stats = poll("send '1' and delivered 1 (the worker's /t/ps report)",
                         lambda: (s := task_stats(api, task_id))["send"] == "1" and s["delivered"] == 1 and s,
                         timeout=PUSH_TIMEOUT, every=0.2)
            assert stats["redirect"] == 0, stats
            assert stats["message"] == {"title": TITLE, "text": BODY, "link": link}, stats
            assert stats["website_id"] == website_id, stats
            [forwarded] = endpoint.pushes  # one encrypted push, VAPID-signed with the website's key
            assert forwarded.headers["content-encoding"] == "aes128gcm", forwarded.headers
            assert endpoint.rejected == [], endpoint.rejected
            assert [a["code"] for a in autopush.acks] == [100], autopush.acks  # Firefox decrypted it

            # what the worker gave the notification: the tracked click URLs, the button
            [data] = ff.execute_promise(
                "const r = await navigator.serviceWorker.ready;"
                "return (await r.getNotifications()).map(n => ({title: n.title, body: n.body, tag: n.tag,"
                " data: n.data}));")
            assert (data["title"], data["body"], data["tag"]) == (TITLE, BODY, f"pulsebox-{task_id}"), data
            click_url = data["data"]["click"]
            assert click_url.startswith(f"{server.base_url}/t/pc/"), data
            [button] = data["data"]["buttons"]
            assert button["title"] == "Track it" and button["click"].startswith(f"{server.base_url}/t/pc/"), data
            assert not site.visited("/landing"), site.summary()

            # -- 4: a click on the notification: Pulsebox's redirect, then the landing page --
            clicked_at = time.time()
            ff.click_notification(TITLE, origin=site.origin)
            [landed] = poll("the landing page visited after the click", lambda: site.visited("/landing"),
                            timeout=CLICK_TIMEOUT, every=0.1)
            assert landed.path == "/landing?from=push" and landed.at >= clicked_at, landed
            stats = poll("redirect 1", lambda: (s := task_stats(api, task_id))["redirect"] == 1 and s,
                         timeout=CLICK_TIMEOUT, every=0.2)
            assert (stats["send"], stats["delivered"]) == ("1", 1), stats
            poll("the clicked notification gone", lambda: not shown(), timeout=5, every=0.1)
            poll("a tab showing the landing page", lambda: link in tab_urls(ff), timeout=5, every=0.2,
                 detail=lambda: f"tabs: {tab_urls(ff)}")

            # the button's tracked link leads to the button's page; a second click of one send is not counted
            answer = httpx.get(button["click"], follow_redirects=False, timeout=10)
            assert answer.status_code == 302 and answer.headers["location"] == button_link, \
                (answer.status_code, answer.headers)
            assert task_stats(api, task_id)["redirect"] == 1
        except BaseException:
            for give in diagnostics:
                with contextlib.suppress(Exception):
                    print(give())
            raise

    assert time.monotonic() - started < 60

