"""The admin UI's campaign pages, as a person uses them: a campaign made to a segment from a template with
the tracking and UTM switches, sent, opened and clicked, then read back in its report (per-status figures,
opens and clicks over time, clicks per link, opens by country) and in the recipients behind each figure,
a keyset page at a time; a campaign scheduled, edited, then cancelled; the API's refusals (602 and the
form's own errors) shown next to their field; another account's campaign missing on every route; a form
without its token changing nothing; the queries of a report and its recipients reading indexes only."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from conftest import make_account
from sqlalchemy import event, update
from starlette.testclient import TestClient
from ui_client import browser, csrf_of, deliver, maildir, sign_in, ui_ctx  # noqa: F401 (fixtures)

from pulsebox import filters
from pulsebox.addressbooks import service as books
from pulsebox.app import build
from pulsebox.campaigns import service as campaigns
from pulsebox.models import Sender, utcnow
from pulsebox.senders import service as senders
from pulsebox.templates import service as templates
from pulsebox.web.campaigns import service as ui_service

TEMPLATE = "<p>Hi {{name}}, <a href='https://shop.example.com/sale'>the sale</a> or <a href='https://shop.example.com/new'>what is new</a></p>"


def _account_with_readers(ctx, count: int = 4) -> tuple[dict, int]:
    account = make_account(ctx)
    with ctx.db.transaction() as conn:
        book_id = books.create_book(conn, account["id"], "Readers")
        books.add_contacts(conn, account["id"], book_id, [(f"r{i}@example.com", {"name": f"R{i}", "city": "Kyiv" if i else "Lviv"},
                                                           None) for i in range(count)])
    return account, book_id


def _form(page: str, **fields: str) -> dict:
    return {"csrf": csrf_of(page), "switches": "1", "track_opens": "1", "track_clicks": "1", "name": "Autumn",
            "sender_name": "Shop", "sender_email": "shop@example.com", "subject": "Hello {{name}}", **fields}


def _later(hours: int) -> str:
    return (utcnow() + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M")


def _campaign(ctx, account: dict, campaign_id: int) -> dict:
    with ctx.db.transaction(write=False) as conn:
        return campaigns.get(conn, account["id"], campaign_id)


def _tracked(browser, address: str) -> tuple[str, list[str]]:
    """The open pixel and the tracked links of the copy captured for ``address`` (paths on this app)."""
    listed = browser.get("/ui/inbox/messages.json").json()
    html = browser.get(f"/ui/inbox/{next(m['id'] for m in listed if m['to'] == address)}/html").text
    pixel = re.search(r'src="https?://[^/"]+(/t/o/[^"]+)"', html)[1]
    return pixel, [m.replace("&amp;", "&") for m in re.findall(r"href=[\"']https?://[^/\"']+(/t/c/[^\"']+)", html)]


def _figure(report: str, words: str) -> int:
    return int(re.search(rf'{re.escape(words)}</th><td class="num">([\d,]+)<', report)[1].replace(",", ""))


def _listed(page: str) -> list[str]:
    return re.findall(r'<a href="/ui/contacts/[^"]+">([^<]+)</a>', page)


def test_a_campaign_to_a_segment_from_a_template_is_sent_opened_clicked_and_reported(browser, ctx, ui_ctx,
                                                                                      monkeypatch):
    account, book_id = _account_with_readers(ctx)
    sign_in(browser, account["client_id"], account["client_secret"])
    with ctx.db.transaction() as conn:
        kyiv = filters.parse_filter({"variable_name": "city", "operator": "and",
                                     "conditions": [{"condition": "equal", "value": "Kyiv"}]})
        segment_id = books.create_segment(conn, account["id"], book_id, "In Kyiv", "and", [kyiv])
        template_id = templates.create(conn, account["id"], "Sale", TEMPLATE, "en")
    page = browser.get("/ui/campaigns").text
    assert f'<option value="{segment_id}">In Kyiv</option>' in page and '<optgroup label="Readers">' in page
    assert f'<option value="{template_id}">Sale · en</option>' in page
    made = browser.post("/ui/campaigns", data=_form(page, to="segment", segment_id=str(segment_id), content="template",
                                                    template_id=str(template_id), utm_campaign="autumn"),
                        follow_redirects=False)
    assert made.status_code == 303
    report_url = made.headers["location"]
    campaign_id = int(report_url.rsplit("/", 1)[1])
    row = _campaign(ctx, account, campaign_id)
    assert (row["segment_id"], row["template_id"], row["utm_campaign"]) == (segment_id, str(template_id), "autumn")
    deliver(ui_ctx)
    report = browser.get(report_url).text
    assert _figure(report, "Sent") == 3 and _figure(report, "Opened") == 0 and "segment In Kyiv" in report
    assert "links carry utm_campaign=autumn" in report

    # two copies opened, one of them clicked through both links (the pixel and links as captured)
    hours = {utcnow().strftime("%b %d %H:00")}
    for address, clicks in (("r1@example.com", 2), ("r2@example.com", 0)):
        pixel, tracked = _tracked(browser, address)
        assert browser.get(pixel).status_code == 200
        for link in tracked[:clicks]:
            assert browser.get(link, follow_redirects=False).status_code == 302
    report = browser.get(report_url).text
    assert (_figure(report, "Opened"), _figure(report, "Link redirected")) == (2, 1)
    hours.add(utcnow().strftime("%b %d %H:00"))  # the hour's bar, in the table under the chart
    assert re.search(rf'<th scope="row">({"|".join(hours)})</th><td class="num" data-label="opened">2</td>'
                     r'<td class="num" data-label="clicked">2</td>', report)
    assert report.count('<rect class="opened"') == 48
    assert "https://shop.example.com/sale?utm_campaign=autumn</td>" in report
    assert '<td>unknown</td><td class="num">2</td>' in report  # a test client's country is not known

    recipients = f"{report_url}/recipients"
    assert _listed(browser.get(recipients, params={"figure": "1"}).text) == [f"r{i}@example.com" for i in (1, 2, 3)]
    opened = browser.get(recipients, params={"figure": "opened"}).text
    assert _listed(opened) == ["r1@example.com", "r2@example.com"] and "<h1>Opened</h1>" in opened
    assert '<a href="/ui/contacts/r1%40example.com">' in opened
    assert _listed(browser.get(recipients, params={"figure": "3"}).text) == ["r1@example.com", "r2@example.com"]
    assert _listed(browser.get(recipients, params={"figure": "clicked"}).text) == ["r1@example.com"]
    link = re.search(r'recipients\?figure=(link%3A[^"]+)"', report)[1]
    assert _listed(browser.get(f"{recipients}?figure={link}").text) == ["r1@example.com"]
    assert _listed(browser.get(recipients, params={"figure": "country:unknown"}).text) == ["r1@example.com",
                                                                                           "r2@example.com"]
    assert _listed(browser.get(recipients, params={"figure": "6"}).text) == []
    assert browser.get(recipients, params={"figure": "nonsense"}).status_code == 400
    assert browser.get(recipients, params={"figure": "99"}).status_code == 400

    monkeypatch.setattr(ui_service, "RECIPIENTS", 2)  # keyset pages: a page, then the rest after its last id
    first = browser.get(recipients, params={"figure": "2"}).text
    after = re.search(r'after=(\d+)">Next page', first)[1]
    assert _listed(first) == ["r1@example.com", "r2@example.com"]
    rest = browser.get(recipients, params={"figure": "2", "after": after}).text
    assert _listed(rest) == ["r3@example.com"] and "Next page" not in rest and "First page" in rest
    clicked_first = browser.get(recipients, params={"figure": "opened"}).text
    assert "Next page" not in clicked_first  # exactly a page: no empty page after it


def test_a_campaign_scheduled_edited_then_cancelled_and_a_draft_scheduled(browser, ctx):
    account, book_id = _account_with_readers(ctx)
    sign_in(browser, account["client_id"], account["client_secret"])
    page = browser.get("/ui/campaigns").text
    body = "<p>Soon, {{name}}</p>"
    made = browser.post("/ui/campaigns", data=_form(page, list_id=str(book_id), body=body, send_date=_later(48)),
                        follow_redirects=False)
    campaign_id = int(made.headers["location"].rsplit("/", 1)[1])
    assert _campaign(ctx, account, campaign_id)["status"] == 0
    listing = browser.get("/ui/campaigns").text
    assert f'<a href="/ui/campaigns/{campaign_id}/edit" aria-label="Edit Autumn">Edit</a>' in listing
    edit_url = f"/ui/campaigns/{campaign_id}/edit"
    form = browser.get(edit_url).text
    assert 'value="Hello {{name}}"' in form and "&lt;p&gt;Soon, {{name}}&lt;/p&gt;</textarea>" in form
    changed = browser.post(edit_url, data={"csrf": csrf_of(form), "name": "Winter", "sender_name": "Shop",
                                           "sender_email": "shop@example.com", "subject": "Snow, {{name}}",
                                           "content": "html", "body": "<p>Snow</p>", "send_date": _later(72)},
                           follow_redirects=False)
    assert changed.status_code == 303 and changed.headers["location"] == f"/ui/campaigns/{campaign_id}"
    row = _campaign(ctx, account, campaign_id)
    assert (row["name"], row["subject"], row["body"], row["status"]) == ("Winter", "Snow, {{name}}", "<p>Snow</p>", 0)
    assert row["send_date"] > utcnow() + timedelta(hours=71)
    past = browser.post(edit_url, data={"csrf": csrf_of(form), "subject": "Late", "sender_name": "Shop",
                                        "sender_email": "shop@example.com", "send_date": "2001-01-01T10:00"})
    assert past.status_code == 400
    assert re.search(r'id="send_date-error">send_date must not be in the past', past.text)
    assert 'id="send_date" name="send_date" type="datetime-local" value="2001-01-01T10:00" aria-invalid="true"' in past.text
    assert _campaign(ctx, account, campaign_id)["subject"] == "Snow, {{name}}"  # nothing written

    cancelled = browser.post(f"/ui/campaigns/{campaign_id}/cancel", data={"csrf": csrf_of(form)}, follow_redirects=False)
    assert cancelled.status_code == 303 and _campaign(ctx, account, campaign_id)["status"] == 16
    again = browser.post(f"/ui/campaigns/{campaign_id}/cancel", data={"csrf": csrf_of(form)})
    assert again.status_code == 400 and "Can&#39;t find campaign. Probably, it has already been sent" in again.text
    refused = browser.post(edit_url, data={"csrf": csrf_of(form), "subject": "Too late", "sender_name": "Shop",
                                           "sender_email": "shop@example.com"})
    assert refused.status_code == 400 and "Only a scheduled campaign or a draft can be edited" in refused.text
    assert _campaign(ctx, account, campaign_id)["subject"] == "Snow, {{name}}"

    draft = browser.post("/ui/campaigns", data=_form(page, list_id=str(book_id), body=body, type="draft"),
                         follow_redirects=False)
    draft_id = int(draft.headers["location"].rsplit("/", 1)[1])
    assert _campaign(ctx, account, draft_id)["status"] == 26
    form = browser.get(f"/ui/campaigns/{draft_id}/edit").text
    assert "empty: it stays a draft" in form
    scheduled = browser.post(f"/ui/campaigns/{draft_id}/edit", data={
        "csrf": csrf_of(form), "name": "Autumn", "sender_name": "Shop", "sender_email": "shop@example.com",
        "subject": "Hello {{name}}", "body": body, "send_date": _later(5)}, follow_redirects=False)
    assert scheduled.status_code == 303 and _campaign(ctx, account, draft_id)["status"] == 0


def test_a_sent_campaign_cannot_be_edited_and_says_why(browser, ctx, ui_ctx):
    account, book_id = _account_with_readers(ctx, 2)
    sign_in(browser, account["client_id"], account["client_secret"])
    page = browser.get("/ui/campaigns").text
    made = browser.post("/ui/campaigns", data=_form(page, list_id=str(book_id), body="<p>Now</p>"), follow_redirects=False)
    campaign_id = int(made.headers["location"].rsplit("/", 1)[1])
    deliver(ui_ctx)
    assert _campaign(ctx, account, campaign_id)["status"] == 3
    report = browser.get(f"/ui/campaigns/{campaign_id}").text
    assert "Edit the campaign" not in report and "Cancel the campaign" not in report
    assert f"/ui/campaigns/{campaign_id}/edit" not in browser.get("/ui/campaigns").text
    shown = browser.get(f"/ui/campaigns/{campaign_id}/edit")
    assert shown.status_code == 200 and "Only a scheduled campaign or a draft can be edited" in shown.text
    assert 'action="/ui/campaigns/' + str(campaign_id) + '/edit"' not in shown.text
    refused = browser.post(f"/ui/campaigns/{campaign_id}/edit", data={
        "csrf": csrf_of(page), "subject": "Changed", "sender_name": "Shop", "sender_email": "shop@example.com",
        "body": "<p>Changed</p>"})
    assert refused.status_code == 400 and 'role="alert" id="campaign-error">Only a scheduled campaign' in refused.text
    assert _campaign(ctx, account, campaign_id)["subject"] == "Hello {{name}}"


def test_active_senders_offered_and_the_apis_messages_next_to_their_fields(browser, ctx):
    account, book_id = _account_with_readers(ctx, 2)
    with ctx.db.transaction() as conn:
        senders.add(conn, account["id"], "news@example.com", "News Desk", ())
        conn.execute(update(Sender.__table__).values(active=True).where(Sender.__table__.c.account_id == account["id"]))
    sign_in(browser, account["client_id"], account["client_secret"])
    page = browser.get("/ui/campaigns").text
    assert '<select id="sender_email" name="sender_email">' in page
    assert '<option value="news@example.com">News Desk &lt;news@example.com&gt;</option>' in page
    form = _form(page, list_id=str(book_id), body="<p>x</p>", sender_name="", sender_email="news@example.com")
    made = browser.post("/ui/campaigns", data=form, follow_redirects=False)
    assert made.status_code == 303  # the sender's own name, as the form said
    assert _campaign(ctx, account, int(made.headers["location"].rsplit("/", 1)[1]))["sender_name"] == "News Desk"

    cases = [({"subject": ""}, "subject", "Empty subject field"),
             ({"to": "segment", "segment_id": ""}, "segment_id", "Mailing list ID not specified"),
             ({"to": "segment", "segment_id": "999999"}, "segment_id", "Segment not found"),
             ({"content": "template", "template_id": ""}, "template_id", "Email message empty"),
             ({"content": "template", "template_id": "999999"}, "template_id", "Template &#39;999999&#39; not found"),
             ({"utm_campaign": "u" * 300}, "utm_campaign", "stats.utm_campaign must be at most 255 characters"),
             ({"send_date": "2001-01-01T10:00"}, "send_date", "send_date must not be in the past"),
             ({"test": "1", "test_to": "not an address"}, "test_to", "Email address syntax error")]
    for change, field, message in cases:
        answer = browser.post("/ui/campaigns", data={**form, **change})
        assert answer.status_code == 400, change
        assert re.search(rf'id="{field}-error">{re.escape(message)}', answer.text), (change, answer.text[-3000:])
        assert f'id="{field}"' in answer.text and 'aria-describedby="' + field + '-error"' in answer.text
    with ctx.db.transaction(write=False) as conn:
        assert len(campaigns.listing(conn, account["id"], order="desc", statuses=[], scheduled=False, limit=10,
                                     offset=0)) == 1


def test_a_template_test_send_goes_to_one_address(browser, ctx, ui_ctx):
    account, book_id = _account_with_readers(ctx, 1)
    with ctx.db.transaction() as conn:
        template_id = templates.create(conn, account["id"], "Sale", TEMPLATE, "en")
    sign_in(browser, account["client_id"], account["client_secret"])
    page = browser.get("/ui/campaigns").text
    sent = browser.post("/ui/campaigns", data=_form(page, list_id=str(book_id), content="template",
                                                    template_id=str(template_id), test="1", test_to="me@example.com"))
    assert sent.status_code == 200 and "A test was sent to me@example.com." in sent.text
    assert f'<option value="{template_id}" selected>' in sent.text  # the form as it was
    deliver(ui_ctx)
    [copy] = browser.get("/ui/inbox/messages.json").json()
    assert copy["to"] == "me@example.com" and "the sale" in browser.get(f"/ui/inbox/{copy['id']}/html").text
    assert "No campaigns yet." in browser.get("/ui/campaigns").text


ROUTES = [("GET", "/ui/campaigns/{id}"), ("GET", "/ui/campaigns/{id}/edit"), ("GET", "/ui/campaigns/{id}/recipients"),
          ("POST", "/ui/campaigns/{id}/edit"), ("POST", "/ui/campaigns/{id}/cancel")]


def test_another_accounts_campaign_and_ids_out_of_range_are_missing_everywhere(browser, ctx, ui_ctx):
    theirs, book_id = _account_with_readers(ctx, 1)
    with TestClient(build(ui_ctx)) as other:
        sign_in(other, theirs["client_id"], theirs["client_secret"])
        page = other.get("/ui/campaigns").text
        made = other.post("/ui/campaigns", data=_form(page, list_id=str(book_id), body="<p>x</p>", send_date=_later(9)),
                          follow_redirects=False)
        their_id = int(made.headers["location"].rsplit("/", 1)[1])
    mine = make_account(ctx)
    sign_in(browser, mine["client_id"], mine["client_secret"])
    csrf = csrf_of(browser.get("/ui/campaigns").text)
    for method, path in ROUTES:
        for ident in (their_id, 0, 2**63, 10**20, "x1", "-1"):
            answer = browser.request(method, path.format(id=ident), params={"figure": "1"},
                                     data={"csrf": csrf, "subject": "Mine now"} if method == "POST" else None)
            assert answer.status_code == 404, (method, path, ident)
    row = _campaign(ctx, theirs, their_id)
    assert (row["status"], row["subject"]) == (0, "Hello {{name}}")  # neither edited nor cancelled


def test_a_form_without_its_token_changes_nothing(browser, ctx):
    account, book_id = _account_with_readers(ctx, 1)
    sign_in(browser, account["client_id"], account["client_secret"])
    page = browser.get("/ui/campaigns").text
    made = browser.post("/ui/campaigns", data=_form(page, list_id=str(book_id), body="<p>x</p>", send_date=_later(9)),
                        follow_redirects=False)
    campaign_id = int(made.headers["location"].rsplit("/", 1)[1])
    for path, data in ((f"/ui/campaigns/{campaign_id}/edit", {"subject": "Forged", "sender_name": "Shop",
                                                               "sender_email": "shop@example.com"}),
                       (f"/ui/campaigns/{campaign_id}/cancel", {}),
                       ("/ui/campaigns", _form(page, list_id=str(book_id), body="<p>y</p>"))):
        assert browser.post(path, data={**data, "csrf": "forged"}).status_code == 403
        assert browser.post(path, data={k: v for k, v in data.items() if k != "csrf"}).status_code == 403
    row = _campaign(ctx, account, campaign_id)
    assert (row["status"], row["subject"]) == (0, "Hello {{name}}")
    with ctx.db.transaction(write=False) as conn:
        assert len(campaigns.listing(conn, account["id"], order="desc", statuses=[], scheduled=False, limit=10,
                                     offset=0)) == 1


def test_a_report_and_its_recipients_read_indexes_only(browser, ctx, ui_ctx):
    """What the pages ask the database, asked again with EXPLAIN QUERY PLAN (SQLite): no statement walks
    the copies or the events of every message (a page of a 100,000-copy campaign costs what it shows)."""
    if ctx.db.engine.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    account, book_id = _account_with_readers(ctx, 3)
    sign_in(browser, account["client_id"], account["client_secret"])
    page = browser.get("/ui/campaigns").text
    made = browser.post("/ui/campaigns", data=_form(page, list_id=str(book_id), body=TEMPLATE), follow_redirects=False)
    deliver(ui_ctx)
    pixel, tracked = _tracked(browser, "r1@example.com")
    browser.get(pixel)
    browser.get(tracked[0], follow_redirects=False)
    statements: list[tuple[str, object]] = []

    def seen(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ANN202, ARG001
        if "deliveries" in statement or "tracking_events" in statement:
            statements.append((statement, parameters))

    event.listen(ctx.db.engine, "before_cursor_execute", seen)
    try:
        report_url = made.headers["location"]
        assert browser.get(report_url).status_code == 200
        for figure in ("1", "6", "opened", "clicked", "link:https://shop.example.com/sale", "country:unknown"):
            assert browser.get(f"{report_url}/recipients", params={"figure": figure}).status_code == 200
        assert browser.get("/ui/campaigns").status_code == 200
    finally:
        event.remove(ctx.db.engine, "before_cursor_execute", seen)
    assert len(statements) > 10
    with ctx.db.engine.connect() as conn:
        for statement, parameters in statements:
            plan = [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
            walks = [step for step in plan if re.match(r"SCAN (deliveries|tracking_events)\b", step)]
            assert walks == [], (statement, plan)
            if "tracking_events.delivery_id >=" in statement:  # events first: the range of the message's copies
                assert plan[0].startswith("SEARCH tracking_events USING INDEX uq_tracking_events_once (delivery_id>?"), \
                    (statement, plan)
