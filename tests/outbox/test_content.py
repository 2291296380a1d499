"""The stored form of a message (outbox/content.py): a Mail goes in and the same Mail comes out,
without its Bcc (a Bcc recipient exists only as a delivery)."""

from __future__ import annotations

import json

from pulsebox.delivery.message import Address, Attachment, Mail
from pulsebox.outbox import content


def _row(mail: Mail, stored: dict) -> dict:
    return {"sender_email": mail.sender.email, "sender_name": mail.sender.name, "subject": mail.subject,
            "content": json.loads(json.dumps(stored))}  # as the JSON column gives it back


def test_a_mail_round_trips_through_its_stored_form():
    mail = Mail(sender=Address("shop@example.com", "Shop"), to=[Address("a@example.com", "Ann")],
                cc=[Address("c@example.com")], bcc=[Address("hidden@example.com")], subject="Order ✓",
                text="plain", html="<a href='https://x.example/'>x</a>", reply_to=Address("help@example.com", "Help"),
                headers={"X-Order": "42"}, attachments=[Attachment("a.bin", b"\x00\xff\x10", "application/octet-stream")])
    stored = content.encode(mail, links=["https://x.example/"], list_unsubscribe=False)
    back = content.decode(_row(mail, stored))
    assert back == Mail(sender=mail.sender, to=mail.to, cc=mail.cc, subject=mail.subject, text=mail.text,
                        html=mail.html, reply_to=mail.reply_to, headers=mail.headers, attachments=mail.attachments)
    assert "hidden@example.com" not in json.dumps(stored)
    assert content.links(stored) == ["https://x.example/"]
    assert content.adds_list_unsubscribe(stored) is False
    assert content.size(mail) == len(b"plain") + len(mail.html) + len("Order ✓".encode()) + 3


def test_once_sent_a_message_keeps_its_links_or_nothing():
    stored = content.encode(Mail(sender=Address("s@example.com"), to=[Address("t@example.com")], subject="s",
                                 html="<p>x</p>"), links=["https://a.example/"], list_unsubscribe=True)
    assert content.after_sending(stored, keep_links=True) == {"links": ["https://a.example/"]}
    assert content.after_sending(stored, keep_links=False) == {}
    assert content.links({"links": "not a list"}) == [] and content.links(None) == []
    assert content.adds_list_unsubscribe({}) is True  # rows stored before the switch existed
