"""Cost of building one message (delivery/message.py) against the stdlib EmailMessage path.

    python bench/message.py        # prints microseconds per message for both
"""

from __future__ import annotations

import time
from email.message import EmailMessage
from email.policy import SMTP

from pulsebox.delivery.message import Address, Mail, build

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


if __name__ == "__main__":
    print(f"pulsebox build(): {timed(ours):.0f} us/message; EmailMessage: {timed(stdlib):.0f} us/message "
          f"({len(ours())} bytes)")
