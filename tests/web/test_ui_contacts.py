"""The admin UI's contacts section, used as a person would: a contact's page after real adds, a campaign
and transactional mail (opened, clicked, unsubscribed, bounced), its two forms, and a list's CSV export
read back with ``csv`` and imported again through the UI's own CSV import."""

from __future__ import annotations

import base64
import csv
import io
import re
from urllib.parse import quote

import pytest
from conftest import Api, drain, make_account
from starlette.testclient import TestClient
from ui_client import browser, csrf_of, deliver, maildir, sign_in, ui_ctx  # noqa: F401 (fixtures)

from pulsebox.app import build
from pulsebox.outbox import service as outbox
from pulsebox.web.contacts import service as contacts

FORMULA = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet may run (OWASP)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def signed_in(client: TestClient, ctx) -> tuple[dict, Api]:
    account = make_account(ctx)
    assert sign_in(client, account["client_id"], account["client_secret"]).status_code == 303
    return account, Api(client, account)


def page_of(email: str) -> str:
    return "/ui/contacts/" + quote(email, safe="")


def copy_of(client: TestClient, to: str, subject: str) -> int:
    """The captured copy to ``to`` of the message ``subject`` (the inbox's JSON)."""
    return next(m["id"] for m in client.get("/ui/inbox/messages.json").json()
                if m["to"] == to and m["subject"] == subject)


def public_links(client: TestClient, copy: int) -> tuple[str, str]:
    """The open pixel and the first tracked link of a captured copy, as paths."""
    html = client.get(f"/ui/inbox/{copy}/html").text
    return re.search(r"/t/o/[^\"' >]+", html)[0], re.search(r"/t/c/[^\"' >]+", html)[0]


def test_a_contacts_page_shows_its_lists_campaigns_mail_and_events(browser, ctx, ui_ctx):
    _, api = signed_in(browser, ctx)
    news, vip = api.new_book("News"), api.new_book("VIP")
    assert api.add_contacts(news, [{"email": "Ann@Example.com", "variables": {"name": "Ann", "phone": "+1 555 0100"}},
                                   {"email": "bob@example.com", "variables": {"name": "Bob"}}]).status == 200
    assert api.add_contacts(vip, [{"email": "ann@example.com", "variables": {"plan": "gold", "age": 42}}]).status == 200
    made = api.post("/campaigns", json={"sender_name": "Shop", "sender_email": "shop@example.com", "name": "Autumn",
                                        "subject": "Autumn sale", "list_id": news,
                                        "body": b64("<p>Hi <a href='https://shop.example.com/sale'>sale</a></p>")})
    assert made.status == 200, made.json
    for subject in ("Your order", "Your invoice"):
        sent = api.post("/smtp/emails", json={"email": {
            "subject": subject, "html": b64("<p><a href='https://shop.example.com/order'>order</a></p>"),
            "from": {"name": "Shop", "email": "shop@example.com"}, "to": [{"email": "ann@example.com"}]}})
        assert sent.status == 200, sent.json
    deliver(ui_ctx)

    campaign_copy = copy_of(browser, "ann@example.com", "Autumn sale")
    pixel, click = public_links(browser, campaign_copy)
    assert browser.get(pixel).status_code == 200
    assert browser.get(click, follow_redirects=False).status_code == 302
    order = copy_of(browser, "ann@example.com", "Your order")
    raw = browser.get(f"/ui/inbox/{order}/raw").text
    unsubscribe = re.search(r"<https?://[^/>]+(/t/u/[^>]+)>", raw)[1]
    assert browser.post(unsubscribe, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    invoice = copy_of(browser, "ann@example.com", "Your invoice")
    with ctx.db.transaction() as conn:
        outbox.record_bounce(conn, outbox.delivery(conn, invoice), kind="hard", status="5.1.1", smtp_code=550,
                             diagnostic="550 5.1.1 no such user", source="dsn")

    page = browser.get(page_of("ANN@example.com"))
    assert page.status_code == 200, page.text
    text = page.text
    assert '<h1 class="address">ann@example.com</h1>' in text
    lists = re.findall(r'<a href="/ui/lists/(\d+)">([^<]+)</a>', text)
    assert sorted(lists) == sorted([(str(news), "News"), (str(vip), "VIP")])
    assert text.count("<td>Active</td>") == 2 and "name: Ann" in text and "plan: gold" in text and "age: 42" in text
    assert "15550100" in text  # the phone, as the API keeps it
    campaign_id = made.json["id"]
    row = re.search(rf'<a href="/ui/campaigns/{campaign_id}">Autumn</a></td>(.*?)</tr>', text, re.S)[1]
    assert re.findall(r'data-label="(\w+)">(\w+)<', row) == [("sent", "yes"), ("opened", "yes"), ("clicked", "yes")]
    assert "On the SMTP unsubscribe list" in text and "Not on the blacklist" in text
    found = re.findall(r"<tr><td>([\d-]+ [\d:]+)</td>\s*<td>([^<]+)</td>\s*<td>(?:<a [^>]+>)?([^<]+)", text)
    assert [at for at, _, _ in found] == sorted((at for at, _, _ in found), reverse=True)  # newest first
    events = [(what, subject) for _, what, subject in found]
    assert len(events) == 7 and ("Hard bounce", "Your invoice") in events and ("Bounced", "Your invoice") in events
    assert ("Unsubscribed", "Your order") in events and ("Clicked", "Autumn sale") in events
    assert ("Opened", "Autumn sale") in events and events.count(("Sent", "Your order")) == 1
    assert events.index(("Clicked", "Autumn sale")) < events.index(("Opened", "Autumn sale")) \
        < events.index(("Sent", "Autumn sale"))
    assert "https://shop.example.com/sale" in text and "5.1.1 550 5.1.1 no such user" in text
    assert "bounce 5.1.1" in text
    message_id = re.search(r'<a href="/ui/log/(\d+)">Your order</a>', text)[1]  # the transactional log's page
    assert browser.get(f"/ui/log/{message_id}").status_code == 200

    listed = browser.get(f"/ui/lists/{news}").text  # the list's rows link to their contact's page
    assert 'href="/ui/contacts/ann%40example.com"' in listed and f'href="/ui/lists/{news}/export.csv"' in listed
    assert browser.get("/ui/contacts/ann%40example.com").status_code == 200


def test_its_forms_change_the_address_and_refuse_what_they_must(browser, ctx, ui_ctx):
    _, api = signed_in(browser, ctx)
    news, vip = api.new_book("News"), api.new_book("VIP")
    api.add_contacts(news, [{"email": "ann@example.com", "variables": {}}])
    api.add_contacts(vip, [{"email": "ann@example.com", "variables": {}}])
    csrf = csrf_of(browser.get(page_of("ann@example.com")).text)
    form = {"csrf": csrf, "email": "ann@example.com", "blacklist": "add"}

    assert browser.post("/ui/contacts/blacklist", data={**form, "csrf": "forged"}).status_code == 403
    no_token = {"email": "ann@example.com", "list_id": str(news)}
    assert browser.post("/ui/contacts/remove", data=no_token).status_code == 403
    assert "Not on the blacklist" in browser.get(page_of("ann@example.com")).text
    assert api.get(f"/addressbooks/{news}/emails/ann@example.com").status == 200

    bad = browser.post("/ui/contacts/blacklist", data={**form, "blacklist": "maybe"})
    assert bad.status_code == 400 and 'role="alert"' in bad.text and "Choose to add" in bad.text
    added = browser.post("/ui/contacts/blacklist", data=form, follow_redirects=False)
    assert added.status_code == 303 and added.headers["location"] == "/ui/contacts/ann@example.com"
    assert "On the blacklist" in browser.get(page_of("ann@example.com")).text
    assert "ann@example.com" in api.get("/blacklist").json
    assert browser.post("/ui/contacts/blacklist", data={**form, "blacklist": "remove"}).status_code == 200
    assert "ann@example.com" not in api.get("/blacklist").json

    theirs = Api(browser, make_account(ctx))
    their_book = theirs.new_book("Theirs")
    theirs.add_contacts(their_book, [{"email": "ann@example.com", "variables": {}}])
    for list_id in (str(their_book), "0", "2147483648", "99999999999999999999", "x", ""):
        refused = browser.post("/ui/contacts/remove", data={"csrf": csrf, "email": "ann@example.com",
                                                            "list_id": list_id})
        assert refused.status_code == 404 and "Mailing list not found" in refused.text, list_id
    assert theirs.get(f"/addressbooks/{their_book}/emails/ann@example.com").status == 200
    unknown = browser.post("/ui/contacts/remove", data={"csrf": csrf, "email": "not an address", "list_id": str(news)})
    assert unknown.status_code == 404

    kept = browser.post("/ui/contacts/remove", data={"csrf": csrf, "email": "ann@example.com", "list_id": str(news)},
                        follow_redirects=False)
    assert kept.status_code == 303 and kept.headers["location"] == "/ui/contacts/ann@example.com"
    assert api.get(f"/addressbooks/{news}/emails/ann@example.com").status == 404
    last = browser.post("/ui/contacts/remove", data={"csrf": csrf, "email": "ann@example.com", "list_id": str(vip)},
                        follow_redirects=False)  # known no more: back to the list
    assert last.status_code == 303 and last.headers["location"] == f"/ui/lists/{vip}"
    assert browser.get(page_of("ann@example.com")).status_code == 404


def test_an_address_the_account_never_had_or_an_invalid_one_is_missing(browser, ctx, ui_ctx):
    _, api = signed_in(browser, ctx)
    theirs = Api(browser, make_account(ctx))
    theirs.add_contacts(theirs.new_book(), [{"email": "secret@example.com", "variables": {"x": "y"}}])
    for path in (page_of("secret@example.com"), page_of("nobody@example.com"), "/ui/contacts/not-an-address",
                 "/ui/contacts/" + "a" * 400 + "@example.com", "/ui/contacts/%00@example.com"):
        answer = browser.get(path)
        assert answer.status_code == 404 and "No such contact." in answer.text, path
    api.post("/blacklist", data={"emails": b64("black@example.com")})
    assert "On the blacklist" in browser.get(page_of("black@example.com")).text  # known through the blacklist alone
    with TestClient(build(ui_ctx)) as anonymous:
        assert anonymous.get(page_of("black@example.com"), follow_redirects=False).headers["location"] == "/ui/signin"
        assert anonymous.get("/ui/lists/1/export.csv", follow_redirects=False).headers["location"] == "/ui/signin"


def exported(client: TestClient, book_id: int, **params: str) -> tuple[list[str], list[list[str]], bytes]:
    answer = client.get(f"/ui/lists/{book_id}/export.csv", params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    name = f"list-{book_id}" + (f"-segment-{params['segment_id']}" if params else "")
    assert answer.headers["content-disposition"] == f'attachment; filename="{name}.csv"'
    assert answer.content.startswith(b"\xef\xbb\xbf")  # UTF-8, said so for spreadsheets
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"), newline="")))
    return rows[0], rows[1:], answer.content


HOSTILE = {"=eq@example.com": {"note": "=HYPERLINK(\"http://evil.example\",\"x\")", "score": -5, "tag": "@handle"},
           "plus@example.com": {"note": "+1+1", "score": 12, "tag": "\tTabbed", "when": "2024-02-29"},
           "quote@example.com": {"note": "'=already quoted", "score": 0.5, "tag": "-dash"},
           "plain@example.com": {"note": "Zoë, \"quoted\",\nsecond line", "score": 7, "tag": "ok",
                                 "when": "2020-01-01"}}


def test_a_list_exports_as_csv_escaped_and_imports_back_the_same(browser, ctx, ui_ctx, monkeypatch):
    monkeypatch.setattr(contacts, "BATCH", 3)  # several batches: each its own read
    _, api = signed_in(browser, ctx)
    source = api.new_book("Source")
    people = [{"email": e, "variables": v} for e, v in HOSTILE.items()]
    people += [{"email": f"p{i}@example.com", "variables": {"note": f"n{i}", "Phone": "380501234567"}}
               for i in range(5)]
    assert api.add_contacts(source, people).status == 200
    api.post(f"/addressbooks/{source}/emails/unsubscribe", json={"emails": ["p0@example.com"]})

    header, rows, data = exported(browser, source)
    assert header == ["email", "phone", "status", "added", "note", "score", "tag", "when"]
    assert len(rows) == 9 and all(len(r) == 8 for r in rows)
    by = {r[0]: r for r in rows}
    assert by["'=eq@example.com"][4:7] == ["'=HYPERLINK(\"http://evil.example\",\"x\")", "'-5", "'@handle"]
    assert by["plus@example.com"][4:] == ["'+1+1", "12", "'\tTabbed", "2024-02-29"]
    assert by["quote@example.com"][4:7] == ["''=already quoted", "0.5", "'-dash"]
    assert by["plain@example.com"][4] == "Zoë, \"quoted\",\nsecond line"
    assert by["p1@example.com"][1:3] == ["380501234567", "Active"] and by["p0@example.com"][2] == "Unsubscribed"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", by["p1@example.com"][3])
    assert not [c for r in [header, *rows] for c in r if c.startswith(FORMULA)]  # nothing a spreadsheet would run

    copy = api.new_book("Copy")
    job, form = upload(browser, copy, data)
    assert [form[f"kind_{i}"] for i in range(8)] == ["email", "phone", "", "", "variable", "variable", "variable",
                                                     "variable"]  # as proposed: the old status and date skipped
    mapped = browser.post(job, data=form, follow_redirects=False)
    assert mapped.status_code == 303, re.findall(r"role=\"alert\"[^>]*>([^<]*)", mapped.text)
    drain(ctx)
    assert browser.get(job + "/progress").json()["added"] == 9

    again_header, again, _ = exported(browser, copy)
    assert again_header == header
    unchanged = [0, 1, 4, 5, 6, 7]  # every column but the status and the date added, which are the new list's
    assert sorted([r[i] for i in unchanged] for r in again) == sorted([r[i] for i in unchanged] for r in rows)
    assert {r[2] for r in again} == {"Active"}
    with ctx.db.transaction(write=False) as conn:
        found = {r["email"]: r["variables"] for r in contacts.books.contacts_after(conn, api.id, copy, 0, 100)}
    assert found["=eq@example.com"]["note"] == "=HYPERLINK(\"http://evil.example\",\"x\")"
    assert found["quote@example.com"]["note"] == "'=already quoted" and found["plus@example.com"]["tag"] == "\tTabbed"


def upload(client: TestClient, book_id: int, data: bytes) -> tuple[str, dict]:
    """Upload a file to the list's CSV import: its mapping page's address, and its form as proposed."""
    page = client.get(f"/ui/lists/{book_id}").text
    started = client.post(f"/ui/lists/{book_id}/import", data={"csrf": csrf_of(page)},
                          files={"file": ("list.csv", data, "text/csv")}, follow_redirects=False)
    assert started.status_code == 303, started.text
    mapping = client.get(started.headers["location"]).text
    form = {"csrf": csrf_of(mapping)}
    for i, kind in enumerate(re.findall(r'<option value="([^"]*)" selected>', mapping)):
        form[f"kind_{i}"] = kind
        form[f"name_{i}"] = re.search(rf'id="name_{i}" name="name_{i}" maxlength="255"\s+value="([^"]*)"', mapping)[1]
    return started.headers["location"], form


@pytest.mark.parametrize("cell", ["=1", "+1", "-1", "@x", "\tx", "\rx", "'=1", "''-x", "plain", "'plain", "", "'"])
def test_a_cell_escaped_then_unescaped_is_itself(cell):
    escaped = contacts.imports.escaped(cell)
    assert not escaped.startswith(FORMULA) and contacts.imports.unescaped(escaped) == cell


def test_a_segment_exports_the_contacts_it_selects_in_the_order_they_were_added(browser, ctx, monkeypatch):
    """SQL decides what it reads exactly and Python the rest (text that is not ASCII, a value of
    another type): the file holds exactly the contacts the segment's own rule selects."""
    monkeypatch.setattr(contacts, "BATCH", 4)  # several batches, each cut where SQL and Python share the work
    _, api = signed_in(browser, ctx)
    book = api.new_book("Cities")
    cities = ["Kyiv", "kyiv", "KYIV", "Київ", "Lviv", "", "Kyiv ", "Odesa", "Kyivska", "київ"]
    people = [{"email": f"c{i}@example.com", "variables": {"city": city, "n": i}} for i, city in enumerate(cities)]
    people.append({"email": "none@example.com", "variables": {"n": 99}})
    assert api.add_contacts(book, people).status == 200
    segment = api.post(f"/addressbooks/{book}/segments", json={"name": "K", "operator": "or", "filters": [
        {"variable_name": "city", "operator": "or", "conditions": [{"condition": "startwith", "value": "kyi"},
                                                                  {"condition": "equal", "value": "КИЇВ"}]},
        {"variable_name": "n", "operator": "and", "conditions": [{"condition": "greaterthan", "value": 98}]}]})
    assert segment.status == 200, segment.json
    segment_id = segment.json["id"]
    with ctx.db.transaction(write=False) as conn:
        rule = contacts.books.segment_rule(conn, api.id, segment_id)
        everyone = contacts.books.contacts_after(conn, api.id, book, 0, 100)
    expected = [r["email"] for r in everyone if rule(r["variables"] or {})]
    assert 4 <= len(expected) < len(everyone)  # a real selection (the rule itself is tests/test_segments.py's)

    _, rows, _ = exported(browser, book, segment_id=str(segment_id))
    assert [r[0] for r in rows] == expected
    _, everything, _ = exported(browser, book)
    assert [r[0] for r in everything] == [r["email"] for r in everyone]  # the order they were added in
    other_list = api.new_book("Other")
    for wrong in (f"/ui/lists/{other_list}/export.csv?segment_id={segment_id}",
                  f"/ui/lists/{book}/export.csv?segment_id=999999"):
        assert browser.get(wrong).status_code == 404, wrong


def test_a_list_of_many_variables_exports_and_imports_back(browser, ctx):
    """An export has a column a variable after its first four; the import takes up to MAX_COLUMNS."""
    _, api = signed_in(browser, ctx)
    source = api.new_book("Wide")
    names = [f"v{i:03}" for i in range(80)]
    people = [{"email": f"w{n}@example.com", "variables": {name: f"{name}-{n}" for name in names}} for n in range(3)]
    assert api.add_contacts(source, people).status == 200
    header, rows, data = exported(browser, source)
    assert header == ["email", "phone", "status", "added", *names] and len(rows) == 3
    copy = api.new_book("Wide copy")
    job, form = upload(browser, copy, data)
    mapped = browser.post(job, data=form, follow_redirects=False)
    assert mapped.status_code == 303, re.findall(r"role=\"alert\"[^>]*>([^<]*)", mapped.text)
    drain(ctx)
    assert browser.get(job + "/progress").json()["added"] == 3
    again_header, again, _ = exported(browser, copy)
    assert again_header == header and sorted(r[4:] for r in again) == sorted(r[4:] for r in rows)
    header_row = ",".join(["email", *(f"c{i}" for i in range(contacts.imports.MAX_COLUMNS))])
    too_wide = f"{header_row}\nx@example.com\n".encode()
    page = browser.get(f"/ui/lists/{copy}").text
    refused = browser.post(f"/ui/lists/{copy}/import", data={"csrf": csrf_of(page)},
                           files={"file": ("wide.csv", too_wide, "text/csv")}, follow_redirects=False)
    assert refused.status_code == 400 and f"1 to {contacts.imports.MAX_COLUMNS} columns" in refused.text
