"""The same request sent several times at once, for every write route of the route table: no answer
is a 5xx, each is a success or SendPulse's error object, and the account ends as if the request
had been made once (or, for a request that makes something new each time, once per request).

The requests come from real threads through one app; write handlers run in the API's pool, each in
its own transaction. On SQLite the write lock takes writers one at a time, so check-then-insert
races only show on PostgreSQL: there, a unique index hit between the check and the insert was a 500.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from conftest import Api, b64
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select, text, update
from starlette.routing import Route

from pulsebox.api import endpoint
from pulsebox.app import ROUTES
from pulsebox.errors import ApiError
from pulsebox.models import Sender, Template
from pulsebox.models.outbox import OutboxMessage, SendingDomain

PARALLEL = 8
WRITE_VERBS = {"POST", "PUT", "DELETE", "PATCH"}
CODE = "0123456789abcdef"

# every write route: its verbs but GET, and the GETs that write (``write=True``: a mailed code)
WRITE_ROUTES = sorted(
    {(r.path, m) for r in ROUTES if isinstance(r, Route) and isinstance(r.endpoint, endpoint)
     for m in r.methods - {"HEAD"} if m in WRITE_VERBS or r.endpoint.write})


# ---------------------------------------------------------------- helpers

def _count(ctx, query) -> int:  # noqa: ANN001
    with ctx.db.transaction(write=False) as conn:
        return conn.execute(query).scalar_one()


def system_notices(ctx, account_id: int) -> int:  # noqa: ANN001
    M = OutboxMessage.__table__
    return _count(ctx, select(func.count()).select_from(M).where(M.c.account_id == account_id, M.c.kind == "system"))


def smtp_messages(ctx, account_id: int) -> int:  # noqa: ANN001
    M = OutboxMessage.__table__
    return _count(ctx, select(func.count()).select_from(M).where(M.c.account_id == account_id, M.c.kind == "smtp"))


def set_sender_code(ctx, account_id: int, email: str) -> None:  # noqa: ANN001
    S = Sender.__table__
    with ctx.db.transaction() as conn:
        conn.execute(update(S).where(S.c.account_id == account_id, S.c.email == email)
                     .values(code_hash=hashlib.sha256(CODE.encode()).hexdigest()))


def set_domain_code(ctx, account_id: int, domain: str) -> None:  # noqa: ANN001
    SD = SendingDomain.__table__
    with ctx.db.transaction() as conn:
        conn.execute(update(SD).where(SD.c.account_id == account_id, SD.c.domain == domain)
                     .values(code_hash=hashlib.sha256(CODE.encode()).hexdigest()))


def contact_rows(api: Api, book: int) -> list[dict]:
    return api.get(f"/addressbooks/{book}/emails").json


@dataclass
class Case:
    """``setup(api, ctx)`` returns placeholders for ``path`` and ``body``; ``check(api, ctx, values,
    answers)`` asserts the state afterwards (``answers``: the (status, json) of every request)."""

    body: object = None
    setup: Callable = lambda api, ctx: {}  # noqa: E731
    check: Callable = lambda api, ctx, v, answers: None  # noqa: E731
    errors: set[int] = field(default_factory=set)  # error codes a losing request may get
    token: bool = True  # False: the public token endpoint (credentials in the body)


def _fill(value: object, values: dict) -> object:
    if isinstance(value, str):
        return value.format(**values)
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    return value


# ---- setups

def with_book(api: Api, ctx) -> dict:  # noqa: ANN001
    return {"book": api.new_book("Race")}


def with_contact(api: Api, ctx) -> dict:  # noqa: ANN001
    book = api.new_book("Race")
    assert api.add_contacts(book, [{"email": "ann@example.com", "variables": {"name": "Ann"}}]).json == {"result": True}
    return {"book": book}


def with_blacklisted(api: Api, ctx) -> dict:  # noqa: ANN001
    assert api.post("/blacklist", json={"emails": b64("black@example.com")}).json == {"result": True}
    return {}


def with_unsubscribed(api: Api, ctx) -> dict:  # noqa: ANN001
    assert api.post("/smtp/unsubscribe", json={"emails": [{"email": "gone@example.com", "comment": "c"}]}).status == 200
    return {}


def with_sender(api: Api, ctx) -> dict:  # noqa: ANN001
    assert api.post("/senders", json={"email": "me@example.com", "name": "Me"}).json == {"result": True}
    set_sender_code(ctx, api.id, "me@example.com")
    return {}


def with_template(api: Api, ctx) -> dict:  # noqa: ANN001
    return {"real_id": api.post("/template", json={"name": "T", "body": b64("<p>1</p>"), "lang": "en"}).json["real_id"]}


def with_domain(api: Api, ctx) -> dict:  # noqa: ANN001
    assert api.post("/smtp/domains", json={"email": "admin@race.example"}).json == {"result": True}
    set_domain_code(ctx, api.id, "race.example")
    return {}


def with_credentials(api: Api, ctx) -> dict:  # noqa: ANN001
    return {"client_id": api.account["client_id"], "client_secret": api.account["client_secret"]}


# ---- checks

def one_book_named(name: str) -> Callable:
    def check(api, ctx, v, answers) -> None:  # noqa: ANN001
        assert [b["name"] for b in api.get("/addressbooks").json].count(name) == 1
    return check


def no_book(api, ctx, v, answers) -> None:  # noqa: ANN001
    assert api.get(f"/addressbooks/{v['book']}").status == 404


def contacts_are(expected: list[str]) -> Callable:
    def check(api, ctx, v, answers) -> None:  # noqa: ANN001
        assert sorted(r["email"] for r in contact_rows(api, v["book"])) == expected
        assert api.get(f"/addressbooks/{v['book']}/emails/total").json == {"total": len(expected)}
    return check


def contact_is(**expected) -> Callable:  # noqa: ANN003
    def check(api, ctx, v, answers) -> None:  # noqa: ANN001
        info = api.get(f"/addressbooks/{v['book']}/emails/ann@example.com").json
        for key, value in expected.items():
            got = info.get(key) if key != "variables" else {x["name"]: x["value"] for x in info["variables"]}
            assert got == value, (key, info)
    return check


def blacklist_is(expected: list[str]) -> Callable:
    def check(api, ctx, v, answers) -> None:  # noqa: ANN001
        assert api.get("/blacklist").json == expected
    return check


def senders_are(expected: list[tuple[str, bool]]) -> Callable:
    def check(api, ctx, v, answers) -> None:  # noqa: ANN001
        assert [(s["email"], s["status"] == "Active") for s in api.get("/senders").json] == expected
    return check


def one_notice(api, ctx, v, answers) -> None:  # noqa: ANN001
    assert system_notices(ctx, api.id) == 1


def templates_made(n: int) -> Callable:
    def check(api, ctx, v, answers) -> None:  # noqa: ANN001
        mine = api.get("/templates", params={"owner": "me"}).json
        assert len(mine) == n and len({t["name_slug"] for t in mine}) == n
    return check


def template_body(body: str) -> Callable:
    def check(api, ctx, v, answers) -> None:  # noqa: ANN001
        info = api.get(f"/template/{v['real_id']}").json
        assert info["body"] == body
        T = Template.__table__
        assert _count(ctx, select(func.count()).select_from(T).where(T.c.account_id == api.id)) == 1
    return check


def with_campaign(api: Api, ctx) -> dict:  # noqa: ANN001
    book = with_contact(api, ctx)["book"]
    campaign = api.post("/campaigns", json={**CAMPAIGN, "list_id": book, "type": "draft"}).json["id"]
    return {"book": book, "campaign": campaign}


FILTER = {"variable_name": "name", "conditions": [{"condition": "equal", "value": "Ann"}]}


def with_segment(api: Api, ctx) -> dict:  # noqa: ANN001
    book = with_contact(api, ctx)["book"]
    return {"book": book, "segment": api.post(f"/addressbooks/{book}/segments",
                                              json={"name": "Race", "filter": FILTER}).json["id"]}


def segments_made(n: int) -> Callable:
    def check(api, ctx, v, answers) -> None:  # noqa: ANN001
        assert len(api.get(f"/addressbooks/{v['book']}/segments").json) == n
    return check


HOOK = {"url": "https://93.184.215.14/race", "actions": ["open"]}  # a public address: nothing is posted


def with_webhook(api: Api, ctx) -> dict:  # noqa: ANN001
    return {"webhook": api.post("/v2/email-service/webhook", json=HOOK).json["data"][0]["id"]}


def webhooks_are(n: int) -> Callable:
    def check(api, ctx, v, answers) -> None:  # noqa: ANN001
        assert len(api.get("/v2/email-service/webhook").json["data"]) == n
    return check


PUSH_SITE = {"url": "https://race.example.com"}


def with_push_site(api: Api, ctx) -> dict:  # noqa: ANN001
    return {"push_site": api.post("/push/websites", json=PUSH_SITE).json["id"]}


def with_push_subscriber(api: Api, ctx) -> dict:  # noqa: ANN001
    site = api.post("/push/websites", json=PUSH_SITE).json
    point = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    subscribed = api.client.post("/push/subscribe", json={"appkey": site["appkey"], "subscription": {
        "endpoint": "https://push.example.net/race", "keys": {
            "p256dh": base64.urlsafe_b64encode(point).decode().rstrip("="), "auth": "A" * 22}}}).json()
    return {"push_site": site["id"], "push_subscription": subscribed["id"]}


def push_sites_are(n: int) -> Callable:
    def check(api, ctx, v, answers) -> None:  # noqa: ANN001
        assert api.get("/push/websites/total").json == {"total": n}
    return check


def push_tasks_are(n: int) -> Callable:
    def check(api, ctx, v, answers) -> None:  # noqa: ANN001
        assert len(api.get("/push/tasks").json) == n
    return check


def push_states_are(states: list[int]) -> Callable:
    def check(api, ctx, v, answers) -> None:  # noqa: ANN001
        assert [s["status"] for s in api.get(f"/push/websites/{v['push_site']}/subscriptions").json] == states
    return check


def campaigns_are(statuses: list[int]) -> Callable:
    def check(api, ctx, v, answers) -> None:  # noqa: ANN001
        assert sorted(c["status"] for c in api.get("/campaigns").json) == statuses
    return check


def messages_sent(n: int) -> Callable:
    def check(api, ctx, v, answers) -> None:  # noqa: ANN001
        assert smtp_messages(ctx, api.id) == n
        assert len({a[1]["id"] for a in answers}) == n
    return check


def unsubscribes_are(expected: list[str]) -> Callable:
    def check(api, ctx, v, answers) -> None:  # noqa: ANN001
        assert [u["email"] for u in api.get("/smtp/unsubscribe").json] == expected
    return check


def domains_are(verified: list[str]) -> Callable:
    def check(api, ctx, v, answers) -> None:  # noqa: ANN001
        SD = SendingDomain.__table__
        assert _count(ctx, select(func.count()).select_from(SD).where(SD.c.account_id == api.id)) == 1
        assert api.get("/smtp/domains").json == verified  # only verified domains are listed
    return check


def tokens_work(api, ctx, v, answers) -> None:  # noqa: ANN001
    for _, answer in answers:
        assert api.client.get("/balance", headers={"Authorization": f"Bearer {answer['access_token']}"}).status_code \
            == 200


def all_succeed(api, ctx, v, answers) -> None:  # noqa: ANN001
    assert all(status == 200 for status, _ in answers), answers


CAMPAIGN = {"sender_name": "Me", "sender_email": "me@example.com", "subject": "Race", "body": b64("<p>x</p>")}
SEND = {"email": {"subject": "Race", "from": {"email": "me@example.com"}, "to": [{"email": "ann@example.com"}],
                  "text": "hi"}}

CASES: dict[tuple[str, str], Case] = {
    ("/oauth/access_token", "POST"): Case(
        {"grant_type": "client_credentials", "client_id": "{client_id}", "client_secret": "{client_secret}"},
        with_credentials, tokens_work, token=False),
    ("/addressbooks", "POST"): Case({"bookName": "Race"}, check=one_book_named("Race"), errors={203}),
    ("/addressbooks", "DELETE"): Case({"id": "{book}"}, with_book, no_book, errors={213}),
    ("/addressbooks/{id}", "PUT"): Case({"name": "Renamed"}, with_book, one_book_named("Renamed")),
    ("/addressbooks/{id}", "DELETE"): Case(None, with_book, no_book, errors={213}),
    ("/addressbooks/{id}/emails", "POST"): Case(
        {"emails": [{"email": "bob@example.com", "variables": {"name": "Bob"}}]}, with_book,
        contacts_are(["bob@example.com"])),
    ("/addressbooks/{id}/emails", "DELETE"): Case({"emails": ["ann@example.com"]}, with_contact, contacts_are([])),
    ("/addressbooks/{id}/emails/variable", "POST"): Case(
        {"email": "ann@example.com", "variables": [{"name": "city", "value": "Kyiv"}]}, with_contact,
        contact_is(variables={"city": "Kyiv", "name": "Ann"})),
    ("/addressbooks/{id}/emails/variable", "PUT"): Case(
        {"email": "ann@example.com", "variables": [{"name": "city", "value": "Lviv"}]}, with_contact,
        contact_is(variables={"city": "Lviv", "name": "Ann"})),
    ("/addressbooks/{id}/emails/unsubscribe", "POST"): Case(
        {"emails": ["ann@example.com"]}, with_contact, contact_is(status=4)),
    ("/addressbooks/{id}/phone", "POST"): Case(
        {"email": "ann@example.com", "phone": "+380501234567"}, with_contact, contact_is(phone="380501234567")),
    ("/addressbooks/{id}/phone", "PUT"): Case(
        {"email": "ann@example.com", "phone": "+380501234568"}, with_contact, contact_is(phone="380501234568")),
    ("/emails", "POST"): Case({"emails": ["ann@example.com"]}, with_contact, all_succeed),
    ("/emails/campaigns", "POST"): Case({"emails": ["ann@example.com"]}, with_contact, all_succeed),
    ("/emails/{email}", "DELETE"): Case(None, with_contact, contacts_are([]), errors={17}),
    ("/blacklist", "POST"): Case({"emails": b64("black@example.com"), "comment": "spam"},
                                 check=blacklist_is(["black@example.com"])),
    ("/blacklist", "DELETE"): Case({"emails": b64("black@example.com")}, with_blacklisted, blacklist_is([])),
    ("/senders", "POST"): Case({"email": "new@example.com", "name": "New"},
                               check=senders_are([("new@example.com", False)]), errors={902}),
    ("/senders", "DELETE"): Case({"email": "me@example.com"}, with_sender, senders_are([]), errors={704}),
    ("/senders/{email}/code", "GET"): Case(None, with_sender, one_notice, errors={1004}),
    ("/senders/{email}/code", "POST"): Case({"code": CODE}, with_sender, senders_are([("me@example.com", True)])),
    ("/template", "POST"): Case({"name": "Race", "body": b64("<p>x</p>"), "lang": "en"},
                                check=templates_made(PARALLEL)),
    ("/template/edit/{id}", "POST"): Case({"body": b64("<p>2</p>")}, with_template, template_body("<p>2</p>")),
    ("/template/edit/{id}", "PUT"): Case({"body": b64("<p>3</p>")}, with_template, template_body("<p>3</p>")),
    ("/smtp/emails", "POST"): Case(SEND, check=messages_sent(PARALLEL)),
    ("/smtp/unsubscribe", "POST"): Case({"emails": [{"email": "gone@example.com", "comment": "c"}]},
                                        check=unsubscribes_are(["gone@example.com"])),
    ("/smtp/unsubscribe", "DELETE"): Case({"emails": ["gone@example.com"]}, with_unsubscribed,
                                          unsubscribes_are([])),
    ("/smtp/domains", "POST"): Case({"email": "admin@race.example"}, check=domains_are([])),
    ("/smtp/domains/{email}", "GET"): Case(None, with_domain, one_notice, errors={1004}),
    ("/smtp/domains/{email}", "POST"): Case({"code": CODE}, with_domain, domains_are(["@race.example"])),
    ("/capture/messages", "DELETE"): Case(None, check=all_succeed),
    ("/addressbooks/{id}/segments", "POST"): Case({"name": "Race", "filter": FILTER}, with_book,
                                                  segments_made(PARALLEL)),
    ("/addressbooks/{id}/segments/{segment_id}", "DELETE"): Case(None, with_segment, segments_made(0), errors={703}),
    # one campaign per list per interval (711) and per hour (791): a burst makes one
    ("/campaigns", "POST"): Case({**CAMPAIGN, "list_id": "{book}"}, with_contact, campaigns_are([13]),
                                 errors={711, 791}),
    ("/campaigns/{id}", "PATCH"): Case({"name": "Renamed"}, with_campaign, campaigns_are([26])),
    ("/campaigns/{id}", "DELETE"): Case(None, with_campaign, campaigns_are([16]), errors={602}),
    # each create makes its webhooks; the rest act on one
    ("/v2/email-service/webhook", "POST"): Case(HOOK, check=webhooks_are(PARALLEL)),
    ("/v2/email-service/webhook/{id}", "PUT"): Case({"url": "https://93.184.215.14/moved"}, with_webhook,
                                                   webhooks_are(1)),
    ("/v2/email-service/webhook/{id}", "DELETE"): Case(None, with_webhook, webhooks_are(0), errors={404}),
    ("/v2/email-service/webhook/{id}/secret", "POST"): Case(None, with_webhook, webhooks_are(1)),
    # each add makes a website; one push task per website per interval (711): a burst makes one
    ("/push/websites", "POST"): Case(PUSH_SITE, check=push_sites_are(PARALLEL)),
    ("/push/tasks", "POST"): Case({"title": "Race", "website_id": "{push_site}", "body": "b", "ttl": 60,
                                   "send_date": "2099-01-01 00:00:00"}, with_push_site, push_tasks_are(1),
                                  errors={711}),
    ("/push/subscriptions/state", "POST"): Case({"id": "{push_subscription}", "state": 0}, with_push_subscriber,
                                                push_states_are([0])),
}

PATHS = {"/addressbooks/{id}/segments/{segment_id}": "/addressbooks/{book}/segments/{segment}",
         "/addressbooks/{id}": "/addressbooks/{book}", "/emails/{email}": "/emails/ann@example.com",
         "/senders/{email}/code": "/senders/me@example.com/code", "/template/edit/{id}": "/template/edit/{real_id}",
         "/smtp/domains/{email}": "/smtp/domains/admin@race.example", "/campaigns/{id}": "/campaigns/{campaign}",
         "/v2/email-service/webhook/{id}": "/v2/email-service/webhook/{webhook}"}


def concrete(path: str) -> str:
    for template, filled in PATHS.items():
        if path.startswith(template):
            return filled + path[len(template):]
    assert "{" not in path, f"no concrete path for {path}: extend PATHS"
    return path


def test_every_write_route_has_a_case():
    assert set(WRITE_ROUTES) == set(CASES), set(WRITE_ROUTES) ^ set(CASES)


def is_error_object(body: object) -> bool:
    return (isinstance(body, dict) and body.get("is_error") is True and isinstance(body.get("message"), str)
            and type(body.get("error_code")) is int)


@pytest.mark.parametrize(("path", "method"), WRITE_ROUTES, ids=[f"{m} {p}" for p, m in WRITE_ROUTES])
def test_the_same_write_at_once(api, ctx, path, method):
    case = CASES[(path, method)]
    values = case.setup(api, ctx)
    target = concrete(path).format(**values)
    kwargs = {"json": _fill(case.body, values)} if case.body is not None else {}
    headers = api.headers if case.token else {}
    barrier = threading.Barrier(PARALLEL)
    answers: list = [None] * PARALLEL

    def one(i: int) -> None:
        barrier.wait()
        response = api.client.request(method, target, headers=headers, **kwargs)
        answers[i] = (response.status_code, response.json())

    threads = [threading.Thread(target=one, args=(i,)) for i in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert all(a is not None for a in answers), answers
    for status, body in answers:
        assert status < 500, (status, body)
        if status == 200:
            assert not is_error_object(body), body
        else:
            assert 400 <= status < 500 and is_error_object(body), (status, body)
            assert body["error_code"] in case.errors, (status, body)
    assert any(status == 200 for status, _ in answers), answers
    case.check(api, ctx, values, [a for a in answers if a[0] == 200])


# ---------------------------------------------------------------- the race, every time
#
# The bursts above catch a check-then-insert race only when two requests happen to interleave.
# Here the interleaving is forced: a first transaction has written and not committed yet while a
# second one runs the same service call; on PostgreSQL the second is seen waiting on the first's
# row lock before the first commits. (SQLite: the second waits for the write lock at BEGIN.)

def _race(ctx, first: Callable, second: Callable) -> object:  # noqa: ANN001
    """Run ``first(conn)`` in a transaction held open until ``second(conn)``, in a transaction of
    its own on another thread, waits on it; then commit the first. Returns what the second returned
    or raised."""
    outcome: list = []

    def run_second() -> None:
        try:
            with ctx.db.transaction() as conn:
                outcome.append(second(conn))
        except Exception as exc:  # noqa: BLE001 - the caller asserts on it
            outcome.append(exc)

    thread = threading.Thread(target=run_second)
    with ctx.db.transaction() as conn:
        first(conn)
        thread.start()
        if ctx.db.is_sqlite:
            time.sleep(0.2)
        else:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not _waiting_on_a_lock(ctx):
                time.sleep(0.01)
            assert _waiting_on_a_lock(ctx), "the second transaction never waited on the first"
    thread.join(30)
    assert outcome, "the second transaction did not finish"
    return outcome[0]


def _waiting_on_a_lock(ctx) -> bool:  # noqa: ANN001
    with ctx.db.engine.connect() as conn:
        return bool(conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                                      " AND wait_event_type = 'Lock'")).scalar())


def test_blacklisting_an_address_being_blacklisted(api, ctx):
    from pulsebox.blacklist import service

    outcome = _race(ctx, lambda conn: service.add(conn, api.id, ["race@example.com"], "first"),
                    lambda conn: service.add(conn, api.id, ["race@example.com", "also@example.com"], "second"))
    assert outcome is None, outcome
    assert sorted(api.get("/blacklist").json) == ["also@example.com", "race@example.com"]


def test_adding_a_sender_being_added_is_902(api, ctx):
    from pulsebox.senders import service

    outcome = _race(ctx, lambda conn: service.add(conn, api.id, "race@example.com", "First", ()),
                    lambda conn: service.add(conn, api.id, "race@example.com", "Second", ()))
    assert isinstance(outcome, ApiError) and outcome.code == 902, outcome  # as when added one after the other
    assert [(s["email"], s["name"]) for s in api.get("/senders").json] == [("race@example.com", "First")]


def test_adding_a_domain_being_added(api, ctx):
    from pulsebox.smtp import service

    outcome = _race(ctx, lambda conn: service.add_domain(conn, api.id, "first@race.example", ctx.settings),
                    lambda conn: service.add_domain(conn, api.id, "second@race.example", ctx.settings))
    assert outcome is None, outcome
    SD = SendingDomain.__table__
    with ctx.db.transaction(write=False) as conn:
        assert conn.execute(select(SD.c.domain, SD.c.email).where(SD.c.account_id == api.id)).all() == \
            [("race.example", "first@race.example")]


def test_a_sender_code_requested_twice_at_once_is_mailed_once(api, ctx):
    from pulsebox.senders import service

    assert api.post("/senders", json={"email": "me@example.com", "name": "Me"}).json == {"result": True}
    ask = lambda conn: service.request_code(conn, api.id, "me@example.com", "noreply@pulsebox.localhost")  # noqa: E731
    outcome = _race(ctx, ask, ask)
    assert isinstance(outcome, ApiError) and outcome.code == 1004, outcome
    assert system_notices(ctx, api.id) == 1


def test_a_domain_code_requested_twice_at_once_is_mailed_once(api, ctx):
    from pulsebox.smtp import service

    assert api.post("/smtp/domains", json={"email": "admin@race.example"}).json == {"result": True}
    ask = lambda conn: service.send_domain_code(conn, api.id, "admin@race.example", ctx.settings)  # noqa: E731
    outcome = _race(ctx, ask, ask)
    assert isinstance(outcome, ApiError) and outcome.code == 1004, outcome
    assert system_notices(ctx, api.id) == 1
