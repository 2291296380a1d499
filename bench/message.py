"""Cost of building one message (delivery/message.py) against the stdlib EmailMessage path, and of
one campaign copy as the delivery pump builds it (``outbox/compose.py``: personalised subject and
body, three signed click links, open pixel, List-Unsubscribe, VERP), in this one process.

    python bench/message.py        # prints microseconds per message for each
"""

from __future__ import annotations

import time
from email.message import EmailMessage
from email.policy import SMTP

from pulsebox.config import Settings
from pulsebox.delivery.render import find_links
from pulsebox.delivery.message import Address, Mail, build
from pulsebox.outbox import content
from pulsebox.outbox.compose import Composer, prepare

HTML = "<html><body>" + "<p>Hello {{name}}, here is the news of the month: " + "lorem ipsum " * 30 + "</p>" * 10 + "</body></html>"
TEXT = "Hello, here is the news of the month.\n" * 40
N = 3000


def ours() -> bytes:
    return build(Mail(Address("news@example.com", "Новини"), [Address("zoe@example.com", "Zoë")], "Тема листа",
                      text=TEXT, html=HTML))


def stdlib() -> bytes:
    message = EmailMessage(policy=SMTP)
    message["From"] = "Новини <news@example.com>"
    message["To"] = "Zoë <zoe@example.com>"
    message["Subject"] = "Тема листа"
    message.set_content(TEXT)
    message.add_alternative(HTML, subtype="html")
    return message.as_bytes()


def timed(fn) -> float:  # noqa: ANN001
    fn()
    start = time.perf_counter()
    for _ in range(N):
        fn()
    return (time.perf_counter() - start) / N * 1e6


CAMPAIGN_HTML = ("<html><body><h1>Hello {{name}}, your order {{number}}</h1>"
                 + "<p>Thank you for shopping with us. Here is what happens next with your parcel.</p>" * 30
                 + '<p><a href="https://shop.example/orders/1">Order</a> <a href="https://shop.example/help">Help</a> '
                   '<a href="https://shop.example/account?x=1&amp;y=2">Account</a></p></body></html>')  # bench/smtp.py's


def campaign_copy() -> callable:
    mail = Mail(Address("shop@example.com", "Shop"), [], "Hello {{name}}", html=CAMPAIGN_HTML)
    stored = {"public_id": "0" * 32, "track_opens": True, "track_clicks": True, "kind": "campaign",
              "sender_email": mail.sender.email, "sender_name": mail.sender.name, "subject": mail.subject,
              "content": content.encode(mail, links=find_links(CAMPAIGN_HTML), list_unsubscribe=True)}
    settings = Settings.from_env()
    composer, prepared = Composer(settings), prepare(stored)
    copies = iter(range(10**9))

    def one() -> bytes:
        i = next(copies)
        return composer.compose({"id": 100_000 + i, "email": f"r{i:07d}@example.com",
                                 "variables": {"name": f"Reader {i}", "number": i}}, prepared)[1]
    return one


if __name__ == "__main__":
    print(f"campaign copy (outbox/compose.py): {timed(campaign_copy()):.1f} us/copy")
    print(f"pulsebox build(): {timed(ours):.0f} us/message; EmailMessage: {timed(stdlib):.0f} us/message "
          f"({len(ours())} bytes)")
