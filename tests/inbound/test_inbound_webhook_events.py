"""What comes back by mail reaches the webhooks: a DSN's hard bounce, an ARF complaint (the SMTP
webhook's ``spam_by_user``, and an ``unsubscribe`` from every list, ``from_all``), a mail to the
List-Unsubscribe ``mailto:`` (the SMTP webhook's ``unsubscribed``). The events are checked as queued
(their posting is tests/webhooks' and the e2e module's)."""

from __future__ import annotations

from sqlalchemy import select

from pulsebox import links
from pulsebox.inbound import service
from pulsebox.models import Webhook, WebhookEvent

from inbound_samples import arf_report, postfix_dsn, unsubscribe_request
from test_inbound_listener import make_delivery, verp

HOOKS = "/v2/email-service/webhook"
URL = "https://93.184.215.14/hook"  # a public address: nothing is posted in a test


def queued(ctx, account_id: int) -> dict[str, list[dict]]:  # noqa: ANN001
    """The account's queued events, by webhook action."""
    W, E = Webhook.__table__, WebhookEvent.__table__
    with ctx.db.transaction(write=False) as conn:
        rows = conn.execute(select(W.c.action, E.c.payload).join(E, E.c.webhook_id == W.c.id)
                            .where(W.c.account_id == account_id).order_by(E.c.id)).all()
    out: dict[str, list[dict]] = {}
    for action, payload in rows:
        out.setdefault(action, []).extend(payload)
    return out


def subscribe(api) -> None:  # noqa: ANN001
    assert api.post(HOOKS, json={"url": URL, "service": "smtp",
                                 "actions": ["hard_bounces", "spam_by_user", "unsubscribed"]}).status == 200
    assert api.post(HOOKS, json={"url": URL, "actions": ["unsubscribe"]}).status == 200


def process(ctx, rcpt: str, message: bytes) -> str:  # noqa: ANN001
    with ctx.db.transaction() as conn:
        return service.process(conn, ctx.settings.signing_key, rcpt, message)


def test_a_dsn_is_the_smtp_webhooks_hard_bounce(ctx, api):  # noqa: ANN001
    subscribe(api)
    delivery_id = make_delivery(ctx, api.id, "gone@example.org")
    process(ctx, verp(ctx, delivery_id), postfix_dsn(verp(ctx, delivery_id), "gone@example.org"))
    [event] = queued(ctx, api.id)["hard_bounces"]
    assert (event["event"], event["recipient"], event["sender"], event["subject"]) == \
        ("hard_bounces", "gone@example.org", "shop@shop.example", "Your order has shipped")
    assert (event["smtp_server_response_code"], event["smtp_server_response_subcode"]) == (550, "5.1.1")
    assert "User unknown" in event["smtp_server_response"] and isinstance(event["timestamp"], int)


def test_a_complaint_is_spam_by_user_and_an_unsubscribe_from_every_list(ctx, api):  # noqa: ANN001
    subscribe(api)
    books = [api.new_book(), api.new_book()]
    for book in books:
        api.add_contacts(book, [{"email": "angry@example.org"}])
    delivery_id = make_delivery(ctx, api.id, "angry@example.org")
    process(ctx, verp(ctx, delivery_id), arf_report(verp(ctx, delivery_id), "angry@example.org"))
    events = queued(ctx, api.id)
    [spam] = events["spam_by_user"]
    assert (spam["recipient"], spam["subject"]) == ("angry@example.org", "Your order has shipped")
    assert sorted((e["book_id"], e["from_all"], e["email"]) for e in events["unsubscribe"]) == \
        [(b, True, "angry@example.org") for b in sorted(books)]


def test_a_mail_to_the_unsubscribe_address_is_the_smtp_webhooks_unsubscribed(ctx, api):  # noqa: ANN001
    subscribe(api)
    delivery_id = make_delivery(ctx, api.id, "leaving@example.org")
    mailto = links.unsubscribe_mailto(ctx.settings.return_path_domain, ctx.settings.signing_key, delivery_id)
    process(ctx, mailto, unsubscribe_request(mailto))
    [event] = queued(ctx, api.id)["unsubscribed"]
    assert (event["event"], event["recipient"]) == ("unsubscribed", "leaving@example.org")
