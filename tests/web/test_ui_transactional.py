"""The admin UI's pages of the SMTP service: the transactional log (/ui/log: the messages POST /smtp/emails
accepted, newest first, filtered as GET /smtp/emails and by outcome and subject words, keyset paged) with a
message's page (each copy to, cc and bcc with its outcome, the server's answer, the opens and clicks made
through its real tracking links, and its captured copy), and the SMTP unsubscribe list (/ui/unsubscribes:
added to with a comment, searched, removed from, paged by keyset). Another account's rows are missing."""

from __future__ import annotations

import re

import pytest
from conftest import Api, b64, make_account
from starlette.testclient import TestClient
from ui_client import browser, csrf_of, deliver, maildir, sign_in, ui_ctx  # noqa: F401 (fixtures)

from pulsebox.app import build
from pulsebox.delivery.message import Address, Mail
from pulsebox.models import utcnow
from pulsebox.outbox import service as outbox
from pulsebox.smtp import schemas as smtp_schemas
from pulsebox.smtp import service as smtp

CHROME = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
          "Safari/537.36")
HTML = "<p>Hi <a href='https://shop.example.com/order/42'>your order</a></p>"


@pytest.fixture
def signed_in(browser, ctx) -> Api:
    """An account signed in to ``browser``, and its API client (over the same app)."""
    account = make_account(ctx)
    assert sign_in(browser, account["client_id"], account["client_secret"]).status_code == 303
    return Api(browser, account)


def send(api: Api, subject: str = "Hello", sender: str = "shop@example.com", **people) -> str:  # noqa: ANN003
    email = {"subject": subject, "from": {"name": "Shop", "email": sender}, "html": b64(HTML), **people}
    answer = api.post("/smtp/emails", json={"email": {"to": [{"email": "ann@example.com"}], **email}})
    assert answer.status == 200, answer.json
    return answer.json["id"]


def log_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<a href="/ui/log/(\d+)">', page)]


def test_a_message_shows_each_copy_with_its_opens_and_clicks_made_through_real_links(browser, ui_ctx, signed_in):
    api = signed_in
    send(api, "Your order 42", to=[{"email": "ann@example.com"}], cc=[{"email": "cc@example.com"}],
         bcc=[{"email": "bcc@example.com"}])
    listed = browser.get("/ui/log").text
    (message_id,) = log_ids(listed)
    assert "Your order 42" in listed and "and 2 more" in listed
    queued = browser.get(f"/ui/log/{message_id}").text
    roles = dict(re.findall(r'>([\w.]+@example\.com)</a>\s*<span class="tag">(\w+)</span>', queued))
    assert roles == {"ann@example.com": "to", "cc@example.com": "cc", "bcc@example.com": "bcc"}
    assert queued.count('<span class="tag status-queued">queued</span>') == 3

    deliver(ui_ctx)
    inbox = browser.get("/ui/inbox/messages.json").json()
    ann = next(m["id"] for m in inbox if m["to"] == "ann@example.com")
    sent_html = browser.get(f"/ui/inbox/{ann}/html").text
    with TestClient(build(ui_ctx), client=("198.51.100.7", 4000), follow_redirects=False) as reader:
        pixel = reader.get(re.search(r"/t/o/[0-9a-f.]+", sent_html)[0], headers={"User-Agent": CHROME})
        click = reader.get(re.search(r"/t/c/[0-9a-f.]+", sent_html)[0], headers={"User-Agent": CHROME})
    assert pixel.status_code == 200 and pixel.headers["content-type"] == "image/gif"
    assert click.status_code == 302 and click.headers["location"] == "https://shop.example.com/order/42"

    page = browser.get(f"/ui/log/{message_id}").text
    copies = {m[0]: m[1] for m in re.findall(r'>([\w.]+@example\.com)</a>(.*?)(?=<section class="copy"|</main>)',
                                             page, re.S)}
    ann_copy = copies["ann@example.com"]
    assert '<span class="tag">to</span>' in ann_copy  # the roles read back from the captured copy's headers
    assert '<span class="tag">cc</span>' in copies["cc@example.com"]
    assert '<span class="tag">bcc</span>' in copies["bcc@example.com"]
    assert "status-sent" in ann_copy and "250 2.0.0 captured as" in ann_copy
    assert "Opens (1)" in ann_copy and "Clicks (1)" in ann_copy and "198.51.100.7" in ann_copy
    assert "https://shop.example.com/order/42" in ann_copy and "Chrome" in ann_copy and "Linux" in ann_copy
    assert f'href="/ui/inbox/{ann}"' in ann_copy and 'href="/ui/contacts/ann@example.com"' in page
    assert "Opens (0)" in copies["cc@example.com"] and "Clicks (0)" in copies["cc@example.com"]
    assert '<span class="tag status-opened">' not in page
    assert log_ids(browser.get("/ui/log", params={"status": "clicked"}).text) == [message_id]
    assert log_ids(browser.get("/ui/log", params={"status": "opened", "recipient": "cc@example.com"}).text) == []


def test_the_logs_filters(browser, ctx, ui_ctx, signed_in):
    api = signed_in
    api.post("/smtp/unsubscribe", json={"emails": [{"email": "gone@example.com", "comment": "asked"}]})
    order = send(api, "Order 1 shipped", to=[{"email": "a@example.com"}])
    news = send(api, "Weekly news", sender="news@example.com", to=[{"email": "b@example.com"}])
    send(api, "Sorry to see you go", to=[{"email": "gone@example.com"}])
    someone = Api(browser, make_account(ctx))
    send(someone, "Their mail", to=[{"email": "a@example.com"}])
    with ctx.db.transaction() as conn:  # a notice (a sender's code) and a campaign's message are not the SMTP API's
        outbox.queue_notice(conn, api.id, to="x@example.com", sender="pulsebox@example.com", subject="Code", text="1")
        campaign, _ = outbox.store(conn, api.id, Mail(sender=Address("news@example.com"), to=[], subject="Campaign",
                                                      html="<p>News</p>"), kind="campaign")
    deliver(ui_ctx)

    def subjects(**query: str) -> list[str]:
        page = browser.get("/ui/log", params=query)
        assert page.status_code == 200, page.text
        return re.findall(r'<a href="/ui/log/\d+">([^<]+)</a>', page.text)

    assert subjects() == ["Sorry to see you go", "Weekly news", "Order 1 shipped"]
    assert subjects(recipient="A@example.com") == ["Order 1 shipped"]
    assert subjects(sender="news@example.com") == ["Weekly news"]
    assert subjects(q="WEEKLY") == ["Weekly news"] and subjects(q="order shipped") == ["Order 1 shipped"]
    assert subjects(status="suppressed") == ["Sorry to see you go"]
    assert subjects(status="sent") == ["Weekly news", "Order 1 shipped"] and subjects(status="queued") == []
    today = utcnow().strftime("%Y-%m-%d")
    assert len(subjects(**{"from": today, "to": today})) == 3
    assert subjects(to="2001-01-01") == [] and subjects(**{"from": "2999-01-01"}) == []
    assert subjects(recipient="b@example.com", status="sent", sender="news@example.com") == ["Weekly news"]
    bad_date = browser.get("/ui/log", params={"from": "yesterday"})
    assert bad_date.status_code == 400 and "Incorrect date" in bad_date.text and 'id="from-error"' in bad_date.text
    bad_status = browser.get("/ui/log", params={"status": "lost"})
    assert bad_status.status_code == 400 and "status must be one of" in bad_status.text
    assert browser.get("/ui/log", params={"before": "x"}).status_code == 400
    for field in ("recipient", "sender", "q"):
        nul = browser.get("/ui/log", params={field: "a\x00b"})
        assert nul.status_code == 400 and "Text must not contain NUL characters" in nul.text, field
    assert len(subjects(**{"from": "0001-01-01", "to": "9999-12-31"})) == 3  # the calendar's ends bound nothing
    with ctx.db.transaction(write=False) as conn:
        mine = {c[0]["message_id"] for c in smtp.list_emails(conn, api.id, limit=10, offset=0, since=None, until=None,
                                                               sender=None, recipient=None)}
        [theirs] = {c[0]["message_id"] for c in smtp.list_emails(conn, someone.id, limit=10, offset=0, since=None,
                                                                   until=None, sender=None, recipient=None)}
    assert set(log_ids(browser.get("/ui/log").text)) == mine and order and news
    assert browser.get(f"/ui/log/{theirs}").status_code == 404
    assert browser.get(f"/ui/log/{campaign}").status_code == 404


def test_the_log_pages_by_keyset_and_a_sparse_filter_goes_on_searching(browser, ctx, signed_in, monkeypatch):
    api = signed_in
    with ctx.db.transaction() as conn:
        for i in range(57):
            request = smtp_schemas.send_request({"email": {
                "subject": f"Receipt {i:02d}", "from": {"email": "shop@example.com"}, "text": "Thanks",
                "to": [{"email": "rare@example.com" if i in (3, 40) else f"r{i}@example.com"}]}})
            smtp.accept(conn, api.id, request, ctx.settings)
    first = browser.get("/ui/log").text
    assert len(log_ids(first)) == 50 and "Receipt 56" in first and "Receipt 07" in first and "Receipt 06" not in first
    before = re.search(r'before=(\d+)" rel="next"', first)[1]
    second = browser.get("/ui/log", params={"before": before}).text
    assert len(log_ids(second)) == 7 and "Receipt 00" in second and 'rel="next"' not in second

    monkeypatch.setattr(outbox, "LOG_SCAN", 20)  # a page looks at 20 messages at most
    found, query, pages = [], {"q": "receipt 03"}, 0
    while query is not None:
        page = browser.get("/ui/log", params=query).text
        found += re.findall(r'<a href="/ui/log/\d+">([^<]+)</a>', page)
        following = re.search(r'href="/ui/log\?q=receipt\+03&amp;before=(\d+)" rel="next"', page)
        query = {"q": "receipt 03", "before": following[1]} if following else None
        pages += 1
    assert found == ["Receipt 03"] and pages == 3  # 57 messages, 20 a look
    assert re.findall(r'<a href="/ui/log/\d+">([^<]+)</a>', browser.get("/ui/log", params={
        "recipient": "rare@example.com"}).text) == ["Receipt 40", "Receipt 03"]


def test_the_unsubscribe_list_added_to_searched_paged_and_removed_from(browser, ctx, signed_in):
    api = signed_in
    page = browser.get("/ui/unsubscribes")
    assert page.status_code == 200 and "No addresses" in page.text
    csrf = csrf_of(page.text)
    added = browser.post("/ui/unsubscribes", data={"csrf": csrf, "emails": "A@example.com,\nb@example.com",
                                                   "comment": "asked by phone"}, follow_redirects=False)
    assert added.status_code == 303
    listed = browser.get("/ui/unsubscribes").text
    assert 'href="/ui/contacts/a@example.com">a@example.com</a></td><td>asked by phone</td>' in listed
    assert 'href="/ui/contacts/b@example.com"' in listed
    assert sorted((e["email"], e["comment"]) for e in api.get("/smtp/unsubscribe").json) == [
        ("a@example.com", "asked by phone"), ("b@example.com", "asked by phone")]

    one_bad = browser.post("/ui/unsubscribes", data={"csrf": csrf, "emails": "c@example.com not-an-address"})
    assert one_bad.status_code == 400 and "Email address syntax error" in one_bad.text
    assert 'aria-describedby="emails-error"' in one_bad.text and "not-an-address" in one_bad.text
    empty = browser.post("/ui/unsubscribes", data={"csrf": csrf, "emails": " "})
    assert empty.status_code == 400 and "Email address not specified" in empty.text
    long = browser.post("/ui/unsubscribes", data={"csrf": csrf, "emails": "d@example.com", "comment": "x" * 1001})
    assert long.status_code == 400 and "comment must be at most 1000 characters" in long.text
    nul = browser.post("/ui/unsubscribes", data={"csrf": csrf, "emails": "d@example.com", "comment": "a\x00b"})
    assert nul.status_code == 400 and "Text must not contain NUL characters" in nul.text
    assert browser.post("/ui/unsubscribes", data={"emails": "e@example.com"}).status_code == 403
    assert len(api.get("/smtp/unsubscribe").json) == 2  # none of those wrote anything

    found = browser.get("/ui/unsubscribes", params={"email": "B@Example.com"}).text
    assert "b@example.com</a>" in found and "a@example.com</a>" not in found
    assert "z@example.com is not on the list" in browser.get("/ui/unsubscribes", params={"email": "z@example.com"}).text
    bad = browser.get("/ui/unsubscribes", params={"email": "not an address"})
    assert bad.status_code == 400 and "Email address syntax error" in bad.text
    assert browser.get("/ui/unsubscribes", params={"before": "yesterday a@example.com"}).status_code == 400

    assert browser.post("/ui/unsubscribes/remove", data={"email": "a@example.com"}).status_code == 403
    removed = browser.post("/ui/unsubscribes/remove", data={"csrf": csrf, "email": "a@example.com"},
                           follow_redirects=False)
    assert removed.status_code == 303 and [e["email"] for e in api.get("/smtp/unsubscribe").json] == ["b@example.com"]

    with ctx.db.transaction() as conn:
        smtp.add_unsubscribes(conn, api.id, [(f"u{i:02d}@example.com", "") for i in range(55)])
    someone = Api(browser, make_account(ctx))
    someone.post("/smtp/unsubscribe", json={"emails": ["theirs@example.com"]})
    first = browser.get("/ui/unsubscribes").text
    assert first.count('class="danger"') == 50
    before = re.search(r'href="/ui/unsubscribes\?before=([^"]+)" rel="next"', first)[1]
    second = browser.get(f"/ui/unsubscribes?before={before}").text
    shown = re.findall(r">([\w.]+@example\.com)</a>", first + second)
    assert sorted(shown) == sorted([f"u{i:02d}@example.com" for i in range(55)] + ["b@example.com"])
    assert 'rel="next"' not in second and "theirs@example.com" not in first + second
    assert "theirs@example.com is not on the list" in browser.get("/ui/unsubscribes", params={
        "email": "theirs@example.com"}).text


def test_message_ids_out_of_range_or_missing_are_404(browser, signed_in):
    for n in ("9223372036854775808", "99999999999999999999999", "0", "-1", "1e3", "12345678901"):
        assert browser.get(f"/ui/log/{n}").status_code == 404, n


def test_the_pages_need_a_session(ui_ctx):
    with TestClient(build(ui_ctx)) as stranger:
        for path in ("/ui/log", "/ui/log/1", "/ui/unsubscribes"):
            assert stranger.get(path, follow_redirects=False).headers["location"] == "/ui/signin"
        for path in ("/ui/unsubscribes", "/ui/unsubscribes/remove"):
            assert stranger.post(path, data={"emails": "a@example.com", "email": "a@example.com"},
                                 follow_redirects=False).headers["location"] == "/ui/signin"
