"""POST /smtp/emails through the outbox and the worker's delivery pump, read back with
GET /smtp/emails[/{id}]: what is built, what is sent, what is recorded."""

from __future__ import annotations

import base64
import secrets
from dataclasses import replace
from datetime import timedelta
from email import message_from_bytes
from email.policy import default

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import update

from pulsebox import links
from pulsebox.delivery.transports import from_url
from pulsebox.delivery.transports.memory import MemoryTransport
from pulsebox.models import Delivery, utcnow
from pulsebox.outbox import repository
from pulsebox.worker.runner import Worker

from smtp_servers import Recorder, _free_port


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def unique(name: str = "to") -> str:
    return f"{name}-{secrets.token_hex(4)}@example.com"


def deliver(ctx, transport=None) -> MemoryTransport:  # noqa: ANN001
    transport = transport or MemoryTransport()
    worker = Worker(ctx, transport)
    while worker.run_once():
        pass
    worker.pool.shutdown()
    return transport


def send(api, **email) -> str:  # noqa: ANN001, ANN003
    email = {"subject": "Hello", "from": {"name": "Shop", "email": "shop@example.com"}, "html": b64("<p>Hi</p>"),
             **email}
    answer = api.post("/smtp/emails", json={"email": email})
    assert answer.status == 200 and answer.json["result"] is True, answer.json
    return answer.json["id"]


def received(transport: MemoryTransport, rcpt: str):  # noqa: ANN201
    (found,) = [m for m in transport.sent if m[1] == [rcpt]]
    return found[0], message_from_bytes(found[2], policy=default)


def test_a_message_is_built_tracked_and_recorded(api, ctx):
    to = unique()
    html = '<html><body><p>Hi {{name}}</p><a href="https://shop.example/o?id=1&amp;x=2">Order</a></body></html>'
    public_id = send(api, to=[{"name": "Ann Ö", "email": to}], html=b64(html), subject="Hi {{name}} ✓",
                     variables={"name": "Ann"})
    assert api.get(f"/smtp/emails/{public_id}").json["status"] == "queued"  # committed, not sent yet

    transport = deliver(ctx)
    mail_from, message = received(transport, to)
    assert message["Subject"] == "Hi Ann ✓" and message["To"].addresses[0].display_name == "Ann Ö"
    # VERP: the envelope sender names this copy, signed
    assert links.parse_local_address(ctx.settings.signing_key, mail_from)[0] == links.BOUNCE
    # RFC 8058 one-click, URL and mailto (RFC 2369)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"{ctx.settings.public_url}/t/u/" in message["List-Unsubscribe"]
    assert "mailto:unsubscribe+" in message["List-Unsubscribe"]
    body = message.get_body(("html",)).get_content()
    assert "Hi Ann" in body and "shop.example/o" not in body  # the link goes through the click redirect
    assert f'{ctx.settings.public_url}/t/c/' in body and f'{ctx.settings.public_url}/t/o/' in body
    text = message.get_body(("plain",)).get_content()
    assert "https://shop.example/o?id=1&x=2" in text  # the text alternative keeps the real link

    info = api.get(f"/smtp/emails/{public_id}").json
    assert info["status"] == "sent" and info["smtp_answer_code"] == 250 and info["recipient"] == to
    assert info["sender"] == "shop@example.com" and info["subject"] == "Hi Ann ✓"
    assert info["total_size"] == len(next(m[2] for m in transport.sent if m[1] == [to]))  # bytes as sent
    assert info["tracking"] == {"click": 0, "open": 0, "link": [], "client_info": []}
    with ctx.db.transaction() as conn:
        (row,) = repository.deliveries_of(conn, api.id, "smtp", public_id)
        stored = repository.delivery(conn, row["delivery_id"])
    assert stored["content"]["links"] == ["https://shop.example/o?id=1&x=2"]


def test_each_recipient_gets_an_own_copy_and_bcc_stays_hidden(api, ctx):
    to, cc, bcc = unique("to"), unique("cc"), unique("bcc")
    public_id = send(api, to=[{"email": to}], cc=[{"email": cc}], bcc=[{"email": bcc}])
    transport = deliver(ctx)
    froms = set()
    for rcpt in (to, cc, bcc):
        mail_from, message = received(transport, rcpt)
        froms.add(mail_from)
        assert message["To"] == to and message["Cc"] == cc and message["Bcc"] is None
    assert len(froms) == 3  # a return path per copy: a bounce names the copy that failed
    info = api.get(f"/smtp/emails/{public_id}").json
    assert [c["recipient"] for c in info["recipients"]] == [to, cc, bcc]


def test_attachments_plain_and_binary_round_trip(api, ctx):
    to = unique()
    send(api, to=[{"email": to}], text="see attached", html=None,
         attachments={"notes.txt": "plain text ✓"}, attachments_binary={"logo.png": base64.b64encode(b"\x89PNG\x00\xff").decode()})
    _, message = received(deliver(ctx), to)
    parts = {p.get_filename(): p for p in message.iter_attachments()}
    assert parts["notes.txt"].get_content() == "plain text ✓"
    assert parts["logo.png"].get_content() == b"\x89PNG\x00\xff" and parts["logo.png"].get_content_type() == "image/png"


def test_tracking_can_be_switched_off_per_message(api, ctx):
    to = unique()
    send(api, to=[{"email": to}], html=b64('<p><a href="https://x.example/">x</a></p>'), track_opens=0, track_clicks=0)
    _, message = received(deliver(ctx), to)
    body = message.get_body(("html",)).get_content()
    assert "https://x.example/" in body and "/t/o/" not in body and "/t/c/" not in body


def test_template_send_with_variables(api, ctx):
    real_id = api.post("/template", json={"name": "order", "body": b64("<p>Order {{number}} for {{name}}</p>"),
                                          "lang": "en"}).json["real_id"]
    to = unique()
    send(api, to=[{"email": to}], html=None, template={"id": real_id, "variables": {"number": 42, "name": "Bo"}})
    _, message = received(deliver(ctx), to)
    assert "Order 42 for Bo" in message.get_body(("html",)).get_content()
    assert api.post("/smtp/emails", json={"email": {"subject": "x", "from": {"email": "a@example.com"},
                                                    "to": [{"email": to}], "template": {"id": 999999}}}).status == 404


@pytest.mark.parametrize(("email", "code"), [
    ({"to": [{"email": "t@example.com"}], "html": "eA=="}, 10),  # no from
    ({"from": {"email": "f@example.com"}, "html": "eA=="}, 11),  # no to
    ({"from": {"email": "f@example.com"}, "to": [{"email": "t@example.com"}]}, 13),  # no content
    ({"from": {"email": "f@example.com"}, "to": [{"email": "nope"}], "html": "eA=="}, 906),
    ({"from": {"email": "f@example.com"}, "to": [{"email": "t@example.com"}], "html": "eA==", "subject": ""}, 720),
    ({"from": {"email": "f@example.com", "name": "A\r\nBcc: x@evil.example"}, "to": [{"email": "t@example.com"}],
      "html": "eA=="}, 800),  # header injection
    ({"from": {"email": "f@example.com"}, "to": [{"email": "t@example.com"}], "html": "eA==",
      "headers": {"X-A": "1\nBcc: x@evil.example"}}, 800),
    ({"from": {"email": "f@example.com"}, "to": [{"email": "t@example.com"}], "html": "eA==",
      "headers": {"Subject": "again"}}, 800),  # reserved header
    ({"from": {"email": "f@example.com"}, "to": [{"email": "t@example.com"}], "html": "eA==",
      "attachments_binary": {"a.bin": "***"}}, 8),
])
def test_bad_messages_are_refused_and_nothing_is_stored(api, email, code):
    email = {"subject": "s", **email}
    answer = api.post("/smtp/emails", json={"email": email})
    assert answer.status in (400, 404) and answer.error_code == code, answer.json
    assert api.get("/smtp/emails").json == []


def test_suppressed_recipients_are_recorded_not_dropped(api, ctx):
    banned, gone, fine = unique("banned"), unique("gone"), unique("fine")
    assert api.post("/blacklist", json={"emails": b64(banned)}).json == {"result": True}
    assert api.post("/smtp/unsubscribe", json={"emails": [{"email": gone, "comment": "asked"}]}).json == {"result": True}
    public_id = send(api, to=[{"email": banned}, {"email": gone}, {"email": fine}])
    transport = deliver(ctx)
    assert [m[1] for m in transport.sent if m[1][0] in (banned, gone, fine)] == [[fine]]
    copies = {c["recipient"]: c for c in api.get(f"/smtp/emails/{public_id}").json["recipients"]}
    assert (copies[banned]["status"], copies[banned]["status_reason"]) == ("suppressed", "blacklisted")
    assert (copies[gone]["status"], copies[gone]["status_reason"]) == ("suppressed", "unsubscribed")
    assert copies[fine]["status"] == "sent"


class Refusing(Recorder):
    """Answers RCPT by address (not by arrival order: other tests' copies may be in the queue)."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        super().__init__()
        self.answers = answers

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802, ANN001, ANN201
        if self.answers.get(address):
            return self.answers[address].pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_relay_4xx_is_retried_and_5xx_is_a_hard_bounce(api, ctx):
    later, bad = unique("later"), unique("bad")
    handler = Refusing({later: ["451 4.7.1 Greylisted, try again"], bad: ["550 5.1.1 No such user"]})
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        transport = from_url(f"smtp://127.0.0.1:{controller.port}?tls=none&pool=2", data_dir=None)
        book = api.new_book()
        api.add_contacts(book, [{"email": bad}])
        first = send(api, to=[{"email": later}])
        second = send(api, to=[{"email": bad}])
        deliver(ctx, transport)
        deferred = api.get(f"/smtp/emails/{first}").json
        assert (deferred["status"], deferred["smtp_answer_code"], deferred["smtp_answer_subcode"]) == (
            "deferred", 451, "4.7.1")
        bounced = api.get(f"/smtp/emails/{second}").json
        assert (bounced["status"], bounced["smtp_answer_code"]) == ("bounced", 550)
        assert "No such user" in bounced["smtp_answer_data"]
        day = api.get("/smtp/bounces/day").json
        assert [(b["email"], b["type"], b["smtp_answer_subcode"]) for b in day] == [(bad, "hard", "5.1.1")]
        assert api.get(f"/addressbooks/{book}/emails/{bad}").json["status"] == 9  # "sending error"

        with ctx.db.transaction() as conn:  # the retry is due: bring it forward instead of waiting a minute
            conn.execute(update(Delivery.__table__).where(Delivery.__table__.c.email == later)
                         .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        deliver(ctx, transport)
        transport.close()
    finally:
        controller.stop()
    assert api.get(f"/smtp/emails/{first}").json["status"] == "sent"
    assert [m[1] for m in handler.messages if m[1][0] in (later, bad)] == [[later]]


def test_refused_content_bounces_the_copy_but_not_the_address(api, ctx):
    spam = unique("spam")
    book = api.new_book()
    api.add_contacts(book, [{"email": spam}])
    handler = Refusing({})
    handler.data_answers = ["554 5.7.1 Message looks like spam"]
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        transport = from_url(f"smtp://127.0.0.1:{controller.port}?tls=none", data_dir=None)
        public_id = send(api, to=[{"email": spam}])
        deliver(ctx, transport)
        transport.close()
    finally:
        controller.stop()
    assert api.get(f"/smtp/emails/{public_id}").json["status"] == "bounced"
    assert [b["smtp_answer_subcode"] for b in api.get("/smtp/bounces/day").json] == ["5.7.1"]
    assert api.get(f"/addressbooks/{book}/emails/{spam}").json["status"] == 1  # still active


def test_a_relay_refusing_our_sender_defers(api, ctx):
    handler = Refusing({})
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        transport = from_url(f"smtp://127.0.0.1:{controller.port}?tls=none", data_dir=None)

        async def refuse_mail(server, session, envelope, address, mail_options):  # noqa: ANN001, ANN202
            return "553 5.7.1 Sender address rejected: not owned by user"

        handler.handle_MAIL = refuse_mail
        public_id = send(api, to=[{"email": unique()}])
        deliver(ctx, transport)
        transport.close()
    finally:
        controller.stop()
    info = api.get(f"/smtp/emails/{public_id}").json
    assert info["status"] == "deferred" and info["smtp_answer_code"] == 553  # kept for the operator to fix
    assert api.get("/smtp/bounces/day").json == []


def test_unreachable_relay_defers(api, ctx):
    to = unique()
    public_id = send(api, to=[{"email": to}])
    dead = from_url("smtp://127.0.0.1:9?tls=none&timeout=2", data_dir=None)  # nothing listens on port 9
    deliver(ctx, dead)
    info = api.get(f"/smtp/emails/{public_id}").json
    assert info["status"] == "deferred" and "cannot connect" in info["smtp_answer_data"]


def test_listing_filters(api, other, ctx):
    a, b = unique("a"), unique("b")
    first = send(api, to=[{"email": a}])
    send(api, to=[{"email": b}], **{"from": {"email": "other@example.com"}})
    send(other, to=[{"email": a}])
    assert [e["id"] for e in api.get("/smtp/emails", params={"recipient": a}).json] == [first]
    assert [e["recipient"] for e in api.get("/smtp/emails", params={"sender": "other@example.com"}).json] == [b]
    assert len(api.get("/smtp/emails").json) == 2
    assert len(api.get("/smtp/emails", params={"limit": 1}).json) == 1
    today = utcnow().strftime("%Y-%m-%d")
    assert len(api.get("/smtp/emails", params={"from": today, "to": today}).json) == 2
    assert api.get("/smtp/emails", params={"to": "2001-01-01"}).json == []
    assert api.get("/smtp/emails", params={"from": "yesterday"}).error_code == 799
    missing = api.get("/smtp/emails/" + "0" * 32)
    assert api.get(f"/smtp/emails/{first}", headers=other.headers).json == missing.json  # tenancy
    assert missing.status == 404


def test_senders_are_checked_when_mail_leaves_the_machine(api, ctx):
    strict = replace(ctx.settings, sender_check="strict")
    assert strict.verify_senders and not replace(ctx.settings, mail_url="capture://").verify_senders
    assert replace(ctx.settings, mail_url="smtp://relay:25").verify_senders
    original, ctx.settings = ctx.settings, strict
    try:
        assert api.post("/smtp/emails", json={"email": {"subject": "s", "from": {"email": "x@unknown.example"},
                                                        "to": [{"email": "t@example.com"}], "text": "t"}}).status == 404
        api.post("/smtp/domains", json={"email": "admin@verified.example"})
        assert api.get("/smtp/domains").json == []  # not verified yet
        assert api.get("/smtp/domains/admin@verified.example").json == {"result": True}
        notice = deliver(ctx)
        _, message = received(notice, "admin@verified.example")
        code = message.get_content().split("Verification code: ")[1].split()[0]
        assert api.post("/smtp/domains/admin@verified.example", json={"code": "wrong"}).error_code == 800
        assert api.post("/smtp/domains/admin@verified.example", json={"code": code}).json == {"result": True}
        assert api.get("/smtp/domains").json == ["@verified.example"]
        send(api, to=[{"email": unique()}], **{"from": {"email": "news@verified.example"}})
    finally:
        ctx.settings = original


def test_unsubscribe_list(api):
    assert api.post("/smtp/unsubscribe", json={"emails": [{"email": "A@example.com", "comment": "c1"},
                                                          {"email": "b@example.com"}]}).json == {"result": True}
    listed = api.get("/smtp/unsubscribe").json
    assert [(e["email"], e["comment"]) for e in listed] == [("a@example.com", "c1"), ("b@example.com", "")]
    assert api.get("/smtp/unsubscribe", params={"day": utcnow().strftime("%Y-%m-%d")}).json == listed
    assert api.get("/smtp/unsubscribe", params={"day": "2016-03-05"}).json == []
    assert api.delete("/smtp/unsubscribe", json={"emails": ["a@example.com"]}).json == {"result": True}
    assert [e["email"] for e in api.get("/smtp/unsubscribe").json] == ["b@example.com"]
    assert api.post("/smtp/unsubscribe", json={"emails": []}).error_code == 1101


def test_ips(api):
    assert api.get("/smtp/ips").json == ["127.0.0.1"]


def test_copies_not_started_before_the_lease_ends_go_back_to_the_queue(api, ctx, monkeypatch):
    from pulsebox.outbox import tasks

    to = unique()
    public_id = send(api, to=[{"email": to}])
    real = tasks.utcnow
    first = iter([real()])  # the claim's lease is computed now; every later look at the clock is a day on
    monkeypatch.setattr(tasks, "utcnow", lambda: next(first, None) or real() + timedelta(days=1))
    transport = MemoryTransport()
    worker = Worker(ctx, transport)
    worker.run_once()
    worker.pool.shutdown()
    monkeypatch.undo()
    assert [m for m in transport.sent if m[1] == [to]] == []  # not sent late...
    assert api.get(f"/smtp/emails/{public_id}").json["status"] == "queued"  # ...but queued again, due now
    with ctx.db.transaction() as conn:  # and the attempt it never made is not counted against its retries
        (row,) = repository.deliveries_of(conn, api.id, "smtp", public_id)
        assert repository.delivery(conn, row["delivery_id"])["attempts"] == 0
    _, message = received(deliver(ctx), to)
    assert message["To"] == to


def test_sent_messages_keep_only_their_links_and_old_ones_are_pruned(api, ctx):
    from pulsebox.models import OutboxMessage
    from pulsebox.outbox import tasks

    to = unique()
    public_id = send(api, to=[{"email": to}], html=b64('<p><a href="https://x.example/a">a</a></p>'),
                     attachments={"a.txt": "attached"})
    deliver(ctx)
    with ctx.db.transaction() as conn:
        (row,) = repository.deliveries_of(conn, api.id, "smtp", public_id)
        assert repository.delivery(conn, row["delivery_id"])["content"] == {"links": ["https://x.example/a"]}
        conn.execute(update(OutboxMessage.__table__).where(OutboxMessage.__table__.c.public_id == public_id)
                     .values(created_at=utcnow() - timedelta(days=91)))
    worker = Worker(ctx, MemoryTransport())
    assert tasks.prune_outbox(worker.pump_context) >= 1
    assert tasks.prune_outbox(worker.pump_context) == 0  # nothing left: it looks again in ten minutes
    worker.pool.shutdown()
    assert api.get(f"/smtp/emails/{public_id}").status == 404


@pytest.mark.parametrize("name", ["Sender", "Return-Path", "DKIM-Signature", "Content-Disposition", "Received",
                                  "Resent-From", "ARC-Seal", "Authentication-Results", "Errors-To",
                                  "X-Pulsebox-Envelope-From", "sender"])
def test_headers_that_name_the_sender_route_or_signature_are_refused(api, name):
    answer = api.post("/smtp/emails", json={"email": {
        "subject": "s", "from": {"email": "f@example.com"}, "to": [{"email": unique()}], "html": b64("<p>x</p>"),
        "headers": {"X-Fine": "1", name: "ceo@bank.example"}}})
    assert answer.status == 400 and answer.error_code == 800, answer.json
    assert name in answer.json["message"]
    assert api.get("/smtp/emails").json == []


def test_allowed_headers_reach_the_message(api, ctx):
    to = unique()
    send(api, to=[{"email": to}], headers={"X-Campaign": "spring", "List-Id": "News <news.example.com>",
                                           "In-Reply-To": "<a@example.com>", "precedence": "bulk"})
    _, message = received(deliver(ctx), to)
    assert (message["X-Campaign"], message["List-Id"], message["In-Reply-To"], message["Precedence"]) == (
        "spring", "News <news.example.com>", "<a@example.com>", "bulk")


def test_html_and_personalisation_are_bounded(api):
    from pulsebox.smtp.schemas import MAX_HTML

    big = {"subject": "s", "from": {"email": "f@example.com"}, "to": [{"email": unique()}],
           "html": b64("x" * (MAX_HTML + 1))}
    assert api.post("/smtp/emails", json={"email": big}).error_code == 8
    # a short placeholder repeated with a long value would multiply into gigabytes
    bomb = {**big, "html": b64("{{a}}" * 100_000), "variables": {"a": "y" * 1000}}
    answer = api.post("/smtp/emails", json={"email": bomb})
    assert answer.status == 400 and answer.error_code == 8, answer.json
    assert api.get("/smtp/emails").json == []


def test_a_round_that_builds_slowly_still_sends_what_it_built(api, ctx, monkeypatch):
    """A round whose building reaches halfway to its lease's end sends what it has built and puts
    the rest back (attempt not spent): slow copies can delay the queue but never stall it."""
    from pulsebox.outbox import tasks

    recipients = [unique() for _ in range(3)]
    for to in recipients:
        send(api, to=[{"email": to}])
    clock = [tasks.monotonic()]
    compose = tasks.Composer.compose

    def slow_compose(self, delivery, template):  # noqa: ANN001, ANN202 - each copy takes 100 s to build
        clock[0] += 100
        return compose(self, delivery, template)

    monkeypatch.setattr(tasks, "monotonic", lambda: clock[0])
    monkeypatch.setattr(tasks.Composer, "compose", slow_compose)
    transport = MemoryTransport()
    worker = Worker(ctx, transport)
    worker.run_once()  # lease 300 s, sending by 270 s, building by 135 s: two copies are built
    worker.pool.shutdown()
    monkeypatch.undo()
    assert len(transport.sent) == 2
    later = deliver(ctx)
    everything = [m[1][0] for m in transport.sent + later.sent]
    assert all(everything.count(to) == 1 for to in recipients)
    for to in recipients:  # the copies put back were sent on their first attempt
        assert api.get("/smtp/emails", params={"recipient": to}).json[0]["status"] == "sent"
