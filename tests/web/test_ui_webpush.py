"""The admin UI's web push pages (/ui/push), used as a user would: a website added through the form shows
its snippet (the script tag, the service worker, the appkey and VAPID key the API answers); a browser
subscribed through the public POST /push/subscribe shows on its website's page (keyset-paged, filtered
by status, deactivated with a form); a push campaign made with the form is sent by the worker to a real
push service on loopback (tests/push_service.py) and its page counts what came back. Another account's
ids answer 404, forms without their CSRF token 403, bad input 400 with the API's own message."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator

import pytest
from conftest import Api, make_account
from markupsafe import escape
from push_service import PushService, Subscriber
from starlette.testclient import TestClient
from ui_client import csrf_of, deliver, maildir, sign_in, ui_ctx  # noqa: F401 (fixtures)

from pulsebox.app import build
from pulsebox.context import Context
from pulsebox.models import utcnow
from pulsebox.push import repository as push_repository
from pulsebox.push import schemas as push_schemas
from pulsebox.push import service as push

SITE = "https://shop.example.com"


@pytest.fixture
def push_ctx(ui_ctx) -> Context:  # noqa: ANN001, F811 (the fixture)
    """The push service runs on loopback over http (the operator's setting allows it); no interval."""
    return Context(settings=dataclasses.replace(ui_ctx.settings, push_allow_private=True, push_task_interval=0),
                   db=ui_ctx.db, limiter=ui_ctx.limiter)


@pytest.fixture
def ui(push_ctx) -> Iterator[TestClient]:  # noqa: ANN001
    with TestClient(build(push_ctx), raise_server_exceptions=False, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def service() -> Iterator[PushService]:
    with PushService() as running:
        yield running


def signed_in(ui: TestClient, ctx: Context) -> Api:
    """A new account, signed in to the UI; its API client (the bearer API on the same app)."""
    account = make_account(ctx)
    assert sign_in(ui, account["client_id"], account["client_secret"]).status_code == 303
    return Api(ui, account)


def add_site(ui: TestClient, url: str = SITE) -> int:
    page = ui.get("/ui/push")
    added = ui.post("/ui/push/websites", data={"csrf": csrf_of(page.text), "url": url}, follow_redirects=False)
    assert added.status_code == 303, added.text
    return int(re.fullmatch(r"/ui/push/websites/(\d+)", added.headers["location"])[1])


def subscribe(ui: TestClient, appkey: str, subscriber: Subscriber, **extra) -> int:  # noqa: ANN003
    """As the snippet does: JSON sent as text/plain to the public route."""
    body = {"appkey": appkey, "subscription": subscriber.to_json(), "lang": "en", "browser": "Firefox",
            "os": "Linux", "url": f"{SITE}/", **extra}
    answer = ui.post("/push/subscribe", content=json.dumps(body), headers={"content-type": "text/plain;charset=UTF-8"})
    assert answer.status_code == 200, answer.text
    return answer.json()["id"]


def shown(text: str) -> str:
    """``text`` as the page writes it (autoescaped)."""
    return str(escape(text))


def test_add_a_website_and_see_its_snippet(ui, ctx, push_ctx):
    api = signed_in(ui, ctx)
    assert "No websites yet" in ui.get("/ui/push").text
    site = add_site(ui)
    info = api.get(f"/push/websites/info/{site}").json
    code = api.get(f"/push/websites/{site}/code").json
    page = ui.get(f"/ui/push/websites/{site}")
    assert page.status_code == 200 and f"<h1>{SITE}</h1>" in page.text
    assert info["appkey"] in page.text and info["vapid_public_key"] in page.text
    src = f'{push_ctx.settings.public_url}/push/sdk/{info["appkey"]}.js'
    script = f'<script charset="UTF-8" src="{src}" async></script>'
    assert code["script_code"] == script and f"<code>{shown(script)}</code>" in page.text
    assert f"<code>{shown(code['service_worker_code'])}</code>" in page.text  # the file, to the byte
    assert f"<code>{SITE}/pulsebox-push-worker.js</code>" in page.text  # where the site serves it
    assert "0 active, 0 deactivated, 0 unsubscribed" in page.text
    overview = ui.get("/ui/push").text
    assert f'<a href="/ui/push/websites/{site}">{SITE}</a>' in overview
    for url, message in (("", "url is required"), ("ftp://shop.example.com",
                                                   "url must be an http(s) URL of at most 2000 characters")):
        refused = ui.post("/ui/push/websites", data={"csrf": csrf_of(overview), "url": url})
        assert refused.status_code == 400 and f'id="url-error">{message}</p>' in refused.text
        assert api.post("/push/websites", json={"url": url}).json["message"] == message  # the API's own words
    assert api.get("/push/websites/total").json == {"total": 1}  # the refused ones added nothing


def test_subscribers_show_on_their_websites_page_paged_and_deactivated(ui, ctx, push_ctx, service):
    api = signed_in(ui, ctx)
    site = add_site(ui)
    appkey = api.get(f"/push/websites/info/{site}").json["appkey"]
    ann = subscribe(ui, appkey, service.subscribe(), variables={"name": "Ann", "age": 31})
    page = ui.get(f"/ui/push/websites/{site}").text
    assert "Firefox · Linux" in page and '<span class="tag">name: Ann</span>' in page and "age: 31" in page
    assert "1 active, 0 deactivated" in page and "<li>age <span" in page  # the website's variables
    deactivate = re.search(r'name="subscriber" value="(\d+)">\s*<input type="hidden" name="state" value="(\d)">', page)
    assert deactivate.groups() == (str(ann), "0")
    done = ui.post(f"/ui/push/websites/{site}/subscribers", follow_redirects=False,
                   data={"csrf": csrf_of(page), "subscriber": ann, "state": 0, "status": "all"})
    assert done.status_code == 303 and done.headers["location"] == f"/ui/push/websites/{site}?status=all#subscribers"
    assert api.get(f"/push/websites/{site}/subscriptions").json[0]["status"] == 0
    assert "0 active, 1 deactivated" in ui.get(f"/ui/push/websites/{site}").text
    # 55 more (made by the service as the public route does): 50 a page, newest first, then the rest
    with push_ctx.db.transaction() as conn:
        made = [push.subscribe(conn, push_ctx.settings, push_schemas.subscribe_request(
            {"appkey": appkey, "subscription": service.subscribe().to_json(), "browser": f"Browser{i:02d}"}), "DE")
            for i in range(55)]
    first = ui.get(f"/ui/push/websites/{site}").text
    assert "55 active, 1 deactivated" in first
    browsers = re.compile(r'<td data-label="browser">(Browser\d\d)</td>')
    assert browsers.findall(first) == [f"Browser{i:02d}" for i in range(54, 4, -1)]
    older = re.search(r'href="/ui/push/websites/\d+\?status=all&amp;before=(\d+)#subscribers" rel="next"', first)
    assert int(older[1]) == made[5]
    rest = ui.get(f"/ui/push/websites/{site}", params={"before": older[1]}).text
    assert browsers.findall(rest) == [f"Browser{i:02d}" for i in range(4, -1, -1)]
    assert "Firefox" in rest and 'rel="next"' not in rest
    only = ui.get(f"/ui/push/websites/{site}", params={"status": "0"}).text  # the deactivated ones
    assert "Firefox" in only and "Browser0" not in only
    # an unsubscribed browser's state cannot change: the API's message, on the page
    with push_ctx.db.transaction() as conn:
        push_repository.set_subscription_status(conn, [made[0]], push_schemas.UNSUBSCRIBED, utcnow())
    refused = ui.post(f"/ui/push/websites/{site}/subscribers", data={"csrf": csrf_of(first), "subscriber": made[0],
                                                                     "state": 1})
    assert refused.status_code == 400
    message = api.post("/push/subscriptions/state", json={"id": made[0], "state": 1}).json["message"]
    assert f'id="subscriber-error">{shown(message)}</p>' in refused.text


def test_a_push_campaign_is_sent_and_its_page_counts_what_came_back(ui, ctx, push_ctx, service):
    api = signed_in(ui, ctx)
    site = add_site(ui)
    info = api.get(f"/push/websites/info/{site}").json
    service.expect_vapid_key(info["vapid_public_key"])
    for lang in ("en", "en", "de"):
        subscribe(ui, info["appkey"], service.subscribe(), lang=lang)
    overview = ui.get("/ui/push", params={"website": site})
    assert f'<option value="{site}" selected>' in overview.text
    made = ui.post("/ui/push/tasks", follow_redirects=False, data={
        "csrf": csrf_of(overview.text), "website_id": site, "title": "Sale", "body": "Half price today",
        "link": f"{SITE}/sale", "ttl": "3600", "stretch_time": "0", "send_date": "", "filter_lang": "en"})
    assert made.status_code == 303, made.text
    task = int(re.fullmatch(r"/ui/push/tasks/(\d+)", made.headers["location"])[1])
    page = ui.get(f"/ui/push/tasks/{task}").text
    assert "<h1>Sale</h1>" in page and "waiting for its send date" in page and "languages: en" in page
    deliver(push_ctx)  # the worker: copies the task's subscribers, sends to the push service
    received = service.wait_for(2)
    assert service.rejected == [] and len(received) == 2
    message = json.loads(received[0].payload)
    assert (message["title"], message["body"]) == ("Sale", "Half price today")
    base = push_ctx.settings.public_url
    assert ui.post(message["delivered"].removeprefix(base)).status_code == 204  # the service worker: shown
    assert ui.get(message["click"].removeprefix(base), follow_redirects=False).headers["location"] == f"{SITE}/sale"
    page = ui.get(f"/ui/push/tasks/{task}").text
    figures = dict(re.findall(r'data-label="(\w+)">([\d,]+)<', page))
    assert figures == {"chosen": "2", "queued": "0", "sent": "2", "shown": "1", "clicked": "1", "unsubscribed": "0",
                       "failed": "0", "expired": "0"}
    assert "<dd>sent</dd>" in page and api.get(f"/push/tasks/{task}").json["send"] == "2"
    row = re.search(rf'<a href="/ui/push/tasks/{task}">Sale</a>.*?</tr>', ui.get("/ui/push").text, re.S)[0]
    assert dict(re.findall(r'data-label="(\w+)">([\d,]+)<', row)) == {"sent": "2", "shown": "1", "clicked": "1",
                                                                        "unsubscribed": "0", "failed": "0"}
    assert f'<a href="/ui/push/tasks/{task}">Sale</a>' in ui.get(f"/ui/push/websites/{site}").text


@pytest.mark.parametrize("case", ["title", "ttl", "link", "send_date", "stretch_time", "filter"])
def test_bad_campaign_input_answers_the_form_with_the_apis_message(ui, ctx, case):
    api = signed_in(ui, ctx)
    site = add_site(ui)
    good = {"website_id": str(site), "title": "Sale", "body": "Half price", "ttl": "3600"}
    form, wire = {
        "title": ({"title": ""}, {"title": ""}),
        "ttl": ({"ttl": "0"}, {"ttl": "0"}),
        "link": ({"link": "javascript:alert(1)"}, {"link": "javascript:alert(1)"}),
        "send_date": ({"send_date": "2001-01-01T10:00"}, {"send_date": "2001-01-01 10:00:00"}),
        "stretch_time": ({"stretch_time": "-1"}, {"stretch_time": "-1"}),
        "filter": ({"filter_variable": "plan", "filter_condition": "near", "filter_value": "gold"},
                   {"filter": {"variable_name": "plan", "conditions": [{"condition": "near", "value": "gold"}]}}),
    }[case]
    message = api.post("/push/tasks", json={**good, **wire}).json["message"]
    page = ui.get("/ui/push").text
    answer = ui.post("/ui/push/tasks", data={"csrf": csrf_of(page), **good, **form})
    assert answer.status_code == 400
    assert f'id="{case}-error">{shown(message)}</p>' in answer.text  # next to its field
    assert f'aria-describedby="{case}-error"' in answer.text
    assert ">Half price</textarea>" in answer.text and f'<option value="{site}" selected>' in answer.text  # kept
    assert api.get("/push/tasks").json == []


def test_another_accounts_ids_and_ids_out_of_range_are_404(ui, ctx, service):
    theirs = signed_in(ui, ctx)
    their_site = add_site(ui, "https://theirs.example.com")
    appkey = theirs.get(f"/push/websites/info/{their_site}").json["appkey"]
    their_subscriber = subscribe(ui, appkey, service.subscribe())
    their_task = theirs.post("/push/tasks", json={"title": "t", "website_id": their_site, "body": "b",
                                                  "ttl": 60}).json["id"]
    ui.cookies.clear()
    mine = signed_in(ui, ctx)
    my_site = add_site(ui)
    page = ui.get("/ui/push").text
    assert "theirs.example.com" not in page and ">t</a>" not in page
    for path in (f"/ui/push/websites/{their_site}", f"/ui/push/tasks/{their_task}", "/ui/push/websites/0",
                 f"/ui/push/websites/{2**31}", f"/ui/push/tasks/{2**31}", "/ui/push/tasks/99999999",
                 "/ui/push/websites/x1", f"/ui/push/tasks/{10**30}"):
        answer = ui.get(path)
        assert answer.status_code == 404 and "Not found" in answer.text, path
    csrf = csrf_of(page)
    for site, subscriber in ((their_site, their_subscriber), (my_site, their_subscriber), (2**31, 1)):
        answer = ui.post(f"/ui/push/websites/{site}/subscribers", data={"csrf": csrf, "subscriber": subscriber,
                                                                         "state": 0})
        assert answer.status_code == 404
    assert theirs.get(f"/push/websites/{their_site}/subscriptions").json[0]["status"] == 1
    used = ui.post("/ui/push/tasks", data={"csrf": csrf, "website_id": their_site, "title": "t", "body": "b",
                                           "ttl": "60"})
    assert used.status_code == 404 and 'id="website_id-error">Website not found</p>' in used.text
    assert mine.get("/push/tasks").json == [] and len(theirs.get("/push/tasks").json) == 1


def test_forms_without_their_csrf_token_change_nothing(ui, ctx, service):
    api = signed_in(ui, ctx)
    site = add_site(ui)
    appkey = api.get(f"/push/websites/info/{site}").json["appkey"]
    subscriber = subscribe(ui, appkey, service.subscribe())
    forms = {"/ui/push/websites": {"url": "https://other.example.com"},
             "/ui/push/tasks": {"website_id": site, "title": "t", "body": "b", "ttl": "60"},
             f"/ui/push/websites/{site}/subscribers": {"subscriber": subscriber, "state": 0}}
    for path, fields in forms.items():
        assert ui.post(path, data=fields, follow_redirects=False).status_code == 403
        assert ui.post(path, data={**fields, "csrf": "guess"}, follow_redirects=False).status_code == 403
    assert api.get("/push/websites/total").json == {"total": 1} and api.get("/push/tasks").json == []
    assert api.get(f"/push/websites/{site}/subscriptions").json[0]["status"] == 1
    ui.cookies.clear()
    for path in ("/ui/push", f"/ui/push/websites/{site}"):
        assert ui.get(path, follow_redirects=False).headers["location"] == "/ui/signin"
