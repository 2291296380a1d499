"""Webhooks: the v2 API (document 004), events written with the changes that cause them, and their
signed, ordered, retried delivery to a real HTTP receiver on loopback."""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import update
from standardwebhooks.webhooks import Webhook as Verifier
from starlette.testclient import TestClient

from conftest import Api, b64, drain, make_account
from pulsebox.app import build
from pulsebox.context import Context
from pulsebox.delivery.transports.memory import MemoryTransport
from pulsebox.models import Webhook, utcnow
from pulsebox.pump import PumpContext
from pulsebox.webhooks import tasks
from ports import free_port

HOOKS = "/v2/email-service/webhook"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
# a public address: a webhook's host is resolved and checked when it is created (no DNS needed for a literal)


class Receiver:
    """An HTTP server on loopback that records every POST and answers ``statuses`` in turn (200 after)."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict, bytes]] = []
        self.statuses: list[int] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with outer.lock:
                    outer.posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    status = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict]:
        with self.lock:
            return [e for _, body in self.posts for e in json.loads(body)]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture
def hooks_ctx(ctx) -> Context:  # noqa: ANN001
    """The receiver is on loopback: the operator's setting lets webhooks reach it."""
    return Context(settings=dataclasses.replace(ctx.settings, webhooks_allow_private=True), db=ctx.db,
                   limiter=ctx.limiter)


@pytest.fixture
def hooks(hooks_ctx) -> Iterator[Api]:  # noqa: ANN001
    with TestClient(build(hooks_ctx), raise_server_exceptions=False) as test_client:
        yield Api(test_client, make_account(hooks_ctx))


def deliver(hooks_ctx: Context, receiver: Receiver, count: int, timeout: float = 10.0) -> list[dict]:
    """Run the webhook pump until the receiver has ``count`` events (or the time is up)."""
    job = PumpContext(ctx=hooks_ctx, transport=None, pool=None)  # type: ignore[arg-type]
    deadline = time.monotonic() + timeout
    while len(receiver.events()) < count and time.monotonic() < deadline:
        tasks.post_events(job)
        time.sleep(0.05)
    return receiver.events()


def test_create_read_update_delete_in_the_documented_shapes(hooks, other):
    created = hooks.post(HOOKS, json={"url": "https://93.184.215.14/in", "actions": ["open", "unsubscribe"]})
    assert created.status == 200 and created.json["success"] is True, created.json
    rows = created.json["data"]
    assert [r["action"] for r in rows] == ["open", "unsubscribe"]
    assert all(r["user_id"] == hooks.id and r["url"] == "https://93.184.215.14/in" for r in rows)
    assert rows[0]["secret"].startswith("whsec_") and rows[0]["secret"] == rows[1]["secret"]  # one per create
    assert rows[0]["service"] == "email" and rows[0]["failing"] is False
    one = hooks.post(HOOKS, data={"url": "https://93.184.215.14/two", "actions": "delivered"})  # form, a string
    assert [r["action"] for r in one.json["data"]] == ["delivered"]
    listed = hooks.get(HOOKS).json
    assert listed["success"] is True and [r["id"] for r in listed["data"]] == [r["id"] for r in rows + one.json["data"]]
    first = rows[0]["id"]
    assert hooks.get(f"{HOOKS}/{first}").json == {"success": True, "data": rows[0]}
    assert hooks.put(f"{HOOKS}/{first}", data={"url": "https://93.184.215.14/moved"}).json == \
        {"success": True, "data": [True]}
    assert hooks.get(f"{HOOKS}/{first}").json["data"]["url"] == "https://93.184.215.14/moved"
    rotated = hooks.post(f"{HOOKS}/{first}/secret").json["data"]["secret"]
    assert rotated.startswith("whsec_") and rotated != rows[0]["secret"]
    assert hooks.get(f"{HOOKS}/{first}").json["data"]["secret"] == rotated
    for path, method in [(f"{HOOKS}/{first}", "GET"), (f"{HOOKS}/{first}", "DELETE"), (f"{HOOKS}/{first}/log", "GET")]:
        theirs = other.call(method, path)  # another account's id answers like a missing one
        assert theirs.status == 404 and theirs.json == other.call(method, f"{HOOKS}/987654321").json
    assert hooks.delete(f"{HOOKS}/{first}").json == {"success": True, "data": [True]}
    assert hooks.get(f"{HOOKS}/{first}").status == 404


@pytest.mark.parametrize(("body", "code"), [
    ({"url": "https://h.example.com", "actions": ["opened"]}, 800),  # an SMTP webhook's action, not the email one's
    ({"url": "https://h.example.com", "actions": ["open"], "service": "push"}, 800),
    ({"url": "ftp://h.example.com/x", "actions": ["open"]}, 800),
    ({"url": "not a url", "actions": ["open"]}, 800),
    ({"url": "http://127.0.0.1:9/x", "actions": ["open"]}, 800),  # loopback, without the operator's setting
    ({"url": "http://169.254.169.254/latest/meta-data", "actions": ["open"]}, 800),
    ({"url": "http://10.0.0.8/hook", "actions": ["open"]}, 800),
    ({"url": "https://h.example.com"}, 8), ({"actions": ["open"]}, 8),
])
def test_refusals_store_nothing(api, body, code):
    answer = api.post(HOOKS, json=body)
    assert answer.status == 400 and answer.error_code == code and answer.json["success"] is False, answer.json
    assert api.get(HOOKS).json == {"success": True, "data": []}


def test_list_events_arrive_signed_in_order(hooks, hooks_ctx, receiver):
    created = hooks.post(HOOKS, json={"url": receiver.url, "actions": ["new_emails", "delete", "unsubscribe"]})
    secret = created.json["data"][0]["secret"]
    book = hooks.new_book()
    assert hooks.add_contacts(book, [{"email": "ann@example.com", "variables": {"name": "Ann"}},
                                     {"email": "bob@example.com"}]).status == 200
    hooks.post(f"/addressbooks/{book}/emails/unsubscribe", json={"emails": ["bob@example.com"]})
    hooks.delete(f"/addressbooks/{book}/emails", json={"emails": ["ann@example.com"]})
    events = deliver(hooks_ctx, receiver, 4)
    # one webhook per action, each posting its own events in order
    assert sorted((e["event"], e["email"]) for e in events) == [
        ("delete", "ann@example.com"), ("new_emails", "ann@example.com"), ("new_emails", "bob@example.com"),
        ("unsubscribe", "bob@example.com")]
    assert [e["email"] for e in events if e["event"] == "new_emails"] == ["ann@example.com", "bob@example.com"]
    added = next(e for e in events if e["event"] == "new_emails")
    assert added["variables"] == {"name": "Ann"} and added["book_id"] == book and added["source"] == "api"
    assert isinstance(added["timestamp"], int)
    left = next(e for e in events if e["event"] == "unsubscribe")
    assert left["from_all"] is False and left["task_id"] is None and left["book_id"] == book
    for headers, body in receiver.posts:  # Standard Webhooks: any receiver verifies with the library
        assert Verifier(secret).verify(body, headers) is not None
    log_path, deadline = f"{HOOKS}/{created.json['data'][0]['id']}/log", time.monotonic() + 5
    while not (log := hooks.get(log_path).json["data"]) and time.monotonic() < deadline:
        time.sleep(0.05)  # the post's outcome is recorded just after the receiver answered
    assert log and all(a["delivered"] and a["status"] == 200 for a in log)


def test_a_failing_receiver_gets_the_same_batch_later_then_the_rest_in_order(hooks, hooks_ctx, receiver):
    created = hooks.post(HOOKS, json={"url": receiver.url, "actions": "new_emails"}).json["data"][0]
    receiver.statuses = [500, 503]
    book = hooks.new_book()
    hooks.add_contacts(book, [{"email": "one@example.com"}])
    for attempt in range(2):  # two failed posts of the same batch, its webhook-id kept
        deliver_once(hooks, hooks_ctx, created["id"], attempt + 1)
        with hooks_ctx.db.transaction() as conn:  # skip the back-off's wait
            conn.execute(update(Webhook).where(Webhook.id == created["id"]).values(next_attempt_at=utcnow()))
        if attempt == 0:
            hooks.add_contacts(book, [{"email": "two@example.com"}])  # a later event, not in the retried batch
    events = deliver(hooks_ctx, receiver, 4)
    ids = [h["webhook-id"] for h, _ in receiver.posts]
    assert ids[0] == ids[1] == ids[2] and ids[3] != ids[2]
    delivered = [json.loads(body) for _, body in receiver.posts[2:]]
    assert [[e["email"] for e in batch] for batch in delivered] == [["one@example.com"], ["two@example.com"]]
    assert [e["email"] for e in events].count("one@example.com") == 3  # the two failed posts and the good one
    deliver_once(hooks, hooks_ctx, created["id"], 4)  # the last post's outcome recorded
    log = hooks.get(f"{HOOKS}/{created['id']}/log").json["data"]
    assert [a["status"] for a in log] == [200, 200, 503, 500]  # newest first
    assert hooks.get(f"{HOOKS}/{created['id']}").json["data"]["failing"] is False


def deliver_once(hooks: Api, hooks_ctx: Context, webhook_id: int, attempts: int, timeout: float = 10.0) -> None:
    """Run the webhook pump until the webhook's log holds ``attempts`` posts (their outcomes recorded)."""
    job = PumpContext(ctx=hooks_ctx, transport=None, pool=None)  # type: ignore[arg-type]
    deadline = time.monotonic() + timeout
    while len(hooks.get(f"{HOOKS}/{webhook_id}/log").json["data"]) < attempts and time.monotonic() < deadline:
        tasks.post_events(job)
        time.sleep(0.05)


def test_a_webhook_of_an_unsubscribed_action_gets_nothing(hooks, hooks_ctx, receiver):
    hooks.post(HOOKS, json={"url": receiver.url, "actions": ["delete"]})
    book = hooks.new_book()
    hooks.add_contacts(book, [{"email": f"x{secrets.token_hex(3)}@example.com"}])
    assert deliver(hooks_ctx, receiver, 1, timeout=0.5) == []


HTML = '<p>Hello {{name}}</p><p><a href="https://shop.example/sale">Sale</a></p>'


run_worker = drain


def tracked(transport: MemoryTransport, to: str) -> tuple[str, str]:
    """The open pixel's and the first click link's paths in the copy sent to ``to``."""
    [data] = [d for _, rcpt, d in transport.sent if rcpt == [to]]
    html = message_from_bytes(data, policy=default).get_body(("html",)).get_content()
    return (re.search(r'src="https?://[^/"]+(/t/o/[^"]+)"', html)[1],
            re.findall(r'href="https?://[^/"]+(/t/c/[^"]+)"', html)[0])


def test_a_campaigns_events_reach_the_email_webhook(hooks, hooks_ctx, receiver):
    hooks.post(HOOKS, json={"url": receiver.url, "actions": ["delivered", "open", "redirect", "task_status_update",
                                                          "unsubscribe"]})
    book = hooks.new_book()
    hooks.add_contacts(book, [{"email": "r1@example.com", "variables": {"name": "R1"}}, {"email": "r2@example.com"}])
    created = hooks.post("/campaigns", json={"sender_name": "Shop", "sender_email": "news@shop.example",
                                             "subject": "Hi", "body": b64(HTML), "list_id": book})
    assert created.status == 200, created.json
    task = created.json["id"]
    transport = run_worker(hooks_ctx)
    pixel, click = tracked(transport, "r1@example.com")
    assert hooks.client.get(pixel, headers={"user-agent": BROWSER}).status_code == 200
    assert hooks.client.get(click, headers={"user-agent": BROWSER}, follow_redirects=False).status_code == 302
    [data] = [d for _, rcpt, d in transport.sent if rcpt == ["r2@example.com"]]  # RFC 8058 one-click
    header = message_from_bytes(data, policy=default)["List-Unsubscribe"]
    one_click = re.search(r"<https?://[^/>]+(/t/u/[^>]+)>", header)[1]
    assert hooks.client.post(one_click, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    events = deliver(hooks_ctx, receiver, 7)
    by = {name: [e for e in events if e["event"] == name] for name in ("delivered", "open", "redirect",
                                                                         "task_status_update", "unsubscribe")}
    assert sorted(e["email"] for e in by["delivered"]) == ["r1@example.com", "r2@example.com"]
    assert all(e["task_id"] == task for e in by["delivered"])
    assert [(e["task_id"], e["status"]) for e in by["task_status_update"]] == [(task, 2), (task, 3)]
    assert by["task_status_update"][-1]["status_explain"] == "Sent" and by["task_status_update"][0]["book_id"] == book
    [opened] = by["open"]  # the click opened it too: one open a copy
    assert (opened["email"], opened["task_id"], opened["browser_name"]) == ("r1@example.com", task, "Firefox")
    assert opened["open_platform"] and opened["open_device"] == "desktop"
    [redirect] = by["redirect"]
    assert (redirect["link_url"], redirect["link_id"], redirect["task_id"]) == ("https://shop.example/sale", 0, task)
    [left] = by["unsubscribe"]  # through the campaign's copy: the campaign's list, its task_id
    assert (left["email"], left["book_id"], left["task_id"], left["from_all"]) == ("r2@example.com", book, task, False)


def test_transactional_mail_reaches_the_smtp_webhook(hooks, hooks_ctx, receiver):
    hooks.post(HOOKS, json={"url": receiver.url, "actions": ["delivered", "opened"], "service": "smtp"})
    hooks.post(HOOKS, json={"url": receiver.url, "actions": ["delivered"]})  # the email service's: not this mail
    sent = hooks.post("/smtp/emails", json={"email": {"subject": "Order", "from": {"email": "shop@shop.example"},
                                                      "to": [{"email": "buyer@example.com"}], "html": b64(HTML)}})
    assert sent.status == 200, sent.json
    pixel, _ = tracked(run_worker(hooks_ctx), "buyer@example.com")
    hooks.client.get(pixel, headers={"user-agent": BROWSER})
    events = deliver(hooks_ctx, receiver, 2)
    assert sorted(e["event"] for e in events) == ["delivered", "opened"]
    for event in events:
        assert (event["message_id"], event["recipient"], event["sender"], event["subject"]) == \
            (sent.json["id"], "buyer@example.com", "shop@shop.example", "Order")
    delivered = next(e for e in events if e["event"] == "delivered")
    assert delivered["smtp_server_response_code"] == 250
