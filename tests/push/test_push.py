"""Web push: SendPulse's /push routes (document 002), browsers subscribing through the public route,
and push campaigns sent to a real push service on loopback (tests/push_service.py) that checks the
VAPID signature against the website's key and decrypts every payload with the subscriber's keys."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from conftest import Api, make_account
from push_service import PushService, Subscriber
from pulsebox import outbound
from pulsebox.app import build
from pulsebox.context import Context
from pulsebox.models import PushSend, PushSubscription, PushTask, utcnow
from pulsebox.pump import PumpContext
from pulsebox.push import tasks

SITE = "https://shop.example.com"
_POOL = ThreadPoolExecutor(4)  # the worker's sending threads


@pytest.fixture
def push_ctx(ctx) -> Context:  # noqa: ANN001
    """The push service is on loopback over http: the operator's setting allows it; no interval."""
    return Context(settings=dataclasses.replace(ctx.settings, push_allow_private=True, push_task_interval=0),
                   db=ctx.db, limiter=ctx.limiter)


@pytest.fixture
def web(push_ctx) -> Iterator[Api]:  # noqa: ANN001
    with TestClient(build(push_ctx), raise_server_exceptions=False) as test_client:
        yield Api(test_client, make_account(push_ctx))


@pytest.fixture
def service() -> Iterator[PushService]:
    with PushService() as running:
        yield running


def run_pumps(push_ctx: Context) -> int:
    """Rounds of the push pumps until they find nothing to do; how many sends they handled."""
    job = PumpContext(ctx=push_ctx, transport=None, pool=_POOL)  # type: ignore[arg-type]
    handled = 0
    while True:
        copied = tasks.copy_subscribers(job)
        sent = tasks.send_due(job)
        handled += sent
        if not copied and not sent:
            return handled


def add_site(web: Api, url: str = SITE) -> dict:
    answer = web.post("/push/websites", json={"url": url})
    assert answer.status == 200, answer.json
    return answer.json


def subscribe(web: Api, site: dict, subscriber: Subscriber, **extra) -> int:  # noqa: ANN003
    body = {"appkey": site["appkey"], "subscription": subscriber.to_json(), "lang": "en", "browser": "Firefox",
            "os": "Linux", "url": f"{SITE}/", **extra}
    response = web.client.post("/push/subscribe", content=json.dumps(body),
                               headers={"content-type": "text/plain;charset=UTF-8"})
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.json()["result"] is True
    return response.json()["id"]


def create(web: Api, site: dict, **fields) -> int:  # noqa: ANN003
    answer = web.post("/push/tasks", json={"title": "Sale", "website_id": site["id"], "body": "Half price today",
                                           "ttl": "3600", "stretch_time": 0, **fields})
    assert answer.status == 200 and answer.json["result"] is True, answer.json
    return answer.json["id"]


def test_websites_code_and_info_in_the_documented_shapes(web, other, push_ctx):
    site = add_site(web)
    assert site["appkey"] and len(site["vapid_public_key"]) == 87  # 65 bytes, base64url
    [row] = web.get("/push/websites").json
    assert row["id"] == site["id"] and row["url"] == SITE and row["status"] == 1 and len(row["add_date"]) == 19
    assert web.get("/push/websites/total").json == {"total": 1}
    info = web.get(f"/push/websites/info/{site['id']}").json
    assert info["status"] == "active" and info["total_subscribers"] == 0 and info["active_subscribers"] == 0
    assert info["appkey"] == site["appkey"] and info["vapid_public_key"] == site["vapid_public_key"]
    assert "vapid_private" not in json.dumps(info)
    code = web.get(f"/push/websites/{site['id']}/code").json
    base = push_ctx.settings.public_url
    assert code["script_url"] == f"{base}/push/sdk/{site['appkey']}.js"
    assert code["script_code"] == f'<script charset="UTF-8" src="{code["script_url"]}" async></script>'
    assert code["service_worker_path"] == "/pulsebox-push-worker.js"
    assert f'importScripts("{base}/push/sdk/worker.js")' in code["service_worker_code"]
    snippet = web.client.get(f"/push/sdk/{site['appkey']}.js")
    assert snippet.status_code == 200 and snippet.headers["content-type"].startswith("text/javascript")
    assert site["vapid_public_key"] in snippet.text and "__PULSEBOX_CONFIG__" not in snippet.text
    assert web.client.get("/push/sdk/worker.js").text.count("pushsubscriptionchange") >= 1
    assert web.client.get("/push/sdk/nosuchkey.js").status_code == 404
    for path in (f"/push/websites/info/{site['id']}", f"/push/websites/{site['id']}/code",
                 f"/push/websites/{site['id']}/variables", f"/push/websites/{site['id']}/subscriptions",
                 f"/push/websites/{site['id']}/subscriptions/total"):
        theirs = other.get(path)
        assert theirs.status == 404 and theirs.json == other.get(path.replace(str(site["id"]), "987654321")).json


def test_subscribers_are_listed_counted_and_their_variables_kept(web, other, service):
    site = add_site(web)
    one, two = service.subscribe(), service.subscribe()
    first = subscribe(web, site, one, variables={"name": "Ann", "age": 31})
    second = subscribe(web, site, two, lang="de-DE", browser="Chrome")
    assert subscribe(web, site, one, variables={"plan": "gold"}) == first  # the same browser again: updated
    rows = web.get(f"/push/websites/{site['id']}/subscriptions", params={"limit": 0}).json
    assert [r["id"] for r in rows] == [first, second]
    assert rows[0]["browser"] == "Firefox" and rows[0]["status"] == 1 and rows[1]["lang"] == "de-de"
    assert {v["name"]: v["value"] for v in rows[0]["variables"]} == {"name": "Ann", "age": 31, "plan": "gold"}
    assert web.get(f"/push/websites/{site['id']}/subscriptions/total").json == {"total": 2}
    assert sorted((v["name"], v["type"]) for v in web.get(f"/push/websites/{site['id']}/variables").json) == \
        [("age", "number"), ("name", "string"), ("plan", "string")]
    assert web.post("/push/subscriptions/state", json={"id": second, "state": 0}).json == {"result": True}
    assert web.get(f"/push/websites/{site['id']}/subscriptions").json[1]["status"] == 0
    assert other.post("/push/subscriptions/state", json={"id": second, "state": 1}).status == 404
    moved = service.subscribe()  # the browser's subscription changed: the row follows it
    assert subscribe(web, site, moved, old_endpoint=one.endpoint) == first
    assert web.get(f"/push/websites/{site['id']}/subscriptions/total").json == {"total": 2}


def test_a_campaign_reaches_every_active_subscriber_once_signed_and_encrypted(web, push_ctx, service):
    site = add_site(web)
    service.expect_vapid_key(site["vapid_public_key"])
    subscribers = [service.subscribe() for _ in range(3)]
    ids = [subscribe(web, site, s) for s in subscribers]
    web.post("/push/subscriptions/state", json={"id": ids[2], "state": 0})
    task_id = create(web, site, link="https://shop.example.com/sale",
                     buttons=json.dumps([{"text": "Buy", "link": "https://shop.example.com/buy"}]))
    assert run_pumps(push_ctx) == 2
    received = service.wait_for(2)
    assert service.rejected == [] and sorted(r.token for r in received) == sorted(s.token for s in subscribers[:2])
    push = received[0]
    assert push.ttl == 3600 and push.claims["aud"] == service.base_url and push.claims["sub"].startswith("mailto:")
    assert push.urgency == "normal" and push.topic.startswith("pulsebox-send-")
    message = json.loads(push.payload)
    assert (message["title"], message["body"], message["tag"]) == ("Sale", "Half price today", f"pulsebox-{task_id}")
    assert [b["title"] for b in message["buttons"]] == ["Buy"]
    assert run_pumps(push_ctx) == 0 and len(service.received) == 2  # once
    # the service worker reports it shown, then the reader clicks the button
    assert web.client.post(message["delivered"].removeprefix(push_ctx.settings.public_url)).status_code == 204
    click = web.client.get(message["buttons"][0]["click"].removeprefix(push_ctx.settings.public_url),
                           follow_redirects=False)
    assert click.status_code == 302 and click.headers["location"] == "https://shop.example.com/buy"
    main = web.client.get(message["click"].removeprefix(push_ctx.settings.public_url), follow_redirects=False)
    assert main.headers["location"] == "https://shop.example.com/sale"
    stats = web.get(f"/push/tasks/{task_id}").json
    assert stats == {"id": task_id, "message": {"title": "Sale", "text": "Half price today",
                                                "link": "https://shop.example.com/sale"},
                     "website": SITE, "website_id": site["id"], "status": 3, "send": "2", "delivered": 1,
                     "redirect": 1}
    [row] = web.get("/push/tasks", params={"limit": 10}).json
    assert row["id"] == task_id and row["status"] == 3 and row["website_id"] == site["id"]
    forged = message["click"][:-4] + "0000"
    assert web.client.get(forged.removeprefix(push_ctx.settings.public_url)).status_code == 404


@pytest.mark.parametrize(("fields", "chosen"), [
    ({"filter_lang": "de"}, [1]),
    ({"filter_browser": "Chrome,Safari"}, [1, 2]),
    ({"filter_browsers": "Safari"}, [2]),  # the PHP client's example spells it so
    ({"filter_url": json.dumps({"type": "include", "search": "/shoes"})}, [2]),
    ({"filter_url": json.dumps({"type": "exclude", "search": "/shoes"})}, [0, 1]),
    ({"filter": json.dumps({"variable_name": "plan", "operator": "or",
                            "conditions": [{"condition": "equal", "value": "gold"}]})}, [0]),
    ({"filter_region": json.dumps(["UA", "pl"])}, [0, 2]),  # the countries of the subscribers' addresses
])
def test_filters_choose_the_subscribers(web, push_ctx, service, fields, chosen):
    site = add_site(web)
    subscribers = [service.subscribe() for _ in range(3)]
    subscribe(web, site, subscribers[0], lang="en", browser="Firefox", variables={"plan": "gold"})
    subscribe(web, site, subscribers[1], lang="de", browser="Chrome")
    subscribe(web, site, subscribers[2], lang="en", browser="Safari", url=f"{SITE}/shoes/red")
    with push_ctx.db.transaction() as conn:  # as clientinfo.country found them (the test client has no address)
        for subscriber, country in zip(subscribers, ("UA", "DE", "PL"), strict=True):
            conn.execute(update(PushSubscription).where(PushSubscription.endpoint == subscriber.endpoint)
                         .values(country_code=country))
    create(web, site, **fields)
    run_pumps(push_ctx)
    assert sorted(r.token for r in service.received) == sorted(subscribers[i].token for i in chosen)


def test_gone_subscriptions_are_marked_unsubscribed_and_never_sent_again(web, push_ctx, service):
    site = add_site(web)
    kept, gone = service.subscribe(), service.subscribe()
    subscribe(web, site, kept)
    gone_id = subscribe(web, site, gone)
    service.forget(gone.token)
    create(web, site)
    run_pumps(push_ctx)
    assert [r.token for r in service.received] == [kept.token]
    assert {r["id"]: r["status"] for r in web.get(f"/push/websites/{site['id']}/subscriptions").json}[gone_id] == 6
    assert web.post("/push/subscriptions/state", json={"id": gone_id, "state": 1}).status == 400
    create(web, site)
    run_pumps(push_ctx)
    assert service.attempts[gone.token] == 1 and len(service.received) == 2


def test_429_waits_for_retry_after_and_5xx_is_retried(web, push_ctx, service):
    site = add_site(web)
    slow, broken = service.subscribe(), service.subscribe()
    slow_id, broken_id = subscribe(web, site, slow), subscribe(web, site, broken)
    service.answer(slow.token, (429, {"Retry-After": "120"}))
    service.answer(broken.token, 503)
    task_id = create(web, site)
    before = utcnow()
    run_pumps(push_ctx)
    assert service.received == []

    def sends() -> dict:
        with push_ctx.db.transaction(write=False) as conn:
            found = conn.execute(select(PushSend.__table__).where(PushSend.task_id == task_id))
            return {r.subscription_id: r for r in found}

    waiting = sends()
    assert (waiting[slow_id].status, waiting[slow_id].attempts) == ("queued", 0)  # a 429 is no attempt
    assert 119 <= (waiting[slow_id].due_at - before).total_seconds() <= 122
    assert (waiting[broken_id].status, waiting[broken_id].attempts) == ("queued", 1)
    assert tasks.RETRY[0] - 1 <= (waiting[broken_id].due_at - before).total_seconds() <= tasks.RETRY[0] + 2
    assert "503" in waiting[broken_id].error
    with push_ctx.db.transaction() as conn:  # the time comes
        conn.execute(update(PushSend).where(PushSend.task_id == task_id).values(due_at=utcnow()))
    run_pumps(push_ctx)
    assert sorted(r.token for r in service.received) == sorted([slow.token, broken.token])
    assert sorted(s.attempts for s in sends().values()) == [1, 2]
    assert web.get(f"/push/tasks/{task_id}").json["send"] == "2"


def test_send_date_waits_and_stretch_time_spreads_the_sends(web, push_ctx, service):
    site = add_site(web)
    for _ in range(4):
        subscribe(web, site, service.subscribe())
    later = (utcnow() + timedelta(seconds=2)).strftime("%Y-%m-%d %H:%M:%S")
    scheduled = create(web, site, send_date=later)
    assert run_pumps(push_ctx) == 0 and service.received == []
    with push_ctx.db.transaction() as conn:  # the time comes
        conn.execute(update(PushTask).where(PushTask.id == scheduled).values(send_date=utcnow()))
    assert run_pumps(push_ctx) == 4, web.get("/push/tasks").json
    spread = create(web, site, stretch_time=400)
    run_pumps(push_ctx)
    with push_ctx.db.transaction(write=False) as conn:
        dues = sorted(conn.execute(select(PushSend.due_at).where(PushSend.task_id == spread)).scalars())
    gaps = [(b - a).total_seconds() for a, b in zip(dues, dues[1:], strict=False)]
    assert len(dues) == 4 and all(95 <= g <= 105 for g in gaps)  # 400 s over 4 subscribers
    assert len(service.received) == 5  # only the first of the spread task is due now


@pytest.mark.parametrize(("fields", "code"), [
    ({"title": ""}, 8), ({"body": ""}, 8), ({"ttl": ""}, 8), ({"ttl": 86401}, 8), ({"ttl": 0}, 8),
    ({"website_id": 987654321}, 404), ({"link": "javascript:alert(1)"}, 8),
    ({"buttons": [{"text": "a", "link": "https://a.example"}] * 3}, 8),
    ({"send_date": "2001-01-01 00:00:00"}, 799), ({"send_date": "tomorrow"}, 8),
    ({"body": "€" * 1500}, 8),  # 4,500 bytes of UTF-8: cannot fit a push message (RFC 8291: 3,993)
    ({"filter": json.dumps({"variable_name": "a", "conditions": [{"condition": "near", "value": 1}]})}, 8),
])
def test_bad_push_tasks_are_refused_and_store_nothing(web, fields, code):
    site = add_site(web)
    answer = web.post("/push/tasks", json={"title": "t", "website_id": site["id"], "body": "b", "ttl": 60, **fields})
    assert answer.status in (400, 404) and answer.error_code == code, answer.json
    assert web.get("/push/tasks").json == []


def test_one_task_per_website_per_interval(web, ctx):
    site = add_site(web)
    with TestClient(build(ctx), raise_server_exceptions=False) as plain:  # the default 900 s interval
        api = Api(plain, web.account)
        first = api.post("/push/tasks", json={"title": "t", "website_id": site["id"], "body": "b", "ttl": 60})
        assert first.status == 200
        again = api.post("/push/tasks", json={"title": "t", "website_id": site["id"], "body": "b", "ttl": 60})
        assert again.status == 400 and again.error_code == 711 and "15 minutes" in again.json["message"]


def test_subscribe_refuses_what_is_not_a_subscription(web, ctx):
    site = add_site(web)
    good = {"appkey": site["appkey"], "subscription": {"endpoint": "https://push.example.net/x",
                                                        "keys": {"p256dh": "BOr" + "A" * 84, "auth": "AAAAAAAAAAAAAAAAAAAAAA"}}}
    with TestClient(build(ctx), raise_server_exceptions=False) as strict:  # no private endpoints allowed
        for body in ({**good, "appkey": "nope"}, {"appkey": site["appkey"]},
                     {**good, "subscription": {**good["subscription"], "endpoint": "http://127.0.0.1:9/x"}},
                     {**good, "subscription": {**good["subscription"], "keys": {"p256dh": "AAAA", "auth": "AA"}}},
                     "[]"):
            answer = strict.post("/push/subscribe", content=json.dumps(body) if not isinstance(body, str) else body)
            assert 400 <= answer.status_code < 500 and answer.json()["is_error"] is True, answer.text
        preflight = strict.options("/push/subscribe", headers={"Origin": SITE, "Access-Control-Request-Method": "POST"})
        assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == "*"
    assert web.get(f"/push/websites/{site['id']}/subscriptions/total").json == {"total": 0}


def test_without_the_setting_an_http_endpoint_is_not_posted_to(web, push_ctx, ctx, service):
    """Subscribed while the operator allowed private endpoints; the setting was turned off since."""
    site = add_site(web)
    subscribe(web, site, service.subscribe())
    task_id = create(web, site)
    strict = Context(settings=dataclasses.replace(push_ctx.settings, push_allow_private=False), db=ctx.db,
                     limiter=ctx.limiter)
    assert run_pumps(strict) == 1
    assert service.attempts == {} and web.get(f"/push/tasks/{task_id}").json["send"] == "0"
    with ctx.db.transaction(write=False) as conn:
        [(status, error)] = conn.execute(select(PushSend.status, PushSend.error).where(PushSend.task_id == task_id))
    assert status == "failed" and "https" in error


PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")  # 1x1


def test_uploaded_icon_and_image_are_served_at_signed_links(web, push_ctx, service):
    """SendPulse's upload form {name, data} (pysendpulse and the n8n node send it as a JSON string)."""
    site = add_site(web)
    subscribe(web, site, service.subscribe())
    upload = {"name": "logo.png", "data": base64.b64encode(PNG).decode()}
    create(web, site, icon=json.dumps(upload), image={**upload, "data": "data:image/png;base64," + upload["data"]})
    run_pumps(push_ctx)
    message = json.loads(service.wait_for(1)[0].payload)
    base = push_ctx.settings.public_url
    for url in (message["icon"], message["image"]):
        assert url.startswith(f"{base}/t/pp/")
        served = web.client.get(url.removeprefix(base))
        assert served.status_code == 200 and served.content == PNG
        assert served.headers["content-type"] == "image/png" and served.headers["x-content-type-options"] == "nosniff"
    assert message["icon"] != message["image"]
    assert web.client.get(message["icon"].removeprefix(base)[:-3] + "000").status_code == 404  # forged
    for bad in ({"name": "x.svg", "data": base64.b64encode(b"<svg onload=alert(1)>").decode()},
                {"name": "big.png", "data": base64.b64encode(PNG + b"\0" * 210_000).decode()},
                {"name": "x.png", "data": "not base64!"}):
        answer = web.post("/push/tasks", json={"title": "t", "website_id": site["id"], "body": "b", "ttl": 60,
                                               "icon": bad})
        assert answer.status == 400 and answer.error_code == 8, answer.json


@pytest.mark.parametrize(("header", "seconds"), [("120", 120), ("99999", 3600), ("\u00b2", 60), ("\u0661", 60),
                                                 ("soon", 60), ("", 60)])
def test_retry_after_is_seconds_an_http_date_or_a_minute(header, seconds):
    """A push service's Retry-After (RFC 9110 §10.2.3) is its word: '²' is a digit to str.isdigit and an
    error to int(), which stopped the round (now: not a number, so a minute)."""
    answer = outbound.Answer(status=429, latency_ms=1, error=None, body=b"", headers={"retry-after": header})
    assert tasks._retry_after(answer, utcnow()) == seconds
