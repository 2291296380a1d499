"""The admin UI's templates pages (/ui/templates): made and edited through forms read as the API reads
POST /template and /template/edit/{id} (a new id on every edit, the same real_id, the language kept, the
API's messages beside the fields), a live preview in a sandboxed frame, system templates read-only (and
copied), newest first by keyset, another account's template missing."""

from __future__ import annotations

import html
import re

import pytest
from conftest import Api, make_account
from starlette.testclient import TestClient
from ui_client import browser, csrf_of, maildir, sign_in, ui_ctx  # noqa: F401 (fixtures)

from pulsebox.app import build
from pulsebox.templates import service as templates


@pytest.fixture
def signed_in(browser, ctx) -> Api:
    """An account signed in to ``browser``, and its API client (over the same app)."""
    account = make_account(ctx)
    assert sign_in(browser, account["client_id"], account["client_secret"]).status_code == 303
    return Api(browser, account)


def test_a_template_made_then_edited_gets_a_new_id_and_keeps_its_real_id(browser, signed_in):
    api = signed_in
    page = browser.get("/ui/templates")
    assert page.status_code == 200 and '<iframe id="preview" class="preview"' in page.text
    assert re.search(r'<iframe id="preview"[^>]* sandbox>', page.text)  # no allow-scripts: nothing runs
    csrf = csrf_of(page.text)
    made = browser.post("/ui/templates", data={"csrf": csrf, "name": "Welcome", "lang": "en",
                                               "body": "<p>Hi {{name}}</p>"}, follow_redirects=False)
    assert made.status_code == 303
    url = made.headers["location"]
    real_id = int(url.rsplit("/", 1)[1])
    first = api.get(f"/template/{real_id}").json
    assert (first["name"], first["lang"], first["owner"]) == ("Welcome", "en", "me")
    assert first["body"] == "<p>Hi {{name}}</p>"
    shown = browser.get(url).text
    assert first["id"] in shown and 'id="body"' in shown and "&lt;p&gt;Hi {{name}}&lt;/p&gt;" in shown

    edited = browser.post(url, data={"csrf": csrf, "lang": "en", "body": "<p>Bye</p>"}, follow_redirects=False)
    assert edited.status_code == 303 and edited.headers["location"] == url
    second = api.get(f"/template/{real_id}").json
    assert second["real_id"] == real_id and second["id"] != first["id"] and second["body"] == "<p>Bye</p>"
    assert f'<code id="template-id">{second["id"]}</code>' in browser.get(url).text
    assert api.get(f"/template/{first['id']}").status == 404  # the old id names nothing now

    other_language = browser.post(url, data={"csrf": csrf, "lang": "ru", "body": "<p>Привет</p>"})
    assert other_language.status_code == 400
    assert "The template language is &#39;en&#39; and cannot be changed" in other_language.text
    assert 'aria-describedby="lang-error"' in other_language.text and "Привет" in other_language.text  # kept
    empty = browser.post(url, data={"csrf": csrf, "lang": "en", "body": "   "})
    assert empty.status_code == 400 and "Empty email message content field" in empty.text
    assert api.get(f"/template/{real_id}").json == second  # nothing changed

    listed = browser.get("/ui/templates").text
    assert listed.index(">Welcome</a>") < listed.index('<span class="tag">system</span>')  # newest first


def test_bad_forms_answer_400_with_the_apis_messages_and_make_nothing(browser, signed_in):
    api = signed_in
    csrf = csrf_of(browser.get("/ui/templates").text)
    cases = [({"name": "A", "lang": "xx", "body": "<p>x</p>"}, "lang", "lang must be one of"),
             ({"name": "A", "lang": "", "body": "<p>x</p>"}, "lang", "lang is required"),
             ({"name": "A", "lang": "en", "body": ""}, "body", "Empty email message content field"),
             ({"name": "N" * 256, "lang": "en", "body": "<p>x</p>"}, "name", "at most 255"),
             ({"name": "A\x00", "lang": "en", "body": "<p>x</p>"}, "name", "printable characters"),
             ({"name": "A", "lang": "en", "body": "<p>\x00</p>"}, "body", "NUL characters")]
    for form, field, message in cases:
        answer = browser.post("/ui/templates", data={"csrf": csrf, **form})
        assert answer.status_code == 400 and message in answer.text, (form, answer.text[-600:])
        assert f'id="{field}-error"' in answer.text and f'aria-describedby="{field}-error"' in answer.text
    assert browser.post("/ui/templates", data={"name": "No token", "lang": "en", "body": "<p>x</p>"}).status_code == 403
    assert api.get("/templates", params={"owner": "me"}).json == []
    assert browser.get("/ui/templates", params={"before": "x1"}).status_code == 400


def test_a_system_template_is_read_only_and_can_be_copied(browser, signed_in):
    api = signed_in
    system = api.get("/templates", params={"owner": "sendpulse"}).json[0]
    url = f"/ui/templates/{system['real_id']}"
    page = browser.get(url)
    assert page.status_code == 200 and "read-only" in page.text
    assert re.search(r'<textarea id="body" rows="\d+" readonly>', page.text)
    assert f'action="{url}"' not in page.text  # no edit form
    refused = browser.post(url, data={"csrf": csrf_of(page.text), "lang": system["lang"], "body": "<p>mine</p>"})
    assert refused.status_code == 400 and "System templates cannot be edited" in refused.text
    assert api.get(f"/template/{system['real_id']}").json["id"] == system["id"]
    copy = {k: html.unescape(v) for k, v in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page.text)}
    made = browser.post("/ui/templates", data={**copy, "name": "My copy"}, follow_redirects=False)
    assert made.status_code == 303
    mine = api.get(f"/template/{made.headers['location'].rsplit('/', 1)[1]}").json
    assert mine["owner"] == "me" and mine["lang"] == system["lang"]
    assert mine["body"] == api.get(f"/template/{system['real_id']}").json["body"]


def test_the_list_is_paged_by_keyset_and_shows_only_the_accounts_own(browser, ctx, ui_ctx, signed_in):
    api = signed_in
    with ctx.db.transaction() as conn:
        for i in range(55):
            templates.create(conn, api.id, f"T{i:02d}", "<p>x</p>", "en")
    first = browser.get("/ui/templates").text
    assert ">T54</a>" in first and ">T05</a>" in first and ">T04</a>" not in first
    before = re.search(r'href="/ui/templates\?before=(\d+)" rel="next"', first)[1]
    second = browser.get("/ui/templates", params={"before": before}).text
    assert ">T04</a>" in second and ">T00</a>" in second and ">T05</a>" not in second
    assert '<span class="tag">system</span>' in second and 'rel="next"' not in second

    someone = make_account(ctx)
    with ctx.db.transaction() as conn:
        theirs = templates.create(conn, someone["id"], "Their secret", "<p>secret</p>", "en")
    assert "Their secret" not in first + second
    assert browser.get(f"/ui/templates/{theirs}").status_code == 404
    csrf = csrf_of(first)
    assert browser.post(f"/ui/templates/{theirs}", data={"csrf": csrf, "lang": "en", "body": "<p>pwned</p>"}
                        ).status_code == 404
    with ctx.db.transaction(write=False) as conn:
        assert templates.get(conn, someone["id"], str(theirs))["body"] == "<p>secret</p>"
    with TestClient(build(ui_ctx)) as stranger:  # not signed in: the sign-in page
        assert stranger.get("/ui/templates", follow_redirects=False).headers["location"] == "/ui/signin"


def test_template_ids_out_of_range_are_missing(browser, signed_in):
    csrf = csrf_of(browser.get("/ui/templates").text)
    for n in ("2147483648", "9223372036854775808", "99999999999999999999999", "0", "-1", "1e3"):
        assert browser.get(f"/ui/templates/{n}").status_code == 404, n
        assert browser.post(f"/ui/templates/{n}", data={"csrf": csrf, "lang": "en", "body": "<p>x</p>"}
                            ).status_code == 404, n
