"""The inbound SMTP listener end to end: a real aiosmtpd server on loopback, mail sent with smtplib,
effects checked in the database and through the API."""

from __future__ import annotations

import secrets
import smtplib
from datetime import timedelta

import pytest
from sqlalchemy.exc import OperationalError

from pulsebox import links
from pulsebox.inbound import listener as inbound_listener
from pulsebox.inbound import service
from pulsebox.inbound.listener import Listener, parse_listen
from pulsebox.models import utcnow
from pulsebox.outbox import repository

from inbound_samples import arf_report, delayed_dsn, postfix_dsn, qmail_bounce, unsubscribe_request, vacation_reply


@pytest.fixture
def inbound(ctx):  # noqa: ANN001, ANN201
    server = Listener(ctx, "127.0.0.1:0")
    server.start()
    yield server
    server.stop()


def make_delivery(ctx, account_id: int, email: str, *, status: str = "sent") -> int:  # noqa: ANN001
    """A message already sent to ``email``: one delivery, as the worker leaves it."""
    now = utcnow()
    with ctx.db.transaction() as conn:
        public_id = secrets.token_hex(16)
        message_id = repository.insert_message(conn, {
            "public_id": public_id, "account_id": account_id, "kind": "smtp", "sender_email": "shop@shop.example",
            "subject": "Your order has shipped", "content": {"text": "Shipped."}, "created_at": now})
        repository.insert_deliveries(conn, message_id, account_id, [email], now)
        (row,) = repository.deliveries_of(conn, account_id, "smtp", public_id)
        repository.set_status(conn, row["delivery_id"], status, sent_at=now)
        return row["delivery_id"]


def verp(ctx, delivery_id: int) -> str:  # noqa: ANN001
    return links.return_path(ctx.settings.return_path_domain, ctx.settings.signing_key, delivery_id)


def send(server: Listener, rcpt: str, message: bytes, mail_from: str = "") -> dict:
    """Send as a remote MTA sends a bounce (null reverse path); the refused recipients, if any."""
    with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
        return client.sendmail(mail_from, [rcpt], message)


def bounces(ctx, account_id: int) -> list[dict]:  # noqa: ANN001
    with ctx.db.transaction(write=False) as conn:
        return [dict(r) for r in repository.bounces_since(conn, account_id, utcnow() - timedelta(hours=1), None,
                                                          100, 0)]


def delivery_status(ctx, delivery_id: int) -> str:  # noqa: ANN001
    with ctx.db.transaction(write=False) as conn:
        return repository.delivery(conn, delivery_id)["status"]


def test_hard_bounce_marks_the_delivery_and_the_contact(ctx, api, inbound):  # noqa: ANN001
    book = api.new_book()
    assert api.add_contacts(book, [{"email": "gone@example.org", "variables": {}}]).status == 200
    delivery_id = make_delivery(ctx, api.id, "gone@example.org")
    assert send(inbound, verp(ctx, delivery_id), postfix_dsn(verp(ctx, delivery_id), "gone@example.org")) == {}
    (bounce,) = bounces(ctx, api.id)
    assert (bounce["delivery_id"], bounce["email"], bounce["kind"], bounce["status"], bounce["smtp_code"],
            bounce["source"]) == (delivery_id, "gone@example.org", "hard", "5.1.1", 550, "dsn")
    assert "User unknown" in bounce["diagnostic"]
    assert delivery_status(ctx, delivery_id) == "bounced"
    contact = api.get(f"/addressbooks/{book}/emails/gone@example.org")
    assert contact.status == 200 and contact.json["status"] == 9, contact.json
    # the same DSN again (an MTA that never saw our 250) changes nothing
    send(inbound, verp(ctx, delivery_id), postfix_dsn(verp(ctx, delivery_id), "gone@example.org"))
    assert len(bounces(ctx, api.id)) == 1


def test_a_policy_bounce_bounces_the_copy_but_not_the_address(ctx, api, inbound):  # noqa: ANN001
    book = api.new_book()
    api.add_contacts(book, [{"email": "strict@example.org", "variables": {}}])
    delivery_id = make_delivery(ctx, api.id, "strict@example.org")
    send(inbound, verp(ctx, delivery_id), postfix_dsn(verp(ctx, delivery_id), "strict@example.org", status="5.7.1"))
    (bounce,) = bounces(ctx, api.id)
    assert (bounce["kind"], bounce["status"]) == ("hard", "5.7.1")
    assert delivery_status(ctx, delivery_id) == "bounced"
    assert api.get(f"/addressbooks/{book}/emails/strict@example.org").json["status"] == 1  # spam rules, not the address


def test_delay_warning_is_a_soft_bounce(ctx, api, inbound):  # noqa: ANN001
    book = api.new_book()
    api.add_contacts(book, [{"email": "full@example.org", "variables": {}}])
    delivery_id = make_delivery(ctx, api.id, "full@example.org")
    send(inbound, verp(ctx, delivery_id), delayed_dsn(verp(ctx, delivery_id), "full@example.org"))
    (bounce,) = bounces(ctx, api.id)
    assert (bounce["kind"], bounce["status"], bounce["smtp_code"]) == ("soft", "4.2.2", 452)
    assert delivery_status(ctx, delivery_id) == "sent"
    assert api.get(f"/addressbooks/{book}/emails/full@example.org").json["status"] == 1


def test_plain_text_bounce(ctx, api, inbound):  # noqa: ANN001
    delivery_id = make_delivery(ctx, api.id, "nobody@example.org")
    send(inbound, verp(ctx, delivery_id), qmail_bounce(verp(ctx, delivery_id), "nobody@example.org"))
    (bounce,) = bounces(ctx, api.id)
    assert (bounce["kind"], bounce["status"], bounce["source"]) == ("hard", "5.1.1", "dsn")


def test_abuse_report_is_a_complaint(ctx, api, inbound):  # noqa: ANN001
    book = api.new_book()
    api.add_contacts(book, [{"email": "angry@example.org", "variables": {}}])
    delivery_id = make_delivery(ctx, api.id, "angry@example.org")
    send(inbound, verp(ctx, delivery_id), arf_report(verp(ctx, delivery_id), "angry@example.org"),
         mail_from="fbl@mailbox.example")
    (bounce,) = bounces(ctx, api.id)
    assert (bounce["kind"], bounce["source"], bounce["smtp_code"]) == ("complaint", "arf", None)
    assert "feedback-type abuse" in bounce["diagnostic"]
    assert delivery_status(ctx, delivery_id) == "complained"
    with ctx.db.transaction(write=False) as conn:
        assert repository.unsubscribed(conn, api.id, ["angry@example.org"]) == {"angry@example.org"}
    assert api.get(f"/addressbooks/{book}/emails/angry@example.org").json["status"] == 6


def test_not_spam_report_changes_nothing(ctx, api, inbound):  # noqa: ANN001
    delivery_id = make_delivery(ctx, api.id, "fine@example.org")
    send(inbound, verp(ctx, delivery_id), arf_report(verp(ctx, delivery_id), "fine@example.org",
                                                     feedback_type="not-spam"))
    assert bounces(ctx, api.id) == [] and delivery_status(ctx, delivery_id) == "sent"


def test_mail_to_the_unsubscribe_address_unsubscribes(ctx, api, inbound):  # noqa: ANN001
    delivery_id = make_delivery(ctx, api.id, "leaving@example.org")
    mailto = links.unsubscribe_mailto(ctx.settings.return_path_domain, ctx.settings.signing_key, delivery_id)
    assert send(inbound, mailto, unsubscribe_request(mailto), mail_from="leaving@example.org") == {}
    with ctx.db.transaction(write=False) as conn:
        assert repository.unsubscribed(conn, api.id, ["leaving@example.org"]) == {"leaving@example.org"}
    assert bounces(ctx, api.id) == []


@pytest.mark.parametrize("rcpt", [
    "bounce+1.000000000000000000000000@pulsebox.localhost",  # a forged signature
    "unsubscribe+zz@pulsebox.localhost",
    "postmaster@pulsebox.localhost",
    "someone@example.org",  # no relaying
])
def test_unknown_or_forged_recipient_refused_at_rcpt(ctx, inbound, rcpt):  # noqa: ANN001
    with smtplib.SMTP("127.0.0.1", inbound.port, timeout=10) as client:
        client.ehlo()
        client.mail("")
        code, answer = client.rcpt(rcpt)
    assert (code, answer) == (550, b"5.1.1 No such recipient")


def test_token_of_another_purpose_refused(ctx, api, inbound):  # noqa: ANN001
    delivery_id = make_delivery(ctx, api.id, "x@example.org")
    wrong = "bounce+" + links.sign(ctx.settings.signing_key, links.UNSUBSCRIBE, delivery_id) + "@pulsebox.localhost"
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(inbound, wrong, postfix_dsn(wrong, "x@example.org"))


@pytest.mark.parametrize("body", [
    b"Subject: hello\r\n\r\n\x00\xff\xfe garbage",
    b"not even headers",
])
def test_garbage_and_auto_replies_are_accepted_and_ignored(ctx, api, inbound, body):  # noqa: ANN001
    delivery_id = make_delivery(ctx, api.id, "someone@example.org")
    assert send(inbound, verp(ctx, delivery_id), body) == {}
    assert send(inbound, verp(ctx, delivery_id), vacation_reply(verp(ctx, delivery_id))) == {}
    assert bounces(ctx, api.id) == [] and delivery_status(ctx, delivery_id) == "sent"


def test_bounce_for_a_deleted_delivery_is_accepted_and_dropped(ctx, inbound):  # noqa: ANN001
    missing = verp(ctx, 10**12)
    assert send(inbound, missing, postfix_dsn(missing, "a@example.org")) == {}


def test_one_message_to_several_of_our_addresses(ctx, api, inbound):  # noqa: ANN001
    first = make_delivery(ctx, api.id, "one@example.org")
    second = make_delivery(ctx, api.id, "two@example.org")
    with smtplib.SMTP("127.0.0.1", inbound.port, timeout=10) as client:
        client.sendmail("", [verp(ctx, first), verp(ctx, second)], postfix_dsn(verp(ctx, first), "one@example.org"))
    assert sorted(b["delivery_id"] for b in bounces(ctx, api.id)) == [first, second]


def test_database_error_answers_451_and_writes_nothing(ctx, api, inbound, monkeypatch):  # noqa: ANN001
    delivery_id = make_delivery(ctx, api.id, "later@example.org")

    def broken(conn, delivery, **kwargs):  # noqa: ANN001, ANN003
        raise OperationalError("INSERT INTO bounces", {}, Exception("database is locked"))

    monkeypatch.setattr(service.outbox, "record_bounce", broken)
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send(inbound, verp(ctx, delivery_id), postfix_dsn(verp(ctx, delivery_id), "later@example.org"))
    assert (refused.value.smtp_code, refused.value.smtp_error) == (451, b"4.3.0 try again later")
    assert bounces(ctx, api.id) == [] and delivery_status(ctx, delivery_id) == "sent"


def test_oversized_message_refused(ctx, api, monkeypatch):  # noqa: ANN001
    server = Listener(ctx, "127.0.0.1:0", data_size_limit=1000)
    server.start()
    try:
        delivery_id = make_delivery(ctx, api.id, "big@example.org")
        with pytest.raises(smtplib.SMTPException):
            send(server, verp(ctx, delivery_id), postfix_dsn(verp(ctx, delivery_id), "big@example.org") * 3)
    finally:
        server.stop()
    assert bounces(ctx, api.id) == []


def test_service_process_reports_what_it_did(ctx, api):  # noqa: ANN001
    delivery_id = make_delivery(ctx, api.id, "direct@example.org")
    key = ctx.settings.signing_key
    with ctx.db.transaction() as conn:
        assert service.process(conn, key, "nobody@example.org", b"") == "ignored: not one of our addresses"
        assert service.process(conn, key, verp(ctx, delivery_id), b"junk").startswith("ignored:")
        assert service.process(conn, key, verp(ctx, delivery_id),
                               postfix_dsn("x", "direct@example.org")) == f"hard bounce: delivery {delivery_id} 5.1.1"


def test_listen_addresses():
    assert parse_listen("127.0.0.1:2525") == ("127.0.0.1", 2525)
    assert parse_listen("[::1]:25") == ("::1", 25)
    assert parse_listen(":25") == ("0.0.0.0", 25)
    for bad in ("localhost", "host:port", "host:70000", ""):
        with pytest.raises(ValueError):
            parse_listen(bad)
    assert inbound_listener.DEFAULT_LISTEN == "127.0.0.1:2525"


def test_a_taken_port_fails_at_once(ctx, inbound):  # noqa: ANN001
    with pytest.raises(OSError):
        Listener(ctx, f"127.0.0.1:{inbound.port}").start()
