"""The browser push harness on its own, without Pulsebox: a real headless Firefox subscribes through the
loopback AutopushServer, pywebpush encrypts and POSTs to the ForwardingPushEndpoint, Firefox decrypts and
hands the message to the page's service worker, which reports it back; then the notification the worker
showed is clicked, and the worker's notificationclick handler reports that too."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from autopush import AutopushServer, ForwardingPushEndpoint, NotAcknowledged, NotConnected, b64url_encode
from firefox import Firefox, firefox_unavailable_reason, push_prefs

needs_firefox = pytest.mark.skipif(firefox_unavailable_reason() is not None,
                                   reason=firefox_unavailable_reason() or "")

PAGE = b"""<!doctype html>
<meta charset="utf-8">
<title>push harness</title>
<script>
async function report(entry) {
  await fetch("/report", {method: "POST", body: JSON.stringify(entry)});
}
// Registers the worker, subscribes with the application server's key, reports the subscription.
window.subscribeForPush = async (applicationServerKey) => {
  const registration = await navigator.serviceWorker.register("/sw.js", {scope: "/"});
  await navigator.serviceWorker.ready;
  const subscription = await registration.pushManager.subscribe({userVisibleOnly: true, applicationServerKey});
  const json = subscription.toJSON();
  await report({kind: "subscription", subscription: json});
  return json;
};
</script>
"""

WORKER = b"""
async function report(entry) {
  await fetch("/report", {method: "POST", body: JSON.stringify(entry)});
}
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", event => event.waitUntil(self.clients.claim()));
self.addEventListener("push", event => {
  const text = event.data ? event.data.text() : null;
  event.waitUntil((async () => {
    await report({kind: "push", text});
    let message = {};
    try { message = JSON.parse(text); } catch (e) {}
    if (message.title) {
      await self.registration.showNotification(message.title, {body: message.body, tag: message.tag,
                                                               data: message.data});
    }
  })());
});
self.addEventListener("notificationclose", event => {
  event.waitUntil(report({kind: "close", title: event.notification.title, tag: event.notification.tag}));
});
self.addEventListener("notificationclick", event => {
  event.notification.close();
  event.waitUntil(report({kind: "click", title: event.notification.title, tag: event.notification.tag,
                          data: event.notification.data}));
});
"""


@dataclass
class Site:
    """The page, its worker, and what they report (POST /report)."""

    origin: str
    reports: list[dict[str, Any]] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def matching(self, kind: str, **fields: Any) -> list[dict[str, Any]]:
        with self.cond:
            return [r for r in self.reports
                    if r.get("kind") == kind and all(r.get(k) == v for k, v in fields.items())]

    def wait_for(self, kind: str, timeout: float = 15.0, **fields: Any) -> dict[str, Any]:
        """The first report of ``kind`` (with those ``fields``), waiting up to ``timeout`` for it."""
        with self.cond:
            found = self.cond.wait_for(lambda: self.matching(kind, **fields), timeout)
            if not found:
                raise AssertionError(f"no {kind!r} report {fields or ''} within {timeout}s; reports: {self.reports}")
            return found[0]


@pytest.fixture
def site() -> Iterator[Site]:
    state: dict[str, Site] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/":
                self._answer(200, PAGE, "text/html; charset=utf-8")
            elif self.path == "/sw.js":
                self._answer(200, WORKER, "text/javascript")
            else:
                self._answer(404, b"", "text/plain")

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/report":
                s = state["site"]
                with s.cond:
                    s.reports.append(json.loads(body))
                    s.cond.notify_all()
                self._answer(204, b"", "text/plain")
            else:
                self._answer(404, b"", "text/plain")

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["site"] = Site(origin=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state["site"]
    server.shutdown()
    server.server_close()


@needs_firefox
def test_push_reaches_firefox_and_notification_click_reaches_worker(site: Site) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    from py_vapid import Vapid
    from pywebpush import WebPushException, webpush

    vapid = Vapid()
    vapid.generate_keys()
    server_key = b64url_encode(vapid.public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))
    started = time.monotonic()

    with ForwardingPushEndpoint() as endpoint, AutopushServer(endpoint.endpoint_base) as autopush:
        endpoint.autopush = autopush
        with Firefox(push_prefs(autopush.ws_url)) as ff:
            try:
                ff.navigate(site.origin + "/")
                subscription = ff.execute_promise(
                    "return await window.wrappedJSObject.subscribeForPush(args[0]);", [server_key])
                reported = site.wait_for("subscription")["subscription"]
                assert reported == subscription
                [registration] = autopush.wait_registered(1, timeout=10)
                assert subscription["endpoint"] == registration.endpoint
                assert subscription["endpoint"].startswith(endpoint.endpoint_base + "/")
                assert registration.vapid_key is not None
                assert registration.vapid_key.rstrip("=") == server_key  # Firefox pads it
                assert set(subscription["keys"]) == {"p256dh", "auth"}

                message = {"title": "Hello from the test", "body": "über push ✓", "tag": "t1",
                           "data": {"campaign": 42}}
                response = webpush(subscription, json.dumps(message), vapid_private_key=vapid,
                                   vapid_claims={"sub": "mailto:t@example.com"}, timeout=20)
                assert response.status_code == 201, response.text
                assert response.headers["Location"].startswith(endpoint.origin + "/m/")

                push = site.wait_for("push")
                assert json.loads(push["text"]) == message
                [forwarded] = endpoint.pushes
                assert forwarded.headers["content-encoding"] == "aes128gcm"
                assert autopush.acks[-1]["code"] == 100

                shown = ff.wait_for_notification("Hello from the test")
                assert shown["body"] == "über push ✓"
                ff.click_notification("Hello from the test")
                click = site.wait_for("click")
                assert click == {"kind": "click", "title": "Hello from the test", "tag": "t1",
                                 "data": {"campaign": 42}}
                deadline = time.monotonic() + 5
                while ff.notifications() and time.monotonic() < deadline:  # the click closes it
                    time.sleep(0.1)
                assert ff.notifications() == []

                # Dismissing one with its close button is notificationclose alone, no click.
                response = webpush(subscription, json.dumps({"title": "Second", "tag": "t2"}),
                                   vapid_private_key=vapid, vapid_claims={"sub": "mailto:t@example.com"})
                assert response.status_code == 201, response.text
                ff.close_notification("Second", origin=site.origin)
                site.wait_for("close", tag="t2")
                assert site.matching("click", tag="t2") == []

                # A push for a subscription nobody has is refused; a wrong VAPID key is refused.
                bogus = dict(subscription, endpoint=endpoint.endpoint_base + "/nope")
                with pytest.raises(WebPushException, match="404"):
                    webpush(bogus, "x", vapid_private_key=vapid, vapid_claims={"sub": "mailto:t@example.com"})
                other = Vapid()
                other.generate_keys()
                with pytest.raises(WebPushException, match="403"):
                    webpush(subscription, "x", vapid_private_key=other,
                            vapid_claims={"sub": "mailto:t@example.com"})

                # Unsubscribing reaches the push service.
                assert ff.execute_promise(
                    "const r = await navigator.serviceWorker.ready;"
                    "return await (await r.pushManager.getSubscription()).unsubscribe();")
                deadline = time.monotonic() + 10
                while not autopush.unregistered and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert [reg.token for reg, _code in autopush.unregistered] == [registration.token]
                assert registration.token not in autopush.registrations
            except BaseException:
                print("--- autopush transcript ---\n" + autopush.transcript())
                print("--- firefox log ---\n" + ff.log())
                raise
    assert time.monotonic() - started < 60


def test_autopush_protocol_without_a_browser() -> None:
    """The WebSocket side as Firefox's client drives it (a stand-in client here, so this runs anywhere)."""
    from websockets.sync.client import connect

    key = b64url_encode(b"\x04" + bytes(range(64))) + "="  # Firefox pads the key; any 65-byte point will do here
    channel = "5b2a7d80-54ab-4ab8-9d3f-2b6f3a1f4c11"

    def frame(ws: Any) -> dict[str, Any]:
        return json.loads(ws.recv(timeout=5))

    with AutopushServer("http://127.0.0.1:9/wpush", ack_timeout=2, broadcasts={"remote-settings/x": "v2"}) as ap:
        with connect(ap.ws_url, subprotocols=["push-notification"]) as ws:
            assert ws.subprotocol == "push-notification"
            ws.send(json.dumps({"messageType": "hello", "use_webpush": True, "uaid": "unknown-to-this-server",
                                "broadcasts": {"remote-settings/x": "v1", "other": "v0"}}))
            hello = frame(ws)
            assert hello["status"] == 200 and hello["use_webpush"] is True
            assert hello["uaid"] != "unknown-to-this-server"  # a new uaid: the browser drops old subscriptions
            assert hello["broadcasts"] == {"remote-settings/x": "v2"}
            ws.send("{}")
            assert ws.recv(timeout=5) == "{}"

            ws.send(json.dumps({"messageType": "register", "channelID": channel, "key": key}))
            reply = frame(ws)
            assert reply["status"] == 200 and reply["channelID"] == channel
            [reg] = ap.wait_registered(1, timeout=1)
            assert reply["pushEndpoint"] == f"http://127.0.0.1:9/wpush/{reg.token}" == reg.endpoint
            assert (reg.channel_id, reg.uaid, reg.vapid_key) == (channel, hello["uaid"], key)
            ws.send(json.dumps({"messageType": "register", "channelID": "not-a-uuid"}))
            assert frame(ws)["status"] != 200

            def ack_next(code: int) -> None:
                note = frame(ws)
                assert note["messageType"] == "notification" and note["channelID"] == channel
                seen.append(note)
                ws.send(json.dumps({"messageType": "ack",
                                    "updates": [{"channelID": channel, "version": note["version"], "code": code}]}))

            seen: list[dict[str, Any]] = []
            for code in (100, 101):
                browser = threading.Thread(target=ack_next, args=(code,))
                browser.start()
                if code == 100:
                    ap.deliver(reg.token, b"\x00\xffciphertext", {"Content-Encoding": "aes128gcm", "TTL": "60"})
                else:
                    with pytest.raises(NotAcknowledged) as failed:
                        ap.deliver(reg.token, b"x", {"content-encoding": "aes128gcm"})
                    assert failed.value.code == 101
                browser.join(5)
            assert seen[0]["data"] == b64url_encode(b"\x00\xffciphertext")
            assert seen[0]["headers"] == {"encoding": "aes128gcm"}
            with pytest.raises(NotAcknowledged):  # nobody acks
                ap.deliver(reg.token, b"x", {"content-encoding": "aes128gcm"}, timeout=0.3)
            frame(ws)

            ws.send(json.dumps({"messageType": "broadcast_subscribe", "broadcasts": {"remote-settings/x": "v0"}}))
            assert frame(ws) == {"messageType": "broadcast", "broadcasts": {"remote-settings/x": "v2"}}

            ws.send(json.dumps({"messageType": "unregister", "channelID": channel, "code": 200}))
            assert frame(ws) == {"messageType": "unregister", "channelID": channel, "status": 200}
            assert ap.registrations == {} and ap.unregistered == [(reg, 200)]

            ws.send(json.dumps({"messageType": "register", "channelID": channel, "key": key}))
            [reg] = ap.wait_registered(1, timeout=5)
        deadline = time.monotonic() + 5
        while ap.connected(reg.uaid) and time.monotonic() < deadline:
            time.sleep(0.02)
        with pytest.raises(NotConnected):
            ap.deliver(reg.token, b"x", {"content-encoding": "aes128gcm"})

        # The same browser again, with the uaid it was given: it keeps it (and its subscriptions).
        with connect(ap.ws_url, subprotocols=["push-notification"]) as ws:
            ws.send(json.dumps({"messageType": "hello", "use_webpush": True, "uaid": reg.uaid, "broadcasts": {}}))
            assert frame(ws)["uaid"] == reg.uaid
            ap.wait_connected(1, timeout=5)
