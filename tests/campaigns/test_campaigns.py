"""Campaigns through the API and the worker: created, copied into the outbox in batches, sent
personalised to every deliverable contact once, counted; every refusal sends nothing."""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import replace
from datetime import timedelta
from email import message_from_bytes
from email.policy import default

import pytest
from sqlalchemy import func, select, update

from conftest import drain
from pulsebox.accounts import service as accounts
from pulsebox.campaigns import service
from pulsebox.delivery.transports.memory import MemoryTransport
from pulsebox.models import Campaign, Contact, Delivery, OutboxMessage, utcnow

HTML = ('<html><body><p>Hello {{name}}, your code is {{code}}.</p>'
        '<a href="https://shop.example/sale?x=1">Sale</a><a href="https://shop.example/about">About</a></body></html>')


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def relaxed(ctx, client):  # noqa: ANN001, ANN201
    """An account whose campaigns meet no creation cap (the caps have their own test)."""
    from conftest import Api, make_account

    return Api(client, make_account(ctx, same_list_interval=0, campaigns_per_hour=1000))


run = drain


def book_with(api, contacts: list) -> int:  # noqa: ANN001
    book_id = api.new_book(f"list-{secrets.token_hex(4)}")
    assert api.add_contacts(book_id, contacts).status == 200
    return book_id


def campaign(api, book_id: int, **extra) -> dict:  # noqa: ANN001, ANN003
    body = {"sender_name": "Shop", "sender_email": "news@shop.example", "subject": "Hi {{name}}",
            "body": b64(HTML), "list_id": book_id, "name": "Sale", **extra}
    return api.post("/campaigns", json=body)


def received(transport: MemoryTransport) -> dict:
    return {rcpt[0]: message_from_bytes(data, policy=default) for _, rcpt, data in transport.sent}


def outbox_size(ctx) -> int:  # noqa: ANN001
    with ctx.db.transaction(write=False) as conn:
        return conn.execute(select(func.count()).select_from(Delivery)).scalar_one()


def test_a_campaign_reaches_every_deliverable_contact_once_personalised(api, ctx):
    people = [{"email": f"p{i}@example.com", "variables": {"name": f"P{i}", "code": i}} for i in range(7)]
    book_id = book_with(api, people)
    other_book = book_with(api, [people[0], {"email": "extra@example.com", "variables": {"name": "X"}}])
    api.post(f"/addressbooks/{book_id}/emails/unsubscribe", json={"emails": ["p5@example.com"]})
    api.post("/blacklist", json={"emails": b64("p6@example.com")})
    answer = campaign(api, [book_id, other_book])
    assert answer.status == 200, answer.json
    assert answer.json["status"] == 13 and answer.json["count"] == 7  # p0..p4 and extra, p6 still counted
    sent = received(run(ctx))
    assert sorted(sent) == sorted([f"p{i}@example.com" for i in range(5)] + ["extra@example.com"])
    message = sent["p3@example.com"]
    assert message["Subject"] == "Hi P3" and message["To"] == "p3@example.com"
    html = message.get_body(("html",)).get_content()
    assert "Hello P3, your code is 3." in html and "https://shop.example/sale" not in html  # tracked links
    assert message["List-Unsubscribe"] and "P3" in message.get_body(("plain",)).get_content()
    info = api.get(f"/campaigns/{answer.json['id']}").json
    general = {g["code"]: g["count"] for g in info["statistics"]["general"]}
    assert info["status"] == 3
    assert (general[1], general[2], general[0], general[15], general[18]) == (6, 6, 0, 1, 1)
    assert info["message"]["list_id"] == [book_id, other_book] and info["permalink"].startswith("http")
    assert api.get(f"/addressbooks/{book_id}/campaigns").json == [
        {"task_id": answer.json["id"], "task_name": "Sale", "task_status": 3}]


def test_opens_clicks_and_the_web_version_show_in_the_campaign(api, ctx, client):
    book_id = book_with(api, [{"email": "reader@example.com", "variables": {"name": "R"}}])
    answer = campaign(api, book_id, stats={"opens": True, "clicks": True, "utm_campaign": "spring"})
    message = received(run(ctx))["reader@example.com"]
    html = message.get_body(("html",)).get_content()
    clicks = re.findall(r'href="https?://[^/"]+(/t/c/[^"]+)"', html)
    pixel = re.search(r'src="https?://[^/"]+(/t/o/[^"]+)"', html)[1]
    assert client.get(pixel).status_code == 200
    redirect = client.get(clicks[0], follow_redirects=False)
    assert redirect.headers["location"] == "https://shop.example/sale?x=1&utm_campaign=spring"
    campaign_id = answer.json["id"]
    assert api.get(f"/campaigns/{campaign_id}/referrals").json == [
        {"link": "https://shop.example/sale?x=1&utm_campaign=spring", "count": 1}]
    assert sum(api.get(f"/campaigns/{campaign_id}/countries").json.values()) == 1
    status = api.get(f"/campaigns/{campaign_id}/email/reader@example.com").json
    assert (status["global_status"], status["detail_status"], status["detail_status_explain"]) == \
        (1, 4, "Link redirected")
    assert api.get("/emails/reader@example.com/campaigns").json["statistic"] == {"sent": 1, "open": 1, "link": 1}
    listed = api.get("/campaigns", params={"limit": 5}).json[0]
    assert listed["id"] == campaign_id and listed["statistics"]["opening"] == 1
    web = client.get(api.get(f"/campaigns/{campaign_id}").json["permalink"].split("://", 1)[1].split("/", 1)[1]
                     .join(["/", ""]))
    assert web.status_code == 200 and "Hello {{name}}" in web.text and "sandbox" in web.headers["content-security-policy"]
    assert client.get("/t/w/1.000000000000000000000000").status_code == 404  # a forged permalink


def test_a_draft_sends_nothing_until_scheduled_and_a_scheduled_one_waits(api, ctx):
    book_id = book_with(api, [{"email": "later@example.com", "variables": {"name": "L"}}])
    draft = campaign(api, book_id, type="draft").json
    assert draft["status"] == 26 and run(ctx).sent == []
    soon = (utcnow() + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    assert api.call("PATCH", f"/campaigns/{draft['id']}", json={"send_date": soon, "subject": "Edited"}).json == \
        {"result": True, "id": draft["id"]}
    assert api.get(f"/campaigns/{draft['id']}").json["status"] == 0
    assert api.get("/campaigns", params={"planed": 1}).json[0]["id"] == draft["id"]
    assert run(ctx).sent == []  # not due yet
    with ctx.db.transaction() as conn:
        conn.execute(update(Campaign).where(Campaign.id == draft["id"]).values(send_date=utcnow()))
    sent = received(run(ctx))
    assert sent["later@example.com"]["Subject"] == "Edited"
    assert api.call("PATCH", f"/campaigns/{draft['id']}", json={"name": "x"}).error_code == 602  # sent: not editable


def test_the_amp_version_is_sent_between_text_and_html(api, ctx):
    book_id = book_with(api, [{"email": "amp@example.com", "variables": {"name": "A"}}])
    amp = "<!doctype html><html amp4email><body>AMP {{name}}</body></html>"
    assert campaign(api, book_id, body_amp=b64(amp)).status == 200
    message = received(run(ctx))["amp@example.com"]
    parts = [p.get_content_type() for p in message.walk() if not p.is_multipart()]
    assert parts == ["text/plain", "text/x-amp-html", "text/html"]
    (amp_part,) = [p for p in message.walk() if p.get_content_type() == "text/x-amp-html"]
    assert amp_part.get_content() == amp  # as written: AMP is not personalised or tracked


def test_a_test_campaign_reaches_only_the_sender(api, ctx):
    book_id = book_with(api, [{"email": "member@example.com"}])
    answer = campaign(api, book_id, is_test=True).json
    assert answer["status"] == 4 and answer["count"] == 1
    assert sorted(received(run(ctx))) == ["news@shop.example"]
    assert api.get(f"/campaigns/{answer['id']}").json["status"] == 8


def test_cancel_stops_a_send_between_batches(api, ctx, monkeypatch):
    monkeypatch.setattr(service, "BATCH", 3)
    book_id = book_with(api, [{"email": f"c{i}@example.com"} for i in range(10)])
    answer = campaign(api, book_id).json
    with ctx.db.transaction() as conn:  # one batch copied, not sent yet
        assert service.copy_batch(conn, ctx.settings) == 3
    assert api.delete(f"/campaigns/{answer['id']}").json == {"result": True}
    assert run(ctx).sent == []
    info = api.get(f"/campaigns/{answer['id']}").json
    assert info["status"] == 16
    assert {g["code"]: g["count"] for g in info["statistics"]["general"]}[13] == 3  # not sent: cancelled
    assert api.delete(f"/campaigns/{answer['id']}").error_code == 602


def test_a_campaign_copied_in_batches_resumes_from_its_checkpoint(api, ctx, monkeypatch):
    monkeypatch.setattr(service, "BATCH", 4)
    book_id = book_with(api, [{"email": f"b{i:02}@example.com", "variables": {"name": str(i)}} for i in range(10)])
    answer = campaign(api, book_id).json
    with pytest.raises(RuntimeError), ctx.db.transaction() as conn:  # a worker dies mid-batch
        service.copy_batch(conn, ctx.settings)
        raise RuntimeError("killed")
    sent = run(ctx).sent
    assert sorted(r[0] for _, r, _ in sent) == [f"b{i:02}@example.com" for i in range(10)]  # each once
    assert api.get(f"/campaigns/{answer['id']}").json["status"] == 3


@pytest.mark.parametrize("batch", [1, 2, 3, 100])
def test_an_address_on_several_lists_gets_one_copy_whatever_the_batches(api, ctx, monkeypatch, batch):
    """Batches count contacts, not addresses: one may end between an address's two lists. The
    address is copied once, with its best status (unsubscribed from one list, active on another:
    sent)."""
    monkeypatch.setattr(service, "BATCH", batch)
    first = book_with(api, [{"email": f"s{i}@example.com", "variables": {"name": f"first {i}"}} for i in range(4)])
    second = book_with(api, [{"email": f"s{i}@example.com", "variables": {"name": f"second {i}"}} for i in (1, 2, 4)])
    api.post(f"/addressbooks/{first}/emails/unsubscribe", json={"emails": ["s2@example.com"]})
    api.post(f"/addressbooks/{second}/emails/unsubscribe", json={"emails": ["s4@example.com"]})
    answer = campaign(api, [first, second]).json
    sent = [r[0] for _, r, _ in run(ctx).sent]
    assert sorted(sent) == [f"s{i}@example.com" for i in range(4)]
    info = api.get(f"/campaigns/{answer['id']}").json
    general = {g["code"]: g["count"] for g in info["statistics"]["general"]}
    assert info["status"] == 3 and (general[1], general[15]) == (4, 1)  # s4: unsubscribed from its only list


def test_contacts_added_after_creation_get_it_only_with_the_dynamic_list(relaxed, ctx):
    api = relaxed
    book_id = book_with(api, [{"email": "first@example.com"}])
    soon = (utcnow() + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    fixed = campaign(api, book_id, send_date=soon).json
    dynamic = api.post("/campaigns", json={"sender_name": "Shop", "sender_email": "news@shop.example",
                                           "subject": "S", "body": b64("<p>x</p>"), "list_id": book_id,
                                           "send_date": soon, "use_dynamic_list": True})
    assert dynamic.status == 200, dynamic.json
    with ctx.db.transaction() as conn:  # created five minutes ago, after its list's first contact
        conn.execute(update(Contact).where(Contact.book_id == book_id).values(added_at=utcnow() - timedelta(minutes=9)))
        conn.execute(update(Campaign).where(Campaign.id.in_([fixed["id"], dynamic.json["id"]]))
                     .values(created_at=utcnow() - timedelta(minutes=5), send_date=utcnow()))
    api.add_contacts(book_id, [{"email": "second@example.com"}])
    sent = run(ctx).sent
    by_subject: dict = {}
    for _, rcpt, data in sent:
        by_subject.setdefault(message_from_bytes(data, policy=default)["Subject"], []).append(rcpt[0])
    assert sorted(by_subject["S"]) == ["first@example.com", "second@example.com"]
    assert by_subject["Hi "] == ["first@example.com"]  # {{name}} empty


@pytest.mark.parametrize(("change", "code"), [
    ({"sender_name": ""}, 701), ({"sender_email": None}, 701), ({"subject": " "}, 720), ({"body": None}, 721),
    ({"body": None, "template_id": "999999"}, 721), ({"list_id": None}, 722), ({"list_id": 2_000_000_000}, 703),
    ({"send_date": "tomorrow"}, 799), ({"send_date": "2001-01-01 00:00:00"}, 799),
    ({"attachments": {f"f{i}.txt": "x" for i in range(6)}}, 8), ({"is_test": 1, "type": "draft"}, 800),
])
def test_every_refusal_sends_nothing(api, ctx, change, code):
    book_id = book_with(api, [{"email": "nobody@example.com"}])
    before = outbox_size(ctx)
    body = {"sender_name": "Shop", "sender_email": "news@shop.example", "subject": "S", "body": b64("<p>x</p>"),
            "list_id": book_id, **change}
    answer = api.post("/campaigns", json={k: v for k, v in body.items() if v is not None})
    assert answer.error_code == code, answer.json
    assert api.get("/campaigns").json == [] and run(ctx).sent == [] and outbox_size(ctx) == before


def test_a_segment_with_another_list_is_an_invalid_operation(api, ctx):
    """A segment belongs to one list: naming another beside it is 800 and sends nothing; naming
    its own is fine."""
    book_id = book_with(api, [{"email": "s@example.com", "variables": {"city": "Kyiv"}}])
    other_book = book_with(api, [{"email": "o@example.com", "variables": {"city": "Kyiv"}}])
    segment = api.post(f"/addressbooks/{book_id}/segments", json={"name": "Kyiv", "filter": {
        "variable_name": "city", "operator": "or", "conditions": [{"condition": "equal", "value": "kyiv"}]}})
    assert segment.status == 200, segment.json
    refused = campaign(api, other_book, segment_id=segment.json["id"])
    assert refused.error_code == 800 and api.get("/campaigns").json == []
    assert campaign(api, book_id, segment_id=segment.json["id"]).status == 200
    assert [r[0] for _, r, _ in run(ctx).sent] == ["s@example.com"]


def test_the_plan_and_the_caps_refuse_a_send(api, ctx):
    book_id = book_with(api, [{"email": f"q{i}@example.com"} for i in range(3)])
    with ctx.db.transaction() as conn:
        accounts.configure(conn, str(api.id), email_quota=2, campaigns_per_hour=2, same_list_interval=900)
    ctx._accounts.pop(api.id, None)  # the process re-reads an account every 5 s: now
    assert campaign(api, book_id).error_code == 707  # 3 recipients, 2 left on the plan, no money
    with ctx.db.transaction() as conn:
        accounts.configure(conn, str(api.id), email_quota=100)
    ctx._accounts.pop(api.id, None)
    assert campaign(api, book_id).status == 200
    assert campaign(api, book_id).error_code == 711  # the same list within 15 minutes
    other_book = book_with(api, [{"email": "z@example.com"}])
    assert campaign(api, other_book).status == 200
    assert campaign(api, book_with(api, [{"email": "y@example.com"}])).error_code == 791
    assert campaign(api, book_id, type="draft").status == 200  # drafts count for neither


def test_senders_must_be_active_when_mail_leaves_the_machine(api, ctx):
    book_id = book_with(api, [{"email": "s@example.com"}])
    original, ctx.settings = ctx.settings, replace(ctx.settings, sender_check="strict")
    try:
        assert campaign(api, book_id).error_code == 1003
        api.post("/senders", json={"email": "news@shop.example", "name": "Shop"})
        assert campaign(api, book_id).error_code == 704
    finally:
        ctx.settings = original


def test_another_accounts_campaign_looks_missing(api, other, ctx):
    book_id = book_with(api, [{"email": "mine@example.com"}])
    campaign_id = campaign(api, book_id).json["id"]
    missing = api.get("/campaigns/2000000000")
    assert missing.error_code == 802
    for path in (f"/campaigns/{campaign_id}", f"/campaigns/{campaign_id}/countries",
                 f"/campaigns/{campaign_id}/referrals", f"/campaigns/{campaign_id}/email/mine@example.com"):
        assert other.get(path).json == missing.json, path
    assert other.delete(f"/campaigns/{campaign_id}").json == missing.json
    assert other.call("PATCH", f"/campaigns/{campaign_id}", json={"name": "x"}).json == missing.json
    assert other.post("/campaigns", json={"sender_name": "S", "sender_email": "s@x.example", "subject": "S",
                                          "body": b64("x"), "list_id": book_id}).error_code == 703


def test_the_real_clients_bodies_create_campaigns(api, ctx):
    book_id = book_with(api, [{"email": "client@example.com"}])
    # sendpulse-api (Node) createCampaign: attachments "" (tests/contract/captures, n=6)
    node = api.post("/campaigns", json={"sender_name": "From Name", "sender_email": "from@example.com",
                                        "subject": "Subj", "body": "PGgxPkhpPC9oMT4=", "list_id": book_id,
                                        "name": "Camp1", "attachments": ""})
    assert node.status == 200 and node.json["status"] == 13, node.json
    # pysendpulse add_campaign: a form with attachments as a JSON string
    other_book = book_with(api, [{"email": "client2@example.com"}])
    form = api.post("/campaigns", data={"sender_name": "N", "sender_email": "from@example.com", "subject": "S",
                                        "body": b64("<p>Hi</p>"), "list_id": str(other_book), "name": "C",
                                        "attachments": '{"a.txt": "file body"}'})
    assert form.status == 200, form.json
    sent = received(run(ctx))
    assert sent["client@example.com"]["Subject"] == "Subj"
    (attachment,) = list(sent["client2@example.com"].iter_attachments())
    assert attachment.get_filename() == "a.txt" and attachment.get_content() == "file body"
    with ctx.db.transaction(write=False) as conn:
        kinds = conn.execute(select(OutboxMessage.kind).where(OutboxMessage.account_id == api.id)).scalars().all()
    assert set(kinds) == {"campaign"}


def test_a_report_counts_only_its_own_copies_when_other_mail_lies_between(relaxed, ctx, monkeypatch):
    """A campaign's copies are made a batch a transaction, and mail sent meanwhile takes the ids between
    them. The report reads events by the span of the campaign's copy ids: when the span is not the
    campaign's alone, each event's copy is checked; when it is, none needs to be (and the figures agree)."""
    from pulsebox.models import TrackingEvent
    from pulsebox.outbox import service as outbox

    api = relaxed
    book = book_with(api, ["a@example.com", "b@example.com", "c@example.com"])
    mixed, alone = (campaign(api, book, name=name).json["id"] for name in ("Mixed", "Alone"))
    monkeypatch.setattr(service, "BATCH", 1)
    for n in range(3):  # Mixed's copies one a batch, a notice's copy after each
        with ctx.db.transaction() as conn:
            assert service.copy_batch(conn, ctx.settings) == 1
            outbox.queue_notice(conn, api.id, to=f"other{n}@example.com", subject="Code", text="1234",
                                sender="robot@shop.example")
    run(ctx)
    with ctx.db.transaction() as conn:
        copies = {cid: (mid, email) for cid, mid, email in conn.execute(
            select(Delivery.id, Delivery.message_id, Delivery.email).where(Delivery.account_id == api.id))}
        rows = {c: service.get(conn, api.id, c) for c in (mixed, alone)}
        opened_in = {"a@example.com": "Ukraine", "b@example.com": "Poland", "c@example.com": "Ukraine"}
        conn.execute(TrackingEvent.__table__.insert(), [
            {"account_id": api.id, "delivery_id": cid, "kind": "open", "url": None, "ip": "192.0.2.1",
             "country": opened_in.get(email, "Atlantis"), "browser": "", "os": "", "created_at": utcnow(), "link": 0}
            for cid, (_, email) in copies.items()])
    with ctx.db.transaction(write=False) as conn:
        for campaign_id, by_itself in ((mixed, False), (alone, True)):
            row = rows[campaign_id]
            assert service._span(conn, api.id, row).alone is by_itself
            figures = service.report_figures(conn, api.id, row)
            assert figures["countries"] == [("Ukraine", 2), ("Poland", 1)], campaign_id
            assert sum(bar["opened"] for bar in figures["hours"] + figures["days"]) == 3
            found, _ = service.recipients(conn, api.id, campaign_id, service.Figure(country="Atlantis"), 0)
            assert found == []
            found, _ = service.recipients(conn, api.id, campaign_id, service.Figure(code=3), 0)
            assert sorted(c["email"] for c in found) == ["a@example.com", "b@example.com", "c@example.com"]
