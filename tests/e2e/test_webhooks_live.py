"""Webhooks end to end: a live ``pulsebox serve`` posts its events to a real HTTP receiver on loopback.

The receiver is this module's own (``Receiver``: a ``ThreadingHTTPServer`` in a thread, recording every
POST's headers and body with its arrival time and answering a scripted status, 200 by default). What
causes each event is done the way a user or a reader does it: contacts added, unsubscribed and deleted
through the API, a campaign sent over SMTP to the module's aiosmtpd server and its received copy's open
pixel and link loaded by a browser, a transactional message sent and opened. Each test asserts on what
the receiver got: SendPulse's field names and types, a JSON array of at most 100 events a post, the
Standard Webhooks signature (checked with the ``standardwebhooks`` package, as any receiver would), the
same batch under the same ``webhook-id`` after failed posts and the delivery log's record of them.

Servers: the module's shared one (``relaying_server``: an active sender, mail relayed to aiosmtpd) with
``PULSEBOX_WEBHOOKS_ALLOW_PRIVATE`` (the receiver is on 127.0.0.1) and the campaign caps lifted; a
server of the crash test's own, SIGKILLed and started again on the same data; and one without the
setting for the refusals. Each on SQLite and on a fresh PostgreSQL database (``PULSEBOX_TEST_BACKENDS``).

"Nothing more arrives" is never a fixed sleep: a later event on the same webhook is waited for, which
the worker posts only once everything before it is delivered (a webhook's events go out in id order).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from .e2e_helpers import (
    BACKENDS,
    BROWSER_UA,
    Api,
    FlowRecorder,
    LiveServer,
    Received,
    Relaying,
    b64,
    free_port,
    kill_server,
    own_database,
    poll,
    relaying_server,
    serve_env,
    spawn_serve,
    stop_server,
    unique,
)

pytestmark = pytest.mark.e2e

HOOKS = "/v2/email-service/webhook"
DELIVERY_TIMEOUT = 10.0  # seconds for an event to reach the receiver (the worker looks every second)
RETRY_TIMEOUT = 30.0  # seconds for the retries: 5 s after the first failure, 10 s after the second
CAMPAIGN_TIMEOUT = 15.0  # seconds for a campaign to be copied, sent and marked Sent
FIRST_RETRY = 5  # seconds (webhooks/tasks.py FIRST_RETRY, doubling)
INVALID, NOT_FOUND = 800, 404
PUBLIC_URL = "https://93.184.215.14/hook"  # a public IP literal: accepted without DNS, never posted to here

# each event's fields, exactly (src/pulsebox/webhooks/events.py, after SendPulse's knowledge base)
EMAIL_FIELDS = {
    "new_emails": {"event", "timestamp", "email", "book_id", "variables", "source"},
    "delete": {"event", "timestamp", "email", "book_id"},
    "unsubscribe": {"event", "timestamp", "email", "task_id", "book_id", "from_all", "reason", "categories"},
    "task_status_update": {"event", "timestamp", "task_id", "book_id", "status", "status_explain"},
    "delivered": {"event", "timestamp", "email", "task_id"},
    "open": {"event", "timestamp", "email", "task_id", "open_device", "open_platform", "browser_name",
             "browser_ver"},
}
EMAIL_FIELDS["redirect"] = EMAIL_FIELDS["open"] | {"link_url", "link_id"}
NUMBERS = {"book_id", "task_id", "status", "link_id", "smtp_server_response_code"}
SMTP_COMMON = {"event", "timestamp", "message_id", "recipient", "sender", "subject"}
SMTP_FIELDS = {
    "delivered": SMTP_COMMON | {"smtp_server_response_code", "smtp_server_response_subcode", "smtp_server_response"},
    "opened": SMTP_COMMON,
}


# ------------------------------------------------------------------------------------------------ #
#                                         the receiver                                              #
# ------------------------------------------------------------------------------------------------ #


@dataclass(frozen=True)
class Post:
    """One POST the receiver got: when, where, its headers (names lower-cased), its body, our answer."""

    at: float  # time.time() on arrival
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def events(self) -> list[dict]:
        return json.loads(self.body)

    @property
    def delivered(self) -> bool:
        return 200 <= self.answered < 300

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")


class Receiver:
    """A webhook receiver on loopback: every POST recorded, answered with ``script``'s statuses in turn,
    then ``default``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.script: list[int] = []
        self.default = 200
        self._posts: list[Post] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with outer.lock:
                    status = outer.script.pop(0) if outer.script else outer.default
                    outer._posts.append(Post(time.time(), self.path, {k.lower(): v for k, v in self.headers.items()},
                                             body, status))
                self.send_response(status)
                self.send_header("content-type", "text/plain")
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), name="webhook-receiver",
                                       daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def posts(self, path: str | None = None) -> list[Post]:
        with self.lock:
            return [p for p in self._posts if path is None or p.path == path]

    def events(self, path: str | None = None, event: str | None = None) -> list[dict]:
        """The events of the posts we answered 2xx, in arrival order (``event``: of that name only)."""
        return [e for p in self.posts(path) if p.delivered for e in p.events if event is None or e["event"] == event]

    def wait(self, what: str, probe: Callable[[], object], *, timeout: float = DELIVERY_TIMEOUT,
             server: LiveServer | None = None):
        def detail() -> str:
            seen = [(p.path, p.answered, p.webhook_id, p.body[:300]) for p in self.posts()]
            output = server.server_output() if server else ""
            return f"posts so far (path, answered, webhook-id, body): {seen}\n{output}"

        return poll(what, probe, timeout=timeout, detail=detail)

    def wait_events(self, count: int, path: str, event: str | None = None, *, timeout: float = DELIVERY_TIMEOUT,
                    server: LiveServer | None = None) -> list[dict]:
        """The delivered events at ``path`` (of name ``event``) once there are at least ``count``."""
        def probe() -> list[dict] | None:
            got = self.events(path, event)
            return got if len(got) >= count else None

        return self.wait(f"{count} {event or 'event'}(s) posted to {path}", probe, timeout=timeout, server=server)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


# ------------------------------------------------------------------------------------------------ #
#                                     servers and API helpers                                       #
# ------------------------------------------------------------------------------------------------ #


def create_webhooks(api: Api, url: str, actions: list[str], service: str = "email") -> list[dict]:
    """POST /v2/email-service/webhook: one row per action, in the documented shape, one secret for all."""
    answer = api.ok("POST", HOOKS, json={"url": url, "actions": actions, "service": service})
    assert answer["success"] is True and isinstance(answer["data"], list), answer
    rows = answer["data"]
    assert [r["action"] for r in rows] == actions, rows
    for r in rows:
        assert isinstance(r["id"], int) and r["url"] == url and r["service"] == service, r
        assert r["user_id"] == api.account.id and r["failing"] is False, r
        assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{32}", r["secret"]), r
    assert len({r["secret"] for r in rows}) == 1, rows
    return rows


def new_book(api: Api, contacts: list[dict]) -> int:
    book = api.ok("POST", "/addressbooks", json={"bookName": unique("hooks-list-")})["id"]
    if contacts:
        assert api.ok("POST", f"/addressbooks/{book}/emails", json={"emails": contacts}) == {"result": True}
    return book


def add_contacts(api: Api, book: int, emails: list[str]) -> None:
    assert api.ok("POST", f"/addressbooks/{book}/emails", json={"emails": [{"email": e} for e in emails]}) == \
        {"result": True}


def delivery_log(api: Api, webhook_id: int) -> list[dict]:
    answer = api.ok("GET", f"{HOOKS}/{webhook_id}/log")
    assert answer["success"] is True, answer
    return answer["data"]


def check_event(event: dict, fields: set[str], since: float) -> None:
    """The event has exactly ``fields``, and a whole-second Unix ``timestamp`` taken after ``since``."""
    assert set(event) == fields, (sorted(event), sorted(fields))
    assert type(event["timestamp"]) is int, event
    assert int(since) <= event["timestamp"] <= time.time(), (since, event)
    for name in NUMBERS & set(event):  # numbers as JSON numbers, not strings (nor floats)
        assert event[name] is None or type(event[name]) is int, (name, event)


def address(kind: str) -> str:
    return f"{unique(kind)}@example.net"


class HookFlow(Relaying):
    """The module's server (an active sender, mail relayed to ``sink``) and the calls its tests make."""

    def campaign(self, book: int, html: str, subject: str = "Hello {{name}}") -> int:
        created = self.api.ok("POST", "/campaigns", json={
            "sender_name": "E2E Shop", "sender_email": self.sender, "subject": subject, "body": b64(html),
            "list_id": book, "name": unique("hooks-campaign-")})
        assert isinstance(created.get("id"), int), created
        return created["id"]

    def wait_campaign_sent(self, campaign_id: int) -> dict:
        return poll(f"campaign {campaign_id} Sent (3)",
                    lambda: (info := self.api.ok("GET", f"/campaigns/{campaign_id}"))["status"] == 3 and info,
                    timeout=CAMPAIGN_TIMEOUT, detail=self.server.server_output)

    def tracking(self, mail: Received) -> tuple[str, list[str]]:
        """A received copy's open pixel and click links."""
        base = re.escape(self.server.base_url)
        pixels = re.findall(rf'<img src="({base}/t/o/[0-9a-f.]+)"', mail.html)
        clicks = re.findall(rf'<a href="({base}/t/c/[0-9a-f.]+)"', mail.html)
        assert len(pixels) == 1, mail.html
        return pixels[0], clicks


@pytest.fixture(scope="module", params=BACKENDS)
def flow(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HookFlow]:
    with relaying_server(tmp_path_factory.mktemp(f"webhooks-{request.param}"), request.param, FlowRecorder(),
                         WEBHOOKS_ALLOW_PRIVATE="true",  # the receiver is on 127.0.0.1
                         CAMPAIGNS_PER_HOUR="1000", SAME_LIST_INTERVAL="0") as relaying:
        yield HookFlow(**vars(relaying))


@pytest.fixture
def hooks(flow: HookFlow) -> Iterator[HookFlow]:
    """The module's server; the webhooks a test made are deleted after it (none posts to a closed receiver)."""
    yield flow
    for row in flow.api.ok("GET", HOOKS)["data"]:
        flow.api.ok("DELETE", f"{HOOKS}/{row['id']}")


# ------------------------------------------------------------------------------------------------ #
#                         1: each action's event, after its cause, in SendPulse's shape             #
# ------------------------------------------------------------------------------------------------ #


def test_list_events_arrive_after_each_change(hooks: HookFlow, receiver: Receiver):
    path = "/lists"
    create_webhooks(hooks.api, receiver.url(path), ["new_emails", "delete", "unsubscribe"])
    ann, bob = address("ann"), address("bob")
    ann, bob = sorted([ann, bob])  # a request's new contacts come in address order
    book = new_book(hooks.api, [])

    added_at = time.time()
    assert hooks.api.ok("POST", f"/addressbooks/{book}/emails", json={"emails": [
        {"email": ann, "variables": {"name": "Ann", "age": 42}}, {"email": bob}]}) == {"result": True}
    added = receiver.wait_events(2, path, "new_emails", server=hooks.server)
    assert [e["email"] for e in added] == [ann, bob]
    for e in added:
        check_event(e, EMAIL_FIELDS["new_emails"], added_at)
        assert type(e["book_id"]) is int and e["book_id"] == book and e["source"] == "api", e
    assert added[0]["variables"] == {"name": "Ann", "age": 42} and type(added[0]["variables"]["age"]) is int
    assert added[1]["variables"] == {}
    assert all(p.at >= added_at for p in receiver.posts(path))

    assert receiver.events(path, "unsubscribe") == []
    unsubscribed_at = time.time()
    assert hooks.api.ok("POST", f"/addressbooks/{book}/emails/unsubscribe", json={"emails": [bob]}) == {"result": True}
    [left] = receiver.wait_events(1, path, "unsubscribe", server=hooks.server)
    check_event(left, EMAIL_FIELDS["unsubscribe"], unsubscribed_at)
    assert (left["email"], left["book_id"], left["task_id"], left["from_all"], left["categories"]) == \
        (bob, book, None, False, []), left
    assert isinstance(left["reason"], str), left

    assert receiver.events(path, "delete") == []
    deleted_at = time.time()
    assert hooks.api.ok("DELETE", f"/addressbooks/{book}/emails", json={"emails": [ann]}) == {"result": True}
    [gone] = receiver.wait_events(1, path, "delete", server=hooks.server)
    check_event(gone, EMAIL_FIELDS["delete"], deleted_at)
    assert (gone["email"], gone["book_id"]) == (ann, book), gone

    # each once, each after its cause (one webhook per action, each waited for before the next change)
    assert [(e["event"], e["email"]) for e in receiver.events(path)] == \
        [("new_emails", ann), ("new_emails", bob), ("unsubscribe", bob), ("delete", ann)]
    assert all(p.delivered and p.headers["content-type"] == "application/json" for p in receiver.posts(path))


def test_a_campaigns_status_delivery_open_and_click_events(hooks: HookFlow, receiver: Receiver):
    path = "/campaign"
    create_webhooks(hooks.api, receiver.url(path), ["task_status_update", "delivered", "open", "redirect"])
    reader, other = address("reader"), address("other")
    book = new_book(hooks.api, [{"email": reader, "variables": {"name": "Rita"}},
                                {"email": other, "variables": {"name": "Otto"}}])
    sale = "https://shop.example.org/sale"
    created_at = time.time()
    task = hooks.campaign(book, f'<p>Hi {{{{name}}}}</p><p><a href="{sale}">Sale</a></p>')
    hooks.wait_campaign_sent(task)

    statuses = receiver.wait_events(2, path, "task_status_update", server=hooks.server)
    delivered = receiver.wait_events(2, path, "delivered", server=hooks.server)
    assert [(e["task_id"], e["book_id"], e["status"], e["status_explain"]) for e in statuses] == \
        [(task, book, 2, "Sending in progress"), (task, book, 3, "Sent")], statuses
    for e in statuses:
        check_event(e, EMAIL_FIELDS["task_status_update"], created_at)
        assert type(e["task_id"]) is int and type(e["status"]) is int, e
    assert sorted(e["email"] for e in delivered) == sorted([reader, other])
    for e in delivered:
        check_event(e, EMAIL_FIELDS["delivered"], created_at)
        assert type(e["task_id"]) is int and e["task_id"] == task, e
        # sending started before the copy was delivered, and the campaign was Sent after
        assert statuses[0]["timestamp"] <= e["timestamp"] <= statuses[1]["timestamp"], (statuses, e)

    # a browser reads the received copy: its pixel, then its link
    assert receiver.events(path, "open") == [] and receiver.events(path, "redirect") == []
    [mail] = hooks.sink.wait_for(reader, server=hooks.server)
    pixel, [click] = hooks.tracking(mail)
    with httpx.Client(timeout=10, headers={"User-Agent": BROWSER_UA}) as browser:
        opened_at = time.time()
        assert browser.get(pixel).status_code == 200
        [opened] = receiver.wait_events(1, path, "open", server=hooks.server)
        assert receiver.events(path, "redirect") == []
        clicked_at = time.time()
        followed = browser.get(click, follow_redirects=False)
        assert followed.status_code == 302 and followed.headers["location"] == sale, followed
        [redirect] = receiver.wait_events(1, path, "redirect", server=hooks.server)
    check_event(opened, EMAIL_FIELDS["open"], opened_at)
    assert (opened["email"], opened["task_id"], opened["browser_name"], opened["open_device"]) == \
        (reader, task, "Chrome", "desktop"), opened
    assert opened["browser_ver"].startswith("124") and "Windows" in opened["open_platform"], opened
    check_event(redirect, EMAIL_FIELDS["redirect"], clicked_at)
    assert (redirect["email"], redirect["task_id"], redirect["link_url"], redirect["link_id"]) == \
        (reader, task, sale, 0), redirect
    assert type(redirect["link_id"]) is int and redirect["browser_name"] == "Chrome", redirect
    assert len(receiver.events(path, "open")) == 1  # the click does not open the copy again


def test_transactional_mail_reaches_the_smtp_webhook_only(hooks: HookFlow, receiver: Receiver):
    create_webhooks(hooks.api, receiver.url("/smtp"), ["delivered", "opened"], service="smtp")
    create_webhooks(hooks.api, receiver.url("/email"), ["delivered"])  # the email service's: not for this mail
    to, subject = address("buyer"), f"Order {unique('')}"
    sent_at = time.time()
    answer = hooks.sp.smtp_send_mail({
        "subject": subject, "html": '<p>Thanks</p><p><a href="https://shop.example.org/order">Your order</a></p>',
        "from": {"name": "E2E Shop", "email": hooks.sender}, "to": [{"name": "", "email": to}]})
    assert isinstance(answer, dict) and answer.get("result") is True, answer
    message_id = answer["id"]

    [delivered] = receiver.wait_events(1, "/smtp", "delivered", server=hooks.server)
    check_event(delivered, SMTP_FIELDS["delivered"], sent_at)
    assert (delivered["message_id"], delivered["recipient"], delivered["sender"], delivered["subject"]) == \
        (message_id, to, hooks.sender, subject), delivered
    assert type(delivered["smtp_server_response_code"]) is int and delivered["smtp_server_response_code"] == 250
    assert isinstance(delivered["smtp_server_response"], str), delivered

    assert receiver.events("/smtp", "opened") == []
    [mail] = hooks.sink.wait_for(to, server=hooks.server)
    pixel, _ = hooks.tracking(mail)
    opened_at = time.time()
    assert httpx.get(pixel, headers={"User-Agent": BROWSER_UA}, timeout=10).status_code == 200
    [opened] = receiver.wait_events(1, "/smtp", "opened", server=hooks.server)
    check_event(opened, SMTP_FIELDS["opened"], opened_at)
    assert (opened["message_id"], opened["recipient"], opened["sender"], opened["subject"]) == \
        (message_id, to, hooks.sender, subject), opened
    # the email service's delivered webhook was due in the round that posted the SMTP one's: a later round
    # posted the open, so it had its chance
    assert receiver.posts("/email") == []
    assert [e["event"] for e in receiver.events("/smtp")] == ["delivered", "opened"]


# ------------------------------------------------------------------------------------------------ #
#                             2: a JSON array, at most 100 events a post                           #
# ------------------------------------------------------------------------------------------------ #


def test_150_new_contacts_come_in_posts_of_at_most_100_in_order_once(hooks: HookFlow, receiver: Receiver):
    path = "/bulk"
    create_webhooks(hooks.api, receiver.url(path), ["new_emails"])
    tag = unique("bulk")
    emails = [f"{tag}-{i:03d}@example.net" for i in range(150)]
    book = new_book(hooks.api, [])
    add_contacts(hooks.api, book, emails)
    receiver.wait_events(150, path, server=hooks.server)
    # a control, added after: posted only once the 150 before it are delivered
    control = f"{tag}-zzz@example.net"
    add_contacts(hooks.api, book, [control])
    receiver.wait_events(151, path, server=hooks.server)

    posts = receiver.posts(path)
    for p in posts:
        assert p.headers["content-type"] == "application/json", p.headers
        assert p.body.startswith(b"[") and isinstance(json.loads(p.body), list), p.body[:100]
        assert p.delivered
    # all 150 were committed together: the first post takes a full batch
    assert [len(p.events) for p in posts] == [100, 50, 1], [len(p.events) for p in posts]
    assert [e["email"] for e in receiver.events(path)] == emails + [control]
    assert len({p.webhook_id for p in posts}) == len(posts)  # a new batch, a new webhook-id


# ------------------------------------------------------------------------------------------------ #
#                                3: signed per Standard Webhooks                                    #
# ------------------------------------------------------------------------------------------------ #


def test_posts_verify_with_the_standardwebhooks_package_and_tampering_does_not(hooks: HookFlow,
                                                                              receiver: Receiver):
    path = "/signed"
    [hook] = create_webhooks(hooks.api, receiver.url(path), ["new_emails"])
    [other] = create_webhooks(hooks.api, receiver.url("/other"), ["delete"])
    assert other["secret"] != hook["secret"]  # a secret per create
    book = new_book(hooks.api, [])
    first = address("signed")
    add_contacts(hooks.api, book, [first])
    receiver.wait_events(1, path, server=hooks.server)
    [post] = receiver.posts(path)

    assert set(post.headers) >= {"webhook-id", "webhook-timestamp", "webhook-signature"}, post.headers
    assert abs(int(post.headers["webhook-timestamp"]) - post.at) < 5, (post.headers, post.at)
    assert post.headers["webhook-signature"].startswith("v1,"), post.headers
    assert Webhook(hook["secret"]).verify(post.body, post.headers) == json.loads(post.body)
    assert post.events[0]["email"] == first

    tampered = post.body.replace(first.encode(), address("evil").encode())
    assert tampered != post.body
    with pytest.raises(WebhookVerificationError):
        Webhook(hook["secret"]).verify(tampered, post.headers)
    with pytest.raises(WebhookVerificationError):  # the same body under another message id
        Webhook(hook["secret"]).verify(post.body, {**post.headers, "webhook-id": post.webhook_id + "x"})
    later_stamp = str(int(post.headers["webhook-timestamp"]) + 1)
    with pytest.raises(WebhookVerificationError):  # the same body at another time
        Webhook(hook["secret"]).verify(post.body, {**post.headers, "webhook-timestamp": later_stamp})
    with pytest.raises(WebhookVerificationError):  # another webhook's secret
        Webhook(other["secret"]).verify(post.body, post.headers)

    # a rotated secret signs the next post; the old one no longer verifies it
    rotated = hooks.api.ok("POST", f"{HOOKS}/{hook['id']}/secret")["data"]["secret"]
    assert rotated.startswith("whsec_") and rotated != hook["secret"]
    add_contacts(hooks.api, book, [address("signed")])
    receiver.wait_events(2, path, server=hooks.server)
    later = receiver.posts(path)[-1]
    assert Webhook(rotated).verify(later.body, later.headers) == later.events
    with pytest.raises(WebhookVerificationError):
        Webhook(hook["secret"]).verify(later.body, later.headers)


# ------------------------------------------------------------------------------------------------ #
#                       4: a failing receiver gets the same batch later, once                      #
# ------------------------------------------------------------------------------------------------ #


def test_a_receiver_failing_twice_gets_the_batch_later_once_in_order_and_the_log_shows_it(
        hooks: HookFlow, receiver: Receiver):
    path = "/flaky"
    receiver.script = [500, 500]
    [hook] = create_webhooks(hooks.api, receiver.url(path), ["new_emails"])
    book = new_book(hooks.api, [])
    tag = unique("flaky")
    early = [f"{tag}-a1@example.net", f"{tag}-a2@example.net"]
    late = f"{tag}-b@example.net"
    add_contacts(hooks.api, book, early)
    receiver.wait("the first (refused) post", lambda: receiver.posts(path), server=hooks.server)
    add_contacts(hooks.api, book, [late])  # a later event: not part of the batch being retried
    receiver.wait_events(3, path, timeout=RETRY_TIMEOUT, server=hooks.server)

    posts = receiver.posts(path)
    assert [p.answered for p in posts] == [500, 500, 200, 200], [(p.answered, p.events) for p in posts]
    refused, retried, then = posts[:2], posts[2], posts[3]
    # the failed attempts and the delivered retry are one message: same webhook-id, same events
    assert {p.webhook_id for p in refused} == {retried.webhook_id} and then.webhook_id != retried.webhook_id
    assert [[e["email"] for e in p.events] for p in posts] == [early, early, early, [late]]
    assert [e["email"] for e in receiver.events(path)] == [*early, late]  # delivered once, in order
    # the back-off: 5 s, then 10 s
    assert posts[1].at - posts[0].at >= FIRST_RETRY - 1, [p.at for p in posts]
    assert posts[2].at - posts[1].at >= 2 * FIRST_RETRY - 1, [p.at for p in posts]

    def full_log() -> list[dict] | None:
        log = delivery_log(hooks.api, hook["id"])
        return log if len(log) == 4 else None

    log = receiver.wait("the 4 attempts in the delivery log", full_log, server=hooks.server)  # newest first
    assert [(a["status"], a["delivered"], a["events"]) for a in log] == \
        [(200, True, 1), (200, True, 2), (500, False, 2), (500, False, 2)], log
    assert [a["error"] for a in log] == [None, None, "HTTP 500", "HTTP 500"], log
    assert all(type(a["latency_ms"]) is int and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", a["at"])
               for a in log), log
    assert hooks.api.ok("GET", f"{HOOKS}/{hook['id']}")["data"]["failing"] is False


# ------------------------------------------------------------------------------------------------ #
#                   5: events committed before a SIGKILL are posted after the restart              #
# ------------------------------------------------------------------------------------------------ #


def test_events_waiting_when_the_server_is_killed_arrive_after_the_restart(
        tmp_path: Path, database: str | None, receiver: Receiver):
    path = "/crash"
    receiver.default = 500  # down until the server is killed
    env = serve_env(tmp_path / "data", database, WEBHOOKS_ALLOW_PRIVATE="true")
    servers: list[LiveServer] = []
    apis: list[Api] = []
    try:
        first = spawn_serve(env, tmp_path / "logs")
        servers.append(first)
        account = first.create_account(unique("hookcrash"))
        api = first.api(account)
        apis.append(api)
        [hook] = create_webhooks(api, receiver.url(path), ["new_emails"])
        book = new_book(api, [])
        tag = unique("crash")
        before = [f"{tag}-1@example.net", f"{tag}-2@example.net"]
        add_contacts(api, book, before)
        receiver.wait("the first (refused) post", lambda: receiver.posts(path), server=first)
        # its outcome recorded (else the restarted worker would wait for the dead one's lease)
        poll("the refused post in the delivery log", lambda: delivery_log(api, hook["id"]),
             detail=first.server_output)
        after = f"{tag}-3@example.net"
        add_contacts(api, book, [after])  # committed while the webhook waits for its retry
        kill_server(first)
        assert first.process.returncode is not None
        refused = receiver.posts(path)
        assert refused and all(p.answered == 500 and p.events == refused[0].events for p in refused), refused
        assert [e["email"] for e in refused[0].events] == before

        receiver.default = 200
        restarted = spawn_serve(env, tmp_path / "logs")
        servers.append(restarted)
        receiver.wait_events(3, path, timeout=RETRY_TIMEOUT, server=restarted)
        delivered = [p for p in receiver.posts(path) if p.delivered]
        assert [[e["email"] for e in p.events] for p in delivered] == [before, [after]], delivered
        assert delivered[0].webhook_id == refused[0].webhook_id  # the same message, retried
        api = restarted.api(account)
        apis.append(api)
        log = delivery_log(api, hook["id"])
        assert [a["delivered"] for a in log] == [True, True] + [False] * len(refused), log
    finally:
        for a in apis:
            a.close()
        for s in servers:
            stop_server(s)


# ------------------------------------------------------------------------------------------------ #
#                     6: refusals and another account's webhooks, through the live API             #
# ------------------------------------------------------------------------------------------------ #


@dataclass
class Strict:
    """A server without ``PULSEBOX_WEBHOOKS_ALLOW_PRIVATE``, two accounts of its own."""

    server: LiveServer
    owner: Api
    stranger: Api


@pytest.fixture(scope="module", params=BACKENDS)
def strict(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Strict]:
    root = tmp_path_factory.mktemp(f"webhooks-strict-{request.param}")
    with own_database(request.param) as url:
        server = spawn_serve(serve_env(root / "data", url), root / "logs")
        try:
            owner, stranger = server.api(server.create_account(unique("owner"))), \
                server.api(server.create_account(unique("stranger")))
            yield Strict(server, owner, stranger)
            owner.close()
            stranger.close()
        finally:
            stop_server(server)


@pytest.mark.parametrize("body", [
    {"url": "http://127.0.0.1:{port}/hook", "actions": ["new_emails"]},  # loopback, a receiver listening there
    {"url": "http://localhost:{port}/hook", "actions": ["new_emails"]},  # a name for loopback
    {"url": "http://[::1]:{port}/hook", "actions": ["new_emails"]},
    {"url": "http://169.254.169.254/latest/meta-data/", "actions": ["open"]},  # cloud metadata
    {"url": "http://10.1.2.3/hook", "actions": ["open"]},
    {"url": "ftp://example.com/hook", "actions": ["open"]},
    {"url": "not a url", "actions": ["open"]},
    {"url": "http://", "actions": ["open"]},
    {"url": "http://user:pass@93.184.215.14/hook", "actions": ["open"]},
    {"url": PUBLIC_URL, "actions": ["new_emails", "bogus"]},  # one unknown action refuses them all
    {"url": PUBLIC_URL, "actions": ["opened"]},  # the SMTP service's action asked of the email service
    {"url": PUBLIC_URL, "actions": ["open"], "service": "push"},
], ids=["loopback", "localhost", "ipv6-loopback", "metadata", "private", "ftp", "malformed", "no-host", "userinfo",
        "unknown-action", "smtp-action-for-email", "unknown-service"])
def test_unsafe_urls_and_unknown_actions_are_refused_without_the_setting(strict: Strict, receiver: Receiver,
                                                                         body: dict):
    body = {**body, "url": body["url"].format(port=receiver.server.server_port)}
    before = strict.owner.ok("GET", HOOKS)
    answer = strict.owner.request("POST", HOOKS, json=body)
    assert answer.status_code == 400, (answer.status_code, answer.text)
    refused = answer.json()
    assert refused.get("error_code") == INVALID and refused.get("success") is False, refused
    assert strict.owner.ok("GET", HOOKS) == before, body  # nothing stored
    assert receiver.posts() == []


def test_updating_to_loopback_is_refused_and_another_accounts_webhook_is_missing(strict: Strict,
                                                                                receiver: Receiver):
    [hook] = create_webhooks(strict.owner, PUBLIC_URL, ["new_emails"])
    try:
        moved = strict.owner.request("PUT", f"{HOOKS}/{hook['id']}", json={"url": receiver.url("/hook")})
        assert moved.status_code == 400 and moved.json().get("error_code") == INVALID, moved.text
        assert strict.owner.ok("GET", f"{HOOKS}/{hook['id']}")["data"] == hook  # unchanged

        missing = 987654321
        for method, suffix, kwargs in [("GET", "", {}), ("PUT", "", {"json": {"url": PUBLIC_URL + "2"}}),
                                       ("DELETE", "", {}), ("GET", "/log", {}), ("POST", "/secret", {})]:
            theirs = strict.stranger.request(method, f"{HOOKS}/{hook['id']}{suffix}", **kwargs)
            nothing = strict.stranger.request(method, f"{HOOKS}/{missing}{suffix}", **kwargs)
            assert theirs.status_code == nothing.status_code == NOT_FOUND, (method, suffix, theirs.text)
            assert theirs.json() == nothing.json(), (method, suffix, theirs.json(), nothing.json())
        assert strict.stranger.ok("GET", HOOKS) == {"success": True, "data": []}
        assert strict.owner.ok("GET", f"{HOOKS}/{hook['id']}")["data"] == hook  # not moved, deleted or rotated
    finally:
        strict.owner.ok("DELETE", f"{HOOKS}/{hook['id']}")
