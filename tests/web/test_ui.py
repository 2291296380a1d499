"""The admin UI (/ui): sign-in (API credentials or the UI password), server-side sessions with their
cookie flags, CSRF on every form, limited sign-in attempts, and the captured inbox (an account sees
only its own mail; the message's HTML is shown sandboxed, remote images off unless asked)."""

from __future__ import annotations

import dataclasses
import re

import pytest
from capture.test_capture_api import capture
from conftest import drain, make_account
from starlette.testclient import TestClient
from ui_client import browser, csrf_of, deliver, maildir, name_of, sign_in, ui_ctx  # noqa: F401 (fixtures)

from pulsebox.accounts import service as accounts
from pulsebox.addressbooks import service as books
from pulsebox.app import build
from pulsebox.campaigns import service as campaigns
from pulsebox.context import Context
from pulsebox.web import pages
from pulsebox.web import service as web_service

HTML = "<p>Hello <a href='https://shop.example.com/order'>your order</a> <img src='https://cdn.example.com/x.png'></p>"


def test_sign_in_with_api_credentials_then_out(browser, ctx):
    account = make_account(ctx)
    assert browser.get("/ui", follow_redirects=False).headers["location"] == "/ui/signin"
    assert browser.get("/ui/inbox", follow_redirects=False).headers["location"] == "/ui/signin"
    answer = sign_in(browser, account["client_id"], account["client_secret"])
    assert answer.status_code == 303 and answer.headers["location"] == "/ui"
    cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and v.startswith("pulsebox_ui="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/ui" in cookie
    page = browser.get("/ui/inbox")
    assert page.status_code == 200 and name_of(ctx, account) in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    signed_out = browser.post("/ui/signout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert signed_out.headers["location"] == "/ui/signin"
    browser.cookies.set("pulsebox_ui", cookie.split(";")[0].split("=", 1)[1], path="/ui")  # the old token
    assert browser.get("/ui/inbox", follow_redirects=False).headers["location"] == "/ui/signin"


def test_sign_in_with_the_ui_password_and_wrong_secrets_get_one_answer(browser, ctx):
    account = make_account(ctx)
    name = name_of(ctx, account)
    with ctx.db.transaction() as conn:
        accounts.set_ui_password(conn, name, "correct horse battery")
    assert sign_in(browser, name, "correct horse battery").status_code == 303
    browser.cookies.clear()
    wrong = sign_in(browser, name, "wrong password!")
    missing = sign_in(browser, "no-such-account", "wrong password!")
    assert wrong.status_code == missing.status_code == 401
    assert "Wrong account or secret." in wrong.text and "Wrong account or secret." in missing.text
    with ctx.db.transaction() as conn, pytest.raises(accounts.AccountError):
        accounts.set_ui_password(conn, name, "short")


def test_forms_without_their_csrf_token_change_nothing(browser, ctx, ui_ctx, maildir):
    account = make_account(ctx)
    capture(ctx, maildir, account["id"], to="ann@example.com", html=HTML)
    forged = browser.post("/ui/signin", data={"account": account["client_id"], "secret": account["client_secret"]},
                          follow_redirects=False)
    assert forged.status_code == 403 and "pulsebox_ui=" not in forged.headers.get("set-cookie", "")
    sign_in(browser, account["client_id"], account["client_secret"])
    for path in ("/ui/inbox/clear", "/ui/signout"):
        assert browser.post(path, data={"csrf": "guess"}, follow_redirects=False).status_code == 403
        assert browser.post(path, follow_redirects=False).status_code == 403
    assert "ann@example.com" in browser.get("/ui/inbox").text  # not cleared, still signed in


def test_sign_in_attempts_are_limited_per_address(ctx, maildir):
    settings = dataclasses.replace(ctx.settings, mail_url=f"capture://{maildir}")
    limited = Context(settings=settings, db=ctx.db, limiter=ctx.limiter)
    with TestClient(build(limited), raise_server_exceptions=False, client=("198.51.100.91", 4000)) as client:
        answers = [sign_in(client, "nobody", "nothing at all").status_code for _ in range(12)]
    assert answers[:10] == [401] * 10 and answers[10:] == [429, 429]


def test_the_inbox_shows_the_accounts_own_mail_and_a_message_safely(browser, ctx, ui_ctx, maildir):
    mine, theirs = make_account(ctx), make_account(ctx)
    own, _ = capture(ctx, maildir, mine["id"], to="ann@example.com", subject="Your order", html=HTML)
    other, _ = capture(ctx, maildir, theirs["id"], to="bob@example.com", subject="Secret")
    sign_in(browser, mine["client_id"], mine["client_secret"])
    page = browser.get("/ui/inbox").text
    assert "Your order" in page and "Secret" not in page
    rows = browser.get("/ui/inbox/messages.json").json()
    assert [r["id"] for r in rows] == [own]
    assert browser.get("/ui/inbox/messages.json", params={"q": "bob@example.com"}).json() == []
    message = browser.get(f"/ui/inbox/{own}")
    assert message.status_code == 200 and "https://shop.example.com/order" in message.text
    assert "Remote images are blocked" in message.text
    html = browser.get(f"/ui/inbox/{own}/html")
    policy = html.headers["content-security-policy"]
    assert html.text.strip() == HTML
    assert policy.startswith("sandbox") and "img-src data:" in policy and "script-src" not in policy
    assert "img-src * data:" in browser.get(f"/ui/inbox/{own}/html", params={"images": "1"}).headers[
        "content-security-policy"]
    assert browser.get(f"/ui/inbox/{own}/raw").content.startswith(b"From: Shop")
    for path in (f"/ui/inbox/{other}", f"/ui/inbox/{other}/html", f"/ui/inbox/{other}/raw", "/ui/inbox/99999999"):
        assert browser.get(path).status_code == 404
    cleared = browser.post("/ui/inbox/clear", data={"csrf": csrf_of(page)}, follow_redirects=False)
    assert cleared.status_code == 303 and browser.get("/ui/inbox/messages.json").json() == []


def test_the_dashboard_counts_the_accounts_mail_by_day(browser, ctx, maildir):
    mine, theirs = make_account(ctx), make_account(ctx)
    for to in ("a@example.com", "b@example.com"):
        capture(ctx, maildir, mine["id"], to=to)
    capture(ctx, maildir, mine["id"], to="c@example.com", stored=False)  # refused: sent, not delivered
    capture(ctx, maildir, theirs["id"], to="d@example.com")
    sign_in(browser, mine["client_id"], mine["client_secret"])
    page = browser.get("/ui")
    assert page.status_code == 200 and "<h1>Dashboard</h1>" in page.text
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th>(.*?)</tr>', page.text, re.S)
    assert [label for label, _ in rows] == ["1 day", "7 days", "30 days"]
    for _, cells in rows:
        figures = dict(re.findall(r'data-label="(\w+)">([\d,]+)<', cells))
        assert figures == {"sent": "3", "delivered": "2", "opened": "0", "clicked": "0", "bounced": "0",
                           "complained": "0"}, figures
    assert page.text.count("<rect class=\"sent\"") == 30


def test_lists_create_rename_delete_and_contacts_paged_by_keyset(browser, ctx, api):
    """``api`` is another account of the same server: its list is missing here."""
    account = make_account(ctx)
    sign_in(browser, account["client_id"], account["client_secret"])
    csrf = csrf_of(browser.get("/ui/lists").text)
    made = browser.post("/ui/lists", data={"csrf": csrf, "name": "Customers"}, follow_redirects=False)
    assert made.status_code == 303
    book_id = int(made.headers["location"].rsplit("/", 1)[1])
    taken = browser.post("/ui/lists", data={"csrf": csrf, "name": "Customers"})
    assert taken.status_code == 400 and "already exists" in taken.text and 'aria-invalid="true"' in taken.text
    assert browser.post("/ui/lists", data={"name": "No token"}).status_code == 403

    emails = [(f"c{i:03d}@example.com", {"plan": "gold" if i % 10 == 0 else "free"}, None) for i in range(120)]
    with ctx.db.transaction() as conn:
        books.add_contacts(conn, account["id"], book_id, emails)
    first = browser.get(f"/ui/lists/{book_id}").text
    assert "c000@example.com" in first and "c049@example.com" in first and "c050@example.com" not in first
    after = re.search(r'href="/ui/lists/\d+\?after=(\d+)" rel="next"', first)[1]
    second = browser.get(f"/ui/lists/{book_id}", params={"after": after}).text
    assert "c050@example.com" in second and "c000@example.com" not in second
    third = browser.get(f"/ui/lists/{book_id}", params={"after": re.search(r'after=(\d+)" rel="next"', second)[1]}).text
    assert "c119@example.com" in third and 'rel="next"' not in third
    found = browser.get(f"/ui/lists/{book_id}", params={"email": "C007@example.com"}).text
    assert found.count("@example.com</td>") == 1 and "c007@example.com" in found
    gold = browser.get(f"/ui/lists/{book_id}", params={"variable": "plan", "value": "gold"}).text
    assert gold.count("@example.com</td>") == 12

    renamed = browser.post(f"/ui/lists/{book_id}/rename", data={"csrf": csrf, "name": "Buyers"}, follow_redirects=False)
    assert renamed.status_code == 303 and "<h1>Buyers</h1>" in browser.get(f"/ui/lists/{book_id}").text
    theirs = api.new_book("Theirs")
    assert browser.get(f"/ui/lists/{theirs}").status_code == 404
    assert browser.post(f"/ui/lists/{theirs}/delete", data={"csrf": csrf}).status_code == 404
    assert browser.post(f"/ui/lists/{theirs}/rename", data={"csrf": csrf, "name": "Mine now"}).status_code == 404
    assert api.get(f"/addressbooks/{theirs}").json[0]["name"] == "Theirs"
    assert browser.post(f"/ui/lists/{book_id}/delete", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    assert browser.get(f"/ui/lists/{book_id}").status_code == 404


def test_a_csv_import_is_mapped_then_run_by_the_worker_with_its_progress(browser, ctx, ui_ctx):
    account = make_account(ctx)
    sign_in(browser, account["client_id"], account["client_secret"])
    with ctx.db.transaction() as conn:
        book_id = books.create_book(conn, account["id"], "Imported")
    page = browser.get(f"/ui/lists/{book_id}").text
    rows = "\r\n".join(f"user{i:04d}@example.com;Name {i};{i}" for i in range(2500))
    data = ("\ufeffE-mail;First name;Age\r\n" + rows + "\r\nnot an address;Nobody;1\r\n").encode()
    upload = {"file": ("people.csv", data, "text/csv")}
    assert browser.post(f"/ui/lists/{book_id}/import", data={"csrf": "x"}, files=upload).status_code == 403
    started = browser.post(f"/ui/lists/{book_id}/import", data={"csrf": csrf_of(page)}, files=upload,
                           follow_redirects=False)
    assert started.status_code == 303
    job_url = started.headers["location"]
    mapping = browser.get(job_url).text
    assert "2,501 rows after the header" in mapping
    assert re.search(r'<option value="email" selected>', mapping) and 'value="First name"' in mapping
    with TestClient(build(ui_ctx)) as theirs:  # another account's browser: a 404
        someone = make_account(ctx)
        assert sign_in(theirs, someone["client_id"], someone["client_secret"]).status_code == 303
        assert theirs.get(job_url).status_code == 404
    form = {"csrf": csrf_of(mapping), "kind_0": "email", "name_0": "", "kind_1": "variable", "name_1": "name",
            "kind_2": "variable", "name_2": "age"}
    bad = browser.post(job_url, data={**form, "kind_0": "variable", "name_0": "mail"})
    assert bad.status_code == 400 and "exactly one column of addresses" in bad.text
    assert browser.post(job_url, data=form, follow_redirects=False).status_code == 303
    assert browser.get(job_url + "/progress").json()["status"] == "queued"
    drain(ctx)
    progress = browser.get(job_url + "/progress").json()
    assert progress == {"status": "done", "total": 2501, "done": 2501, "added": 2500, "skipped": 1, "error": None}
    with ctx.db.transaction(write=False) as conn:
        assert books.total(conn, account["id"], book_id) == 2500
        contact, _ = books.contact(conn, account["id"], book_id, "user0042@example.com")
    assert contact["variables"] == {"name": "Name 42", "age": "42"}
    assert "Done." in browser.get(job_url).text


def test_webhooks_added_listed_logged_rotated_and_deleted(browser, ctx, ui_ctx):
    account = make_account(ctx)
    sign_in(browser, account["client_id"], account["client_secret"])
    csrf = csrf_of(browser.get("/ui/webhooks").text)
    unsafe = browser.post("/ui/webhooks", data={"csrf": csrf, "url": "http://127.0.0.1:9/x", "service": "email",
                                                "email:open": "1"})
    assert unsafe.status_code == 400 and "loopback" in unsafe.text
    none = browser.post("/ui/webhooks", data={"csrf": csrf, "url": "https://93.184.215.14/in", "service": "email"})
    assert none.status_code == 400 and "actions is required" in none.text
    added = browser.post("/ui/webhooks", data={"csrf": csrf, "url": "https://93.184.215.14/in", "service": "email",
                                               "email:open": "1", "email:delivered": "1", "smtp:opened": "1"},
                         follow_redirects=False)
    assert added.status_code == 303
    page = browser.get("/ui/webhooks").text
    ids = re.findall(r'href="/ui/webhooks/(\d+)"', page)
    assert len(ids) == 2 and page.count("https://93.184.215.14/in</a>") == 2  # the email service's two actions
    detail = browser.get(f"/ui/webhooks/{ids[0]}").text
    secret = re.search(r"<code>(whsec_[^<]+)</code>", detail)[1]
    assert "Nothing posted yet." in detail
    assert browser.post(f"/ui/webhooks/{ids[0]}/rotate", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    assert re.search(r"<code>(whsec_[^<]+)</code>", browser.get(f"/ui/webhooks/{ids[0]}").text)[1] != secret
    assert browser.post(f"/ui/webhooks/{ids[0]}/delete", data={"csrf": "no"}).status_code == 403
    assert browser.post(f"/ui/webhooks/{ids[0]}/explode", data={"csrf": csrf}).status_code == 404
    with TestClient(build(ui_ctx)) as theirs:
        someone = make_account(ctx)
        sign_in(theirs, someone["client_id"], someone["client_secret"])
        assert theirs.get(f"/ui/webhooks/{ids[0]}").status_code == 404
        assert theirs.post(f"/ui/webhooks/{ids[0]}/delete",
                           data={"csrf": csrf_of(theirs.get("/ui/webhooks").text)}).status_code == 404
    assert browser.post(f"/ui/webhooks/{ids[0]}/delete", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    assert len(re.findall(r'href="/ui/webhooks/(\d+)"', browser.get("/ui/webhooks").text)) == 1


def test_a_campaign_made_test_sent_sent_and_reported(browser, ctx, ui_ctx):
    account = make_account(ctx)
    sign_in(browser, account["client_id"], account["client_secret"])
    with ctx.db.transaction() as conn:
        book_id = books.create_book(conn, account["id"], "Readers")
        books.add_contacts(conn, account["id"], book_id, [(f"r{i}@example.com", {"name": f"R{i}"}, None)
                                                         for i in range(3)])
    page = browser.get("/ui/campaigns").text
    assert 'id="preview"' in page and "Readers (3 active)" in page
    form = {"csrf": csrf_of(page), "name": "Autumn", "sender_name": "Shop", "sender_email": "shop@example.com",
            "subject": "Hello {{name}}", "list_id": str(book_id),
            "body": "<p>Hi {{name}}, <a href='https://shop.example.com/sale'>the sale</a></p>"}
    test = browser.post("/ui/campaigns", data={**form, "test": "1", "test_to": "me@example.com"})
    assert test.status_code == 200 and "A test was sent to me@example.com." in test.text
    assert browser.post("/ui/campaigns", data={**form, "csrf": "x"}).status_code == 403
    empty = browser.post("/ui/campaigns", data={**form, "subject": ""})
    assert empty.status_code == 400 and 'role="alert"' in empty.text
    made = browser.post("/ui/campaigns", data=form, follow_redirects=False)
    assert made.status_code == 303
    report_url = made.headers["location"]
    dashboard = browser.get("/ui").text  # under way: its progress shown, and kept live
    assert "Autumn" in dashboard and '<meta http-equiv="refresh" content="15">' in dashboard
    deliver(ui_ctx)
    assert 'http-equiv="refresh"' not in browser.get("/ui").text  # nothing under way: a page that stays put
    report = browser.get(report_url).text
    assert "<h1>Autumn</h1>" in report and re.search(r"Sent</th><td class=\"num\">3<", report)
    listed = browser.get("/ui/inbox/messages.json").json()
    assert sorted(m["to"] for m in listed) == ["me@example.com", "r0@example.com", "r1@example.com", "r2@example.com"]
    r1 = next(m["id"] for m in listed if m["to"] == "r1@example.com")
    assert "Subject</th><td>Hello R1</td>" in browser.get(f"/ui/inbox/{r1}").text  # personalised, as sent
    with TestClient(build(ui_ctx)) as theirs:
        someone = make_account(ctx)
        sign_in(theirs, someone["client_id"], someone["client_secret"])
        assert theirs.get(report_url).status_code == 404


def test_a_segment_built_with_its_live_count_then_saved(browser, ctx):
    account = make_account(ctx)
    sign_in(browser, account["client_id"], account["client_secret"])
    with ctx.db.transaction() as conn:
        book_id = books.create_book(conn, account["id"], "Shoppers")
        books.add_contacts(conn, account["id"], book_id, [(f"s{i}@example.com", {"age": i, "city": "Kyiv" if i % 2 else "Lviv"},
                                                           None) for i in range(40)])
    page = browser.get(f"/ui/lists/{book_id}").text
    count = f"/ui/lists/{book_id}/segments/count"
    assert browser.get(count, params={"var_0": "age", "cond_0": "greaterthan", "value_0": "29"}).json() == \
        {"total": 10, "active": 10, "after": None}
    both = {"join": "and", "var_0": "age", "cond_0": "greaterthan", "value_0": "29", "var_1": "city",
            "cond_1": "equal", "value_1": "kyiv"}
    assert browser.get(count, params=both).json()["total"] == 5
    assert browser.get(count, params={**both, "join": "or"}).json()["total"] == 25
    assert browser.get(count, params={"var_0": "age", "cond_0": "near", "value_0": "1"}).status_code == 400
    saved = browser.post(f"/ui/lists/{book_id}", data={})  # not a route: nothing saved by accident
    assert saved.status_code in (404, 405)
    made = browser.post(f"/ui/lists/{book_id}/segments", data={"csrf": csrf_of(page), "segment_name": "Older in Kyiv",
                                                               **both}, follow_redirects=False)
    assert made.status_code == 303
    assert "Older in Kyiv" in browser.get(f"/ui/lists/{book_id}").text
    with ctx.db.transaction(write=False) as conn:
        [segment] = books.segments(conn, account["id"], book_id)
        assert books.count_matching(conn, account["id"], books.segment_rule(conn, account["id"], segment["id"])) == \
            (5, 5)


def test_a_big_lists_live_count_comes_in_parts_that_add_up_to_the_whole(browser, ctx, monkeypatch):
    """Parts of 7 contacts over 40, with values SQL decides and values it leaves to Python (accented text):
    each part counts only its own contacts, and the page's sum is the segment's count."""
    monkeypatch.setattr(web_service, "COUNT_PART", 7)
    account = make_account(ctx)
    sign_in(browser, account["client_id"], account["client_secret"])
    with ctx.db.transaction() as conn:
        book_id = books.create_book(conn, account["id"], "Parts")
        books.add_contacts(conn, account["id"], book_id, [(f"p{i}@example.com", {
            "city": ["Kyiv", "KYÏV", "Lviv", "kyiv"][i % 4]}, None) for i in range(40)])
    query = {"var_0": "city", "cond_0": "equal", "value_0": "kyiv", "after": "0"}
    parts, total = 0, 0
    while True:
        answer = browser.get(f"/ui/lists/{book_id}/segments/count", params=query).json()
        parts, total = parts + 1, total + answer["total"]
        if answer["after"] is None:
            break
        assert int(answer["after"]) > int(query["after"])
        query["after"] = str(answer["after"])
    assert parts == 6
    with ctx.db.transaction(write=False) as conn:
        whole = books.count_matching(conn, account["id"], web_service._rule(conn, account["id"], book_id, "and", [
            {"variable": "city", "condition": "equal", "value": "kyiv"}]))
    assert total == whole[0] and whole[0] >= 20


def test_a_form_too_large_or_with_too_many_fields_changes_nothing(browser, ctx):
    account = make_account(ctx)
    sign_in(browser, account["client_id"], account["client_secret"])
    csrf = csrf_of(browser.get("/ui/lists").text)
    big = browser.post("/ui/lists", data={"csrf": csrf, "name": "Big", "pad": "x" * (3 * 1024 * 1024)})
    many = browser.post("/ui/lists", data={"csrf": csrf, "name": "Many",
                                           **{f"f{i}": "1" for i in range(pages.MAX_FIELDS)}})
    assert big.status_code == many.status_code == 403
    assert "Big" not in browser.get("/ui/lists").text and "Many" not in browser.get("/ui/lists").text
    long_html = "<p>" + "word " * 10_000 + "</p>"  # 50 KB: a real newsletter is read whole
    with ctx.db.transaction() as conn:
        book_id = books.create_book(conn, account["id"], "One")
        books.add_contacts(conn, account["id"], book_id, [("one@example.com", {}, None)])
    made = browser.post("/ui/campaigns", data={"csrf": csrf, "sender_name": "S", "sender_email": "s@example.com",
                                               "subject": "Long", "list_id": str(book_id), "body": long_html},
                        follow_redirects=False)
    assert made.status_code == 303
    campaign_id = int(made.headers["location"].rsplit("/", 1)[1])
    with ctx.db.transaction(write=False) as conn:
        assert len(campaigns.get(conn, account["id"], campaign_id)["body"]) == len(long_html)


def test_senders_added_activated_with_the_mailed_code_and_the_blacklist(browser, ctx, ui_ctx):
    account = make_account(ctx)
    sign_in(browser, account["client_id"], account["client_secret"])
    csrf = csrf_of(browser.get("/ui/senders").text)
    assert browser.post("/ui/senders", data={"csrf": csrf, "email": "news@shop.example", "name": "News"},
                        follow_redirects=False).status_code == 303
    again = browser.post("/ui/senders", data={"csrf": csrf, "email": "news@shop.example", "name": "News"})
    assert again.status_code == 400 and 'role="alert"' in again.text
    assert "waiting for its code" in browser.get("/ui/senders").text
    deliver(ui_ctx)
    [notice] = browser.get("/ui/inbox/messages.json").json()
    code = re.search(r"Activation code: (\w+)", browser.get(f"/ui/inbox/{notice['id']}").text)[1]
    wrong = browser.post("/ui/senders/activate", data={"csrf": csrf, "email": "news@shop.example", "code": "nope"})
    assert wrong.status_code == 400 and "Wrong activation code" in wrong.text
    assert browser.post("/ui/senders/activate", data={"csrf": csrf, "email": "news@shop.example", "code": code},
                        follow_redirects=False).status_code == 303
    assert "waiting for its code" not in browser.get("/ui/senders").text
    assert browser.post("/ui/senders/fly", data={"csrf": csrf, "email": "news@shop.example"}).status_code == 404

    assert browser.post("/ui/blacklist/add", data={"csrf": csrf, "emails": "a@example.com, B@example.com\nnot-one",
                                                   "comment": "asked"}, follow_redirects=False).status_code == 303
    page = browser.get("/ui/blacklist").text
    assert "a@example.com" in page and "b@example.com" in page and "2 addresses" in page
    assert browser.post("/ui/blacklist/add", data={"csrf": csrf, "emails": "nothing here"}).status_code == 400
    browser.post("/ui/blacklist/remove", data={"csrf": csrf, "email": "a@example.com"})
    assert "a@example.com" not in browser.get("/ui/blacklist").text
    assert browser.post("/ui/blacklist/remove", data={"email": "b@example.com"}).status_code == 403


@pytest.mark.parametrize("path", ["/ui/lists/{n}", "/ui/imports/{n}", "/ui/inbox/{n}", "/ui/inbox/{n}/html",
                                  "/ui/inbox/{n}/raw", "/ui/inbox/{n}/attachments/0", "/ui/campaigns/{n}",
                                  "/ui/webhooks/{n}"])
def test_ids_out_of_any_columns_range_are_missing_not_errors(browser, ctx, path):
    account = make_account(ctx)
    sign_in(browser, account["client_id"], account["client_secret"])
    # '²' and '١' are digits to str.isdigit: int() refuses the first (it was a 500) and reads the second as 1
    for n in ("2147483648", "9223372036854775808", "99999999999999999999999", "0", "-1", "1e3", "\u00b2", "\u0661"):
        assert browser.get(path.format(n=n)).status_code == 404, (path, n)
    assert browser.get("/ui/inbox/1/attachments/\u00b2").status_code == 404
    assert browser.get("/ui/lists/1", params={"after": "\u00b2"}).status_code == 404


def test_settings_show_the_plan_and_rotate_the_api_secret_once(browser, ctx, ui_ctx):
    account = make_account(ctx)
    sign_in(browser, account["client_id"], account["client_secret"])
    page = browser.get("/ui/settings").text
    assert account["client_id"] in page and account["client_secret"] not in page and "Emails left" in page
    assert browser.post("/ui/settings/secret", data={"csrf": "no"}).status_code == 403
    rotated = browser.post("/ui/settings/secret", data={"csrf": csrf_of(page)})
    new = re.search(r'<code id="new-secret">([0-9a-f]+)</code>', rotated.text)[1]
    assert new != account["client_secret"] and new not in browser.get("/ui/settings").text  # shown once
    with TestClient(build(ui_ctx)) as api:
        old = api.post("/oauth/access_token", json={"grant_type": "client_credentials",
                                                    "client_id": account["client_id"],
                                                    "client_secret": account["client_secret"]})
        fresh = api.post("/oauth/access_token", json={"grant_type": "client_credentials",
                                                      "client_id": account["client_id"], "client_secret": new})
    assert old.status_code == 401 and fresh.status_code == 200
    assert "Sign out" in browser.get("/ui/settings").text  # the UI session outlives the API secret


def test_a_captured_attachment_downloads_as_opaque_bytes(browser, ctx, ui_ctx, maildir):
    """Its declared type is the sender's word: an HTML attachment must never render on the UI's origin."""
    mine, theirs = make_account(ctx), make_account(ctx)
    page = b"<script>alert(document.cookie)</script>"
    own, _ = capture(ctx, maildir, mine["id"], to="ann@example.com",
                     attachments=(("r\u00e9sum\u00e9.html", "text", "html", page), ("b.pdf", "application", "pdf", b"%PDF")))
    other, _ = capture(ctx, maildir, theirs["id"], to="bob@example.com", attachments=(("x.txt", "text", "plain", b"x"),))
    sign_in(browser, mine["client_id"], mine["client_secret"])
    assert f'href="/ui/inbox/{own}/attachments/1" download>b.pdf</a>' in browser.get(f"/ui/inbox/{own}").text
    first = browser.get(f"/ui/inbox/{own}/attachments/0")
    assert first.status_code == 200 and first.content == page
    assert first.headers["content-type"] == "application/octet-stream"
    assert first.headers["content-disposition"] == ("attachment; filename=\"attachment-0\"; "
                                                    "filename*=UTF-8''r%C3%A9sum%C3%A9.html")
    assert first.headers["content-security-policy"] == "sandbox"
    assert browser.get(f"/ui/inbox/{own}/attachments/1").content == b"%PDF"
    for path in (f"/ui/inbox/{own}/attachments/2", f"/ui/inbox/{own}/attachments/x", f"/ui/inbox/{other}/attachments/0",
                 f"/ui/inbox/{own}/attachments/99999"):
        assert browser.get(path).status_code == 404
