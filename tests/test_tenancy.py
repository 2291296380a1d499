"""Tenancy: every resource belongs to one account. Another account's id answers EXACTLY like an id
that never existed (status and body), cannot be read, changed or deleted through it, listings show
only the caller's rows, and the owner's rows are unchanged afterwards (read back from the database).
System templates (owner "sendpulse") are shared read-only by everyone.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from decimal import Decimal

import orjson
import pytest
from conftest import Api, b64, make_account
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import update
from starlette.testclient import TestClient
from test_bad_input import NEVER_BOOK, NEVER_TEMPLATE, assert_error, db_state

from pulsebox.app import build
from pulsebox.balance import repository as ledger
from pulsebox.balance import service as balance
from pulsebox.models import Sender


def activate_sender(ctx, account_id: int, email: str) -> None:
    with ctx.db.transaction() as conn:
        conn.execute(update(Sender.__table__).values(active=True)
                     .where(Sender.__table__.c.account_id == account_id, Sender.__table__.c.email == email))


@dataclass
class Ids:
    """The ids a request can name: another account's real ones, or ones that never existed."""

    book: int
    email: str
    real_id: int
    uid: str
    slug: str
    sender: str
    black: str
    smtp_id: str = ""  # a message POST /smtp/emails answered
    unsubscribed: str = ""  # an address on the SMTP unsubscribe list
    domain_email: str = ""  # an address of a sending domain (/smtp/domains)
    campaign: int = 0  # a campaign (a draft: it sends nothing)
    segment: int = 0  # a segment of ``book``
    webhook: int = 0  # a webhook (to a public address: nothing is ever posted to it in a test)
    push_site: int = 0  # a web push website, with one subscriber and one push task (sent to no one)
    push_subscription: int = 0
    push_task: int = 0


@dataclass
class Tenants:
    api: Api
    other: Api
    mine: dict  # api's own ids: book, email, sender, real_id
    theirs: Ids
    never: Ids


@pytest.fixture
def tenants(ctx, api, other) -> Tenants:
    return make_tenants(ctx, api, other)


@pytest.fixture(scope="module")
def _module_tenants(ctx):
    """The module's shared tenants (see ``shared_tenants``), made on first use."""
    with TestClient(build(ctx), raise_server_exceptions=False) as client:
        yield {"client": client}


@pytest.fixture
def shared_tenants(request, ctx, _module_tenants) -> Tenants:
    """Tenants shared by the cases of this module (and backend) that change nothing: requests that
    must be refused, whose test reads both accounts' rows back before and after and asserts them
    unchanged, and reads (GET), whose test asserts the same. A case that may succeed with a write
    gets tenants of its own (``tenants``): the ids it names must stay the other account's and never
    existing ones. A test that failed may have written: the next one gets new tenants."""
    holder = _module_tenants
    if "tenants" not in holder:
        client = holder["client"]
        holder["tenants"] = make_tenants(ctx, Api(client, make_account(ctx)), Api(client, make_account(ctx)))
    failed = request.session.testsfailed
    yield holder["tenants"]
    if request.session.testsfailed != failed:
        del holder["tenants"]


def make_tenants(ctx, api: Api, other: Api) -> Tenants:
    # the other account: a book with typed variables and a phone, a blacklisted contact, an active
    # sender, a template, money on the ledger
    book = other.new_book("Their list")
    other.new_book("Their second list")
    assert other.add_contacts(book, [
        {"email": "secret@example.com", "variables": {"name": "Secret", "age": 41, "since": "2020-01-02",
                                                      "Phone": "+380501112233"}},
        "second@example.com",
    ]).json == {"result": True}
    assert other.post("/blacklist", json={"emails": b64("hidden@example.com,secret@example.com"),
                                          "comment": "theirs"}).json == {"result": True}
    assert other.post("/senders", json={"email": "boss@example.com", "name": "Boss"}).json == {"result": True}
    activate_sender(ctx, other.id, "boss@example.com")
    real_id = other.post("/template", json={"name": "Secret Plan", "body": b64("<p>plan</p>"),
                                            "lang": "en"}).json["real_id"]
    uid = other.get(f"/template/{real_id}").json["id"]
    smtp_id = other.post("/smtp/emails", json={"email": {
        "subject": "Secret", "from": {"email": "boss@example.com"}, "to": [{"email": "secret@example.com"}],
        "html": b64("<p>secret</p>")}}).json["id"]
    assert other.post("/smtp/unsubscribe", json={"emails": [{"email": "gone@example.com", "comment": "theirs"}]}).json \
        == {"result": True}
    assert other.post("/smtp/domains", json={"email": "postmaster@their-domain.example"}).json == {"result": True}
    segment = other.post(f"/addressbooks/{book}/segments", json={"name": "Theirs", "filter": {
        "variable_name": "age", "conditions": [{"condition": "greaterthan", "value": 1}]}}).json["id"]
    campaign = other.post("/campaigns", json={"sender_name": "Boss", "sender_email": "boss@example.com",
                                              "subject": "Secret", "body": b64("<p>secret</p>"), "list_id": book,
                                              "type": "draft"}).json["id"]
    webhook = other.post("/v2/email-service/webhook", json={"url": "https://93.184.215.14/theirs",
                                                           "actions": ["open"]}).json["data"][0]["id"]
    push_site = other.post("/push/websites", json={"url": "https://theirs.example.com"}).json["id"]
    appkey = other.get(f"/push/websites/info/{push_site}").json["appkey"]
    browser_key = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    push_subscription = other.client.post("/push/subscribe", json={"appkey": appkey, "subscription": {
        "endpoint": "https://push.example.net/theirs",
        "keys": {"p256dh": base64.urlsafe_b64encode(browser_key).decode().rstrip("="), "auth": "A" * 22}}}).json()["id"]
    push_task = other.post("/push/tasks", json={"title": "Theirs", "website_id": push_site, "body": "b", "ttl": 60,
                                                "send_date": "2099-01-01 00:00:00"}).json["id"]
    with ctx.db.transaction() as conn:
        balance.credit(conn, other.id, Decimal("9.36"), bonus=False, note="theirs")
        balance.credit(conn, other.id, Decimal(5), bonus=True, note="theirs")
        ledger.add_ledger_entry(conn, other.id, "emails", emails=123)

    # the caller: its own book, contact, active sender and template
    my_book = api.new_book("My list")
    assert api.add_contacts(my_book, [{"email": "mine@example.com", "variables": {"name": "Mine"}}]).json == \
        {"result": True}
    assert api.post("/senders", json={"email": "own@example.com", "name": "Own"}).json == {"result": True}
    activate_sender(ctx, api.id, "own@example.com")
    my_template = api.post("/template", json={"name": "My own", "body": b64("<p>own</p>"), "lang": "en"}).json

    tag = secrets.token_hex(4)
    return Tenants(
        api=api, other=other,
        mine={"book": my_book, "email": "mine@example.com", "sender": "own@example.com",
              "real_id": my_template["real_id"]},
        theirs=Ids(book=book, email="secret@example.com", real_id=real_id, uid=uid, slug="secret-plan",
                   sender="boss@example.com", black="hidden@example.com", smtp_id=smtp_id,
                   unsubscribed="gone@example.com", domain_email="postmaster@their-domain.example",
                   campaign=campaign, segment=segment, webhook=webhook, push_site=push_site,
                   push_subscription=push_subscription, push_task=push_task),
        never=Ids(book=NEVER_BOOK, email=f"never-{tag}@example.com", real_id=NEVER_TEMPLATE,
                  uid=secrets.token_hex(16), slug=f"never-such-slug-{tag}", sender=f"never-sender-{tag}@example.com",
                  black=f"never-black-{tag}@example.com", smtp_id=secrets.token_hex(16),
                  unsubscribed=f"never-gone-{tag}@example.com", domain_email=f"postmaster@never-{tag}.example",
                  campaign=NEVER_BOOK, segment=NEVER_BOOK, webhook=NEVER_BOOK, push_site=NEVER_BOOK,
                  push_subscription=NEVER_BOOK, push_task=NEVER_BOOK),
    )


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def fill(value, ids: Ids, mine: dict):
    if isinstance(value, str):
        def one(match: re.Match) -> str:
            key = match[1]
            if key.startswith("my_"):
                return str(mine[key[3:]])
            if key.startswith("b64_"):
                return b64(str(getattr(ids, key[4:])))
            return str(getattr(ids, key))
        return _PLACEHOLDER.sub(one, value)
    if isinstance(value, dict):
        return {fill(k, ids, mine): fill(v, ids, mine) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, ids, mine) for v in value]
    return value


def neutral(answer, ids: Ids) -> tuple[int, str]:
    """Status and body with the request's own string ids replaced, so answers compare exactly."""
    text = orjson.dumps(answer.json, option=orjson.OPT_SORT_KEYS).decode()
    for value in (ids.email, ids.uid, ids.slug, ids.sender, ids.black, ids.smtp_id, ids.unsubscribed,
                  ids.domain_email, ids.domain_email.split("@")[-1]):
        text = text.replace(value, "<ID>")
    return answer.status, text


# (id, method, path, kwargs, expected error code or None for a success answer)
CASES = [
    # ---- another account's book id
    ("book info", "GET", "/addressbooks/{book}", {}, 213),
    ("book rename", "PUT", "/addressbooks/{book}", {"json": {"name": "Hijacked"}}, 213),
    ("book delete", "DELETE", "/addressbooks/{book}", {}, 213),
    ("book legacy delete", "DELETE", "/addressbooks", {"json": {"id": "{book}"}}, 213),
    ("book legacy delete of contacts", "DELETE", "/addressbooks", {"json": {"id": "{book}", "emails": ["{email}"]}},
     213),
    ("book variables", "GET", "/addressbooks/{book}/variables", {}, 213),
    ("book find by variable", "GET", "/addressbooks/{book}/variables/name/Secret", {}, 213),
    ("book find by variable, no value", "GET", "/addressbooks/{book}/variables/name", {}, 8),
    ("book contacts", "GET", "/addressbooks/{book}/emails", {}, 213),
    ("book contacts paged", "GET", "/addressbooks/{book}/emails", {"params": {"limit": 10, "offset": 0}}, 213),
    ("book add contact", "POST", "/addressbooks/{book}/emails",
     {"json": {"emails": [{"email": "intruder@example.com", "variables": {"name": "X"}}]}}, 213),
    ("book merge into their contact", "POST", "/addressbooks/{book}/emails",
     {"json": {"emails": [{"email": "{email}", "variables": {"name": "Hijacked", "age": 1}}]}}, 213),
    ("book delete contacts", "DELETE", "/addressbooks/{book}/emails", {"json": {"emails": ["{email}"]}}, 213),
    ("book total", "GET", "/addressbooks/{book}/emails/total", {}, 213),
    ("book change variable POST", "POST", "/addressbooks/{book}/emails/variable",
     {"json": {"email": "{email}", "variables": {"name": "Hijacked"}}}, 213),
    ("book change variable PUT", "PUT", "/addressbooks/{book}/emails/variable",
     {"json": {"email": "{email}", "variables": [{"name": "age", "value": 2}]}}, 213),
    ("book unsubscribe", "POST", "/addressbooks/{book}/emails/unsubscribe", {"json": {"emails": ["{email}"]}}, 213),
    ("book contact info", "GET", "/addressbooks/{book}/emails/{email}", {}, 213),
    ("book phone PUT", "PUT", "/addressbooks/{book}/phone", {"json": {"email": "{email}", "phone": "380509998877"}},
     213),
    ("book phone POST", "POST", "/addressbooks/{book}/phone", {"json": {"email": "{email}", "phone": "380509998877"}},
     213),
    ("book campaigns", "GET", "/addressbooks/{book}/campaigns", {}, 213),
    ("book cost", "GET", "/addressbooks/{book}/cost", {}, 213),
    # ---- another account's contact address, asked about in the caller's own book
    ("contact info in my book", "GET", "/addressbooks/{my_book}/emails/{email}", {}, 17),
    ("contact variable in my book", "POST", "/addressbooks/{my_book}/emails/variable",
     {"json": {"email": "{email}", "variables": {"name": "Hijacked"}}}, 17),
    ("contact phone in my book", "PUT", "/addressbooks/{my_book}/phone",
     {"json": {"email": "{email}", "phone": "380509998877"}}, 17),
    ("contact delete from my book", "DELETE", "/addressbooks/{my_book}/emails", {"json": {"emails": ["{email}"]}},
     None),
    ("contact legacy delete from my book", "DELETE", "/addressbooks",
     {"json": {"id": "{my_book}", "emails": ["{email}"]}}, None),
    ("contact unsubscribe in my book", "POST", "/addressbooks/{my_book}/emails/unsubscribe",
     {"json": {"emails": ["{email}"]}}, None),
    ("their variable value in my book", "GET", "/addressbooks/{my_book}/variables/name/Secret", {}, None),
    # ---- /emails/{email}: another account's contact (also on its blacklist)
    ("email info", "GET", "/emails/{email}", {}, 17),
    ("email details", "GET", "/emails/{email}/details", {}, 17),
    ("email campaigns", "GET", "/emails/{email}/campaigns", {}, None),
    ("email delete everywhere", "DELETE", "/emails/{email}", {}, 17),
    ("emails bulk info", "POST", "/emails", {"json": {"emails": ["{email}"]}}, None),
    ("emails bulk campaigns", "POST", "/emails/campaigns", {"json": {"emails": ["{email}", "{black}"]}}, None),
    ("blacklisted-only email campaigns", "GET", "/emails/{black}/campaigns", {}, None),
    ("blacklisted-only email info", "GET", "/emails/{black}", {}, 17),
    # ---- templates: real_id, uid, slug
    ("template by real_id", "GET", "/template/{real_id}", {}, 404),
    ("template by uid", "GET", "/template/{uid}", {}, 404),
    ("template by slug", "GET", "/template/slug/{slug}", {}, 404),
    ("template edit by real_id POST", "POST", "/template/edit/{real_id}", {"json": {"body": b64("<p>pwned</p>")}},
     404),
    ("template edit by real_id PUT", "PUT", "/template/edit/{real_id}",
     {"json": {"body": b64("<p>pwned</p>"), "lang": "en"}}, 404),
    ("template edit by uid", "POST", "/template/edit/{uid}", {"json": {"body": b64("<p>pwned</p>")}}, 404),
    # ---- senders
    ("sender delete", "DELETE", "/senders", {"json": {"email": "{sender}"}}, 704),
    ("sender request code", "GET", "/senders/{sender}/code", {}, 1003),
    ("sender activate", "POST", "/senders/{sender}/code", {"json": {"code": "0123456789abcdef"}}, 1003),
    ("sender used for double opt-in", "POST", "/addressbooks/{my_book}/emails",
     {"json": {"emails": ["doi@example.com"], "confirmation": "force", "sender_email": "{sender}",
               "message_lang": "en"}}, 1003),
    ("sender added by the caller too", "POST", "/senders", {"json": {"email": "{sender}", "name": "Mine too"}}, None),
    # ---- blacklist entries
    ("blacklist remove", "DELETE", "/blacklist", {"json": {"emails": "{black}"}}, None),
    ("blacklist remove base64", "DELETE", "/blacklist", {"json": {"emails": "{b64_black}"}}, None),
    ("blacklist remove legacy field", "DELETE", "/blacklist", {"json": {"email": "{black},{email}"}}, None),
    ("blacklist add the same address", "POST", "/blacklist", {"json": {"emails": "{black}", "comment": "mine"}}, None),
    # ---- the SMTP service: messages, the unsubscribe list, sending domains
    ("smtp email info", "GET", "/smtp/emails/{smtp_id}", {}, 404),
    ("smtp emails by their recipient", "GET", "/smtp/emails", {"params": {"recipient": "{email}"}}, None),
    ("smtp unsubscribe remove", "DELETE", "/smtp/unsubscribe", {"json": {"emails": ["{unsubscribed}"]}}, None),
    ("smtp unsubscribe add the same address", "POST", "/smtp/unsubscribe",
     {"json": {"emails": [{"email": "{unsubscribed}", "comment": "mine"}]}}, None),
    ("smtp domain code", "GET", "/smtp/domains/{domain_email}", {}, 404),
    ("smtp domain verify", "POST", "/smtp/domains/{domain_email}", {"json": {"code": "0123456789"}}, 404),
    ("smtp domain add the same domain", "POST", "/smtp/domains", {"json": {"email": "{domain_email}"}}, None),
    # ---- segments: another account's segment, in its list and in the caller's
    ("segments of their list", "GET", "/addressbooks/{book}/segments", {}, 213),
    ("segment in their list", "POST", "/addressbooks/{book}/segments",
     {"json": {"name": "S", "filter": {"variable_name": "a", "conditions": [{"condition": "equal", "value": 1}]}}}, 213),
    ("their segment", "GET", "/addressbooks/{book}/segments/{segment}", {}, 213),
    ("their segment count", "GET", "/addressbooks/{book}/segments/{segment}/count", {}, 213),
    ("their segment delete", "DELETE", "/addressbooks/{book}/segments/{segment}", {}, 213),
    ("their segment in my list", "GET", "/addressbooks/{my_book}/segments/{segment}", {}, 703),
    ("their segment count in my list", "GET", "/addressbooks/{my_book}/segments/{segment}/count", {}, 703),
    ("their segment delete in my list", "DELETE", "/addressbooks/{my_book}/segments/{segment}", {}, 703),
    ("campaign to their segment", "POST", "/campaigns",
     {"json": {"sender_name": "Me", "sender_email": "{my_sender}", "subject": "S", "body": b64("<p>x</p>"),
               "segment_id": "{segment}"}}, 703),
    # ---- campaigns: another account's campaign, and its list
    ("campaign info", "GET", "/campaigns/{campaign}", {}, 802),
    ("campaign edit", "PATCH", "/campaigns/{campaign}", {"json": {"name": "Hijacked"}}, 802),
    ("campaign cancel", "DELETE", "/campaigns/{campaign}", {}, 802),
    ("campaign countries", "GET", "/campaigns/{campaign}/countries", {}, 802),
    ("campaign referrals", "GET", "/campaigns/{campaign}/referrals", {}, 802),
    ("campaign email", "GET", "/campaigns/{campaign}/email/{email}", {}, 802),
    ("campaign to their list", "POST", "/campaigns",
     {"json": {"sender_name": "Me", "sender_email": "{my_sender}", "subject": "S", "body": b64("<p>x</p>"),
               "list_id": "{book}"}}, 703),
    # ---- captured mail (ours): a copy id of another account's message
    ("capture message", "GET", "/capture/messages/{smtp_id}", {}, 404),
    ("capture message download", "GET", "/capture/messages/{smtp_id}.eml", {}, 404),
    # ---- another account's webhook id
    ("webhook info", "GET", "/v2/email-service/webhook/{webhook}", {}, 404),
    ("webhook update", "PUT", "/v2/email-service/webhook/{webhook}", {"data": {"url": "https://93.184.215.14/x"}}, 404),
    ("webhook delete", "DELETE", "/v2/email-service/webhook/{webhook}", {}, 404),
    ("webhook secret rotation", "POST", "/v2/email-service/webhook/{webhook}/secret", {}, 404),
    ("webhook delivery log", "GET", "/v2/email-service/webhook/{webhook}/log", {}, 404),
    # ---- another account's web push website, subscriber, push task
    ("push task statistics", "GET", "/push/tasks/{push_task}", {}, 404),
    ("push website info", "GET", "/push/websites/info/{push_site}", {}, 404),
    ("push website code", "GET", "/push/websites/{push_site}/code", {}, 404),
    ("push website variables", "GET", "/push/websites/{push_site}/variables", {}, 404),
    ("push website subscribers", "GET", "/push/websites/{push_site}/subscriptions", {}, 404),
    ("push website subscriber count", "GET", "/push/websites/{push_site}/subscriptions/total", {}, 404),
    ("push subscriber state", "POST", "/push/subscriptions/state", {"json": {"id": "{push_subscription}", "state": 0}},
     404),
    ("push task to their website", "POST", "/push/tasks",
     {"json": {"title": "t", "website_id": "{push_site}", "body": "b", "ttl": 60}}, 404),
]


def test_every_route_that_names_a_record_has_a_case():
    """Generated from the route table: a route with a path parameter, or one that takes a record's
    id or address in its body or query, must have a case above (a new route cannot be forgotten)."""
    from starlette.routing import Route

    from pulsebox.api import endpoint
    from pulsebox.app import ROUTES

    covered = set()
    for _, method, path, _, _ in CASES:
        bare = _PLACEHOLDER.sub("1", path.split("?")[0]).replace("1@", "a@")
        for route in ROUTES:
            if isinstance(route, Route) and method in route.methods and route.path_regex.match(bare):
                covered.add((route.path, method))
                break
    # routes that name no record of anyone (a listing, a new record, the caller's own totals): the
    # listing and uniqueness tests below check them
    own_only = {("/addressbooks", "GET"), ("/addressbooks", "POST"), ("/senders", "GET"), ("/senders", "POST"),
                ("/blacklist", "GET"), ("/template", "POST"), ("/templates", "GET"), ("/templates/{lang}", "GET"),
                ("/balance", "GET"), ("/balance/{currency}", "GET"), ("/user/balance/detail", "GET"),
                ("/oauth/access_token", "POST"), ("/smtp/emails", "POST"), ("/smtp/unsubscribe", "GET"),
                ("/smtp/ips", "GET"), ("/smtp/domains", "GET"), ("/smtp/bounces/day", "GET"),
                ("/capture/messages", "GET"), ("/capture/messages", "DELETE"), ("/campaigns", "GET"),
                ("/v2/email-service/webhook", "GET"), ("/v2/email-service/webhook", "POST"),
                ("/push/tasks", "GET"), ("/push/websites", "GET"), ("/push/websites", "POST"),
                ("/push/websites/total", "GET")}
    routes = {(r.path, m) for r in ROUTES if isinstance(r, Route) and isinstance(r.endpoint, endpoint)
              for m in r.methods - {"HEAD"}}
    assert routes - own_only - covered == set()


@pytest.mark.parametrize(("method", "path", "kwargs", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_other_accounts_id_answers_like_a_missing_one(request, ctx, method, path, kwargs, code):
    # a request that may succeed with a write gets tenants of its own; the others share the module's
    shared = code is not None or method == "GET"
    t = request.getfixturevalue("shared_tenants" if shared else "tenants")
    answers = {}
    # each comparison's "after" (just shown equal to its "before") is the next request's "before"
    other_before = db_state(ctx, t.other.id)
    mine_before = db_state(ctx, t.api.id) if shared else None
    for label, ids in (("never", t.never), ("theirs", t.theirs)):
        kw = {k: fill(v, ids, t.mine) if k in ("json", "params") else v for k, v in kwargs.items()}
        answer = t.api.call(method, fill(path, ids, t.mine), **kw)
        if code is None:
            assert answer.status == 200, (label, answer.json)
        else:
            assert_error(answer, code)
        if shared:  # refused, or a read: the caller's rows are unchanged (and stay so for the next case)
            mine_after = db_state(ctx, t.api.id)
            assert mine_after == mine_before, label
            mine_before = mine_after
        other_after = db_state(ctx, t.other.id)
        assert other_after == other_before, f"{label}: the other account's rows changed"
        other_before = other_after
        answers[label] = neutral(answer, ids)
    assert answers["theirs"] == answers["never"]


def test_other_account_sees_its_data_unchanged(ctx, tenants):
    """After every kind of attempt above, the owner reads back exactly what it wrote."""
    t = tenants
    book = t.theirs.book
    before = {p: t.other.get(p).json for p in (
        "/addressbooks", f"/addressbooks/{book}", f"/addressbooks/{book}/emails", f"/addressbooks/{book}/variables",
        f"/addressbooks/{book}/emails/secret@example.com", "/emails/secret@example.com", "/blacklist", "/senders",
        f"/template/{t.theirs.real_id}", "/templates?owner=me", "/balance", f"/addressbooks/{book}/cost")}
    for _, method, path, kwargs, _ in CASES:
        kw = {k: fill(v, t.theirs, t.mine) if k in ("json", "params") else v for k, v in kwargs.items()}
        t.api.call(method, fill(path, t.theirs, t.mine), **kw)
    after = {p: t.other.get(p).json for p in before}
    assert after == before
    assert after[f"/addressbooks/{book}/emails/secret@example.com"]["variables"] == [
        {"name": "name", "type": "string", "value": "Secret"}, {"name": "age", "type": "number", "value": 41},
        {"name": "since", "type": "date", "value": "2020-01-02"}]
    assert sorted(after["/blacklist"]) == ["hidden@example.com", "secret@example.com"]
    assert after["/senders"][0]["status"] == "Active"


# ---------------------------------------------------------------- listings

def test_listings_show_only_the_callers_rows(ctx, tenants):
    t = tenants
    api = t.api
    assert [b["name"] for b in api.get("/addressbooks").json] == ["My list"]
    assert [b["name"] for b in api.get("/addressbooks", params={"limit": 100, "offset": 0}).json] == ["My list"]
    assert api.get("/addressbooks", params={"offset": 1}).json == []
    assert [c["email"] for c in api.get(f"/addressbooks/{t.mine['book']}/emails").json] == ["mine@example.com"]
    assert api.get(f"/addressbooks/{t.mine['book']}/variables").json == [{"name": "name", "type": "string"}]
    assert api.get("/blacklist").json == []
    assert api.get("/blacklist", params={"limit": 1000, "offset": 0}).json == []
    assert [s["email"] for s in api.get("/senders").json] == ["own@example.com"]
    mine = [t_["real_id"] for t_ in api.get("/templates", params={"owner": "me"}).json]
    assert mine == [t.mine["real_id"]]
    everything = api.get("/templates").json
    assert {x["real_id"] for x in everything if x["owner"] == "me"} == {t.mine["real_id"]}
    assert t.theirs.real_id not in {x["real_id"] for x in everything}
    for lang in ("en", "ru"):
        for owner in (None, "me"):
            params = {"owner": owner} if owner else {}
            listed = api.get(f"/templates/{lang}", params=params).json
            assert t.theirs.real_id not in {x["real_id"] for x in listed}
    assert api.post("/emails", json={"emails": ["secret@example.com", "mine@example.com"]}).json.keys() == \
        {"mine@example.com"}
    # the owner sees its own rows only, too
    assert [b["name"] for b in t.other.get("/addressbooks").json] == ["Their list", "Their second list"]
    assert [s["email"] for s in t.other.get("/senders").json] == ["boss@example.com"]
    assert api.get("/push/websites").json == [] and api.get("/push/websites/total").json == {"total": 0}
    assert api.get("/push/tasks").json == [] and api.get("/push/tasks", params={"website_id": t.theirs.push_site}).json == []
    assert [w["id"] for w in t.other.get("/push/websites").json] == [t.theirs.push_site]


def test_same_address_in_both_accounts_shows_only_own_membership(ctx, tenants):
    t = tenants
    shared = "shared@example.com"
    assert t.other.add_contacts(t.theirs.book, [{"email": shared, "variables": {"name": "Theirs", "age": 9}}]).json \
        == {"result": True}
    assert t.other.post("/blacklist", json={"emails": shared}).json == {"result": True}
    my_book = t.mine["book"]
    assert t.api.add_contacts(my_book, [{"email": shared, "variables": {"name": "Mine"}}]).json == {"result": True}
    info = t.api.get(f"/emails/{shared}").json
    assert info == [{"book_id": my_book, "email": shared, "status": 1, "status_explain": "Active",
                     "variables": [{"name": "name", "type": "string", "value": "Mine"}]}]
    assert [d["list_id"] for d in t.api.get(f"/emails/{shared}/details").json] == [my_book]
    stats = t.api.get(f"/emails/{shared}/campaigns").json
    assert stats["blacklist"] is False and [b["id"] for b in stats["addressbooks"]] == [my_book]
    bulk = t.api.post("/emails/campaigns", json={"emails": [shared]}).json[shared]
    assert bulk["blacklist"] is False and [b["id"] for b in bulk["adressbooks"]] == [my_book]
    # deleting it everywhere deletes it from the caller's books only
    assert t.api.delete(f"/emails/{shared}").json == {"result": True}
    assert t.api.get(f"/emails/{shared}").error_code == 17
    theirs = t.other.get(f"/emails/{shared}").json
    assert [(r["book_id"], r["variables"][0]["value"]) for r in theirs] == [(t.theirs.book, "Theirs")]
    assert t.other.get("/blacklist").json.count(shared) == 1


# ---------------------------------------------------------------- names are per account

def test_names_and_addresses_are_unique_per_account_only(ctx, tenants):
    t = tenants
    api, other = t.api, t.other
    other_before = db_state(ctx, other.id)
    # book names: the other account's name is free for the caller, to create and to rename to
    created = api.post("/addressbooks", json={"bookName": "Their list"})
    assert created.status == 200 and isinstance(created.json["id"], int)
    assert api.put(f"/addressbooks/{t.mine['book']}", json={"name": "Their second list"}).json == {"result": True}
    # template names: the slug is the plain one, not a "-2" that would betray the other's template
    real_id = api.post("/template", json={"name": "Secret Plan", "body": b64("<p>mine</p>"), "lang": "en"}).json["real_id"]
    assert api.get(f"/template/{real_id}").json["name_slug"] == "secret-plan"
    assert api.get("/template/slug/secret-plan").json["real_id"] == real_id
    assert other.get("/template/slug/secret-plan").json["real_id"] == t.theirs.real_id
    # sender addresses and blacklist entries
    assert api.post("/senders", json={"email": "boss@example.com", "name": "Mine"}).json == {"result": True}
    assert api.delete("/senders", json={"email": "boss@example.com"}).json == {"result": True}
    assert api.post("/blacklist", json={"emails": "hidden@example.com"}).json == {"result": True}
    assert api.delete("/blacklist", json={"emails": "hidden@example.com"}).json == {"result": True}
    # contacts and variables: the same address and variable name with another type
    assert api.add_contacts(t.mine["book"], [{"email": "secret@example.com",
                                              "variables": {"age": "not a number", "since": 5}}]).json == \
        {"result": True}
    assert db_state(ctx, other.id) == other_before


# ---------------------------------------------------------------- balance

def _without_clock(detail: dict) -> dict:
    return {section: {k: v for k, v in values.items() if k not in ("finished_time", "end_date")}
            for section, values in detail.items()}


def test_balance_and_plan_usage_are_per_account(ctx, client, tenants):
    t = tenants
    fresh = Api(client, make_account(ctx))
    fresh_book = fresh.new_book("My list")
    fresh.add_contacts(fresh_book, ["mine@example.com"])
    # the other account has money, bonus, emails used and contacts; the caller has none of it
    assert t.api.get("/balance").json == fresh.get("/balance").json == {"currency": "USD", "balance_currency": 0.0}
    assert t.api.get("/balance/USD").json == fresh.get("/balance/USD").json
    mine, clean = t.api.get("/user/balance/detail").json, fresh.get("/user/balance/detail").json
    assert _without_clock(mine) == _without_clock(clean)
    assert mine["balance"] == {"main": "0.00", "bonus": "0.00", "currency": "USD"}
    assert mine["email"]["emails_left"] == 15000 and mine["email"]["current_subscribers"] == 1
    assert t.api.get(f"/addressbooks/{t.mine['book']}/cost").json == fresh.get(f"/addressbooks/{fresh_book}/cost").json
    theirs = t.other.get("/user/balance/detail").json
    assert theirs["balance"] == {"main": "9.36", "bonus": "5.00", "currency": "USD"}
    assert theirs["email"]["emails_left"] == 15000 - 123 and theirs["email"]["current_subscribers"] == 2


# ---------------------------------------------------------------- system templates

def test_system_templates_are_shared_and_read_only(ctx, tenants):
    t = tenants
    system = t.api.get("/templates", params={"owner": "sendpulse"}).json
    assert system and all(x["owner"] == "sendpulse" for x in system)
    assert t.other.get("/templates", params={"owner": "sendpulse"}).json == system
    before = db_state(ctx, t.api.id, t.other.id)
    for entry in system:
        for ref in (entry["real_id"], entry["id"]):
            assert t.api.get(f"/template/{ref}").json == t.other.get(f"/template/{ref}").json
        slug = t.api.get(f"/template/slug/{entry['name_slug']}").json
        assert slug == t.other.get(f"/template/slug/{entry['name_slug']}").json
        assert slug["real_id"] == entry["real_id"] and slug["owner"] == "sendpulse"
        for client_api in (t.api, t.other):
            for verb in ("POST", "PUT"):
                for ref in (entry["real_id"], entry["id"]):
                    answer = client_api.call(verb, f"/template/edit/{ref}",
                                             json={"body": b64("<p>pwned</p>"), "lang": entry["lang"]})
                    assert_error(answer, 800)
    assert db_state(ctx, t.api.id, t.other.id) == before  # includes every system template row
    assert t.api.get("/templates", params={"owner": "sendpulse"}).json == system
    # an account's template with a system template's name keeps the system one reachable for others
    name = system[0]["name"]
    own = t.api.post("/template", json={"name": name, "body": b64("<p>own</p>"), "lang": system[0]["lang"]}).json
    assert t.api.get(f"/template/slug/{system[0]['name_slug']}").json["real_id"] in (own["real_id"],
                                                                                   system[0]["real_id"])
    assert t.other.get(f"/template/slug/{system[0]['name_slug']}").json["real_id"] == system[0]["real_id"]
