"""Mail really leaves and really comes back: a live ``pulsebox serve`` relays over SMTP to an aiosmtpd
server run by this module, and everything that happens to a message afterwards arrives the way it
would in production: a browser loading the open pixel and following a tracked link, a mailbox
provider's RFC 8058 one-click unsubscribe POST, an RFC 3464 bounce mailed to the inbound listener
at the VERP return path, a sender's activation code and a double-opt-in link read out of the mail.

The server is this module's own (not the session ``live_server``, which captures into a Maildir):
``PULSEBOX_MAIL_URL=smtp://127.0.0.1:<port>?tls=none`` to a ``Recorder`` (tests/smtp_servers.py),
``PULSEBOX_INBOUND_SMTP`` on a second port, its own data directory and database (SQLite, and a
fresh PostgreSQL database when ``PULSEBOX_TEST_BACKENDS`` names it), so no other server's worker
can claim its mail. Mail that leaves the machine needs an active sender (``verify_senders`` is
strict for smtp://), so the module first activates one with the code the server mails.

Sends go through the real clients (pysendpulse 0.1.8 and the Node ``sendpulse-api``); the calls
they have no method for (templates, double opt-in, bounce and unsubscribe lists) use httpx.
"""

from __future__ import annotations

import re
import smtplib
from collections.abc import Iterator
from email.utils import formatdate, make_msgid
from pathlib import Path

import httpx
import pytest

from .e2e_helpers import (
    BACKENDS,
    BROWSER_UA,
    FlowRecorder,
    Relaying,
    activation_code,
    b64,
    node_modules_ready,
    poll,
    relaying_server,
    run_node_scenario,
    unique,
)

pytestmark = pytest.mark.e2e

VERP = re.compile(r"bounce\+[0-9a-f.]+@[\w.-]+")
STATUS_TIMEOUT = 10.0  # seconds for the worker to record an outcome after the SMTP answer


class Flow(Relaying):
    """The module's server, and the SMTP API calls its tests make through pysendpulse."""

    def email_info(self, public_id: str) -> dict:
        info = self.sp.smtp_get_email_info_by_id(public_id)
        assert isinstance(info, dict) and not info.get("data", {}).get("is_error"), info
        return info

    def wait_status(self, public_id: str, status: str, timeout: float = STATUS_TIMEOUT) -> dict:
        last: dict = {}

        def probe() -> dict | None:
            nonlocal last
            last = self.email_info(public_id)
            return last if last.get("status") == status else None

        return poll(f"GET /smtp/emails/{public_id} status {status!r}", probe, timeout=timeout,
                    detail=lambda: f"last answer: {last}\n{self.server.server_output()}")

    def send(self, to: str, *, subject: str, html: str, text: str | None = None) -> str:
        """POST /smtp/emails through pysendpulse; the message id."""
        answer = self.sp.smtp_send_mail({
            "subject": subject, "html": html, "text": text,
            "from": {"name": "E2E Shop", "email": self.sender}, "to": [{"name": "", "email": to}],
        })
        assert isinstance(answer, dict) and answer.get("result") is True, answer
        assert isinstance(answer.get("id"), str) and answer["id"], answer
        return answer["id"]


@pytest.fixture(scope="module", params=BACKENDS)
def flow(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    with relaying_server(tmp_path_factory.mktemp(f"mailflow-{request.param}"), request.param, FlowRecorder()) as r:
        yield Flow(**vars(r))


def parsed_addresses(header) -> list[tuple[str, str]]:  # noqa: ANN001
    return [(a.display_name, a.addr_spec) for a in header.addresses]


# ------------------------------------------------------------------------------------------------ #
#                                 1, 2: sending through the clients                                #
# ------------------------------------------------------------------------------------------------ #


def test_pysendpulse_smtp_send_mail_arrives(flow: Flow):
    to = f"{unique('rcpt')}@example.net"
    tag = unique("")
    subject = f"Order Zoë {tag}"
    html = f"<html><body><h1>Hello Zoë</h1><p>Order {tag} is on its way.</p></body></html>"
    answer = flow.sp.smtp_send_mail({
        "subject": subject, "html": html, "text": f"Order {tag} is on its way (text).",
        "from": {"name": "Shop Ünal", "email": flow.sender}, "to": [{"name": "Rcpt Name", "email": to}],
    })
    assert isinstance(answer, dict) and answer.get("result") is True, answer
    assert isinstance(answer.get("id"), str) and answer["id"], answer

    [got] = flow.sink.wait_for(to, server=flow.server)
    assert got.rcpts == [to]
    assert VERP.fullmatch(got.mail_from), got.mail_from  # the envelope sender is the VERP return path
    assert got.message["Subject"] == subject
    assert parsed_addresses(got.message["From"]) == [("Shop Ünal", flow.sender)]
    assert parsed_addresses(got.message["To"]) == [("Rcpt Name", to)]
    assert "<h1>Hello Zoë</h1>" in got.html and f"Order {tag} is on its way." in got.html
    assert f"Order {tag} is on its way (text)." in got.text

    info = flow.wait_status(answer["id"], "sent")
    assert info["id"] == answer["id"] and info["recipient"] == to and info["sender"] == flow.sender
    assert info["subject"] == subject and info["smtp_answer_code"] == 250, info


def test_pysendpulse_send_with_api_template_arrives(flow: Flow):
    tag = unique("")
    body = f"<html><body><p>Dear {{{{name}}}}, your code is {{{{code}}}} ({tag}).</p></body></html>"
    created = flow.api.ok("POST", "/template", json={"name": f"tpl-{tag}", "body": b64(body), "lang": "en"})
    assert created.get("result") is True and isinstance(created.get("real_id"), int), created

    to = f"{unique('tpl')}@example.net"
    answer = flow.sp.smtp_send_mail_with_template({
        "subject": f"Template {tag}",
        "template": {"id": created["real_id"], "variables": {"name": "Zoë Ünal", "code": "4711"}},
        "from": {"name": "E2E Shop", "email": flow.sender}, "to": [{"name": "Zoë", "email": to}],
    })
    assert isinstance(answer, dict) and answer.get("result") is True and answer.get("id"), answer

    [got] = flow.sink.wait_for(to, server=flow.server)
    assert got.message["Subject"] == f"Template {tag}"
    assert parsed_addresses(got.message["From"]) == [("E2E Shop", flow.sender)]
    assert parsed_addresses(got.message["To"]) == [("Zoë", to)]
    assert f"Dear Zoë Ünal, your code is 4711 ({tag})." in got.html, got.html
    assert "{{" not in got.html
    flow.wait_status(answer["id"], "sent")


def test_node_smtp_send_mail_arrives(flow: Flow, tmp_path: Path):
    node_modules_ready()
    to = f"{unique('node')}@example.net"
    run = run_node_scenario(flow.server, flow.account, tmp_path, "smtp",
                            extra_env={"PULSEBOX_E2E_SMTP_FROM": flow.sender, "PULSEBOX_E2E_SMTP_TO": to})
    send = run["send"]
    assert isinstance(send, dict) and send.get("result") is True and not send.get("is_error"), send
    assert isinstance(send.get("id"), str) and send["id"], send
    info = run.get("info")
    assert isinstance(info, dict) and info.get("id") == send["id"] and info.get("recipient") == to, info

    [got] = flow.sink.wait_for(to, server=flow.server)
    assert got.rcpts == [to]
    assert got.message["Subject"] == run["email"]["subject"]
    assert parsed_addresses(got.message["From"]) == [("Node Sender Ünal", flow.sender)]
    assert parsed_addresses(got.message["To"]) == [("Node Rcpt", to)]
    assert run["html"] in got.html, (run["html"], got.html)
    flow.wait_status(send["id"], "sent")


# ------------------------------------------------------------------------------------------------ #
#                                  3: opens and clicks from a browser                              #
# ------------------------------------------------------------------------------------------------ #


def test_open_and_click_are_tracked(flow: Flow):
    to = f"{unique('reader')}@example.net"
    target = "https://shop.example.org/landing?utm=e2e&x=1"
    html = (f'<html><body><p>New arrivals.</p><p><a href="{target.replace("&", "&amp;")}">See them</a></p>'
            '<p><a href="https://shop.example.org/other">Other</a></p></body></html>')
    public_id = flow.send(to, subject="Tracked", html=html)
    [got] = flow.sink.wait_for(to, server=flow.server)

    base = re.escape(flow.server.base_url)
    pixels = re.findall(rf'<img src="({base}/t/o/[0-9a-f.]+)"', got.html)
    clicks = re.findall(rf'<a href="({base}/t/c/[0-9a-f.]+)"', got.html)
    assert len(pixels) == 1 and len(clicks) == 2, got.html
    assert "shop.example.org" not in got.html, "a link was left untracked"

    with httpx.Client(timeout=10, headers={"User-Agent": BROWSER_UA}) as browser:
        pixel = browser.get(pixels[0])
        assert pixel.status_code == 200 and pixel.headers["content-type"] == "image/gif", pixel
        assert pixel.content.startswith(b"GIF89a")
        redirect = browser.get(clicks[0], follow_redirects=False)
    assert redirect.status_code == 302, (redirect.status_code, redirect.text)
    assert redirect.headers["location"] == target  # the browser's URL: "&amp;" decoded

    tracking = flow.email_info(public_id)["tracking"]
    assert tracking["open"] >= 1 and tracking["click"] >= 1, tracking
    assert [link["url"] for link in tracking["link"]] == [target], tracking
    assert tracking["link"][0]["browser"].startswith("Chrome"), tracking
    assert tracking["client_info"] and tracking["client_info"][0]["browser"].startswith("Chrome"), tracking
    assert tracking["client_info"][0]["os"].startswith("Windows"), tracking
    assert tracking["client_info"][0]["ip"] == "127.0.0.1", tracking


# ------------------------------------------------------------------------------------------------ #
#                                  4: RFC 8058 one-click unsubscribe                               #
# ------------------------------------------------------------------------------------------------ #


def test_one_click_unsubscribe_suppresses_the_next_message(flow: Flow):
    to = f"{unique('leaver')}@example.net"
    first = flow.send(to, subject="Newsletter 1", html="<p>Issue one</p>")
    [got] = flow.sink.wait_for(to, server=flow.server)
    header = str(got.message["List-Unsubscribe"])
    assert str(got.message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click", dict(got.message.items())
    https = re.findall(r"<(https?://[^>]+)>", header)
    assert len(https) == 1 and https[0].startswith(f"{flow.server.base_url}/t/u/"), header
    assert re.search(r"<mailto:[^>]+>", header), header

    # a link scanner's GET shows the page and changes nothing (RFC 8058 section 3.1: only the POST acts)
    page = httpx.get(https[0], headers={"User-Agent": BROWSER_UA}, timeout=10)
    assert page.status_code == 200 and "<form" in page.text, (page.status_code, page.text[:500])
    assert to not in {row["email"] for row in flow.api.ok("GET", "/smtp/unsubscribe")}

    # what a mailbox provider sends (RFC 8058 section 3.2): a form-encoded POST, no cookies, no auth
    r = httpx.post(https[0], data={"List-Unsubscribe": "One-Click"}, timeout=10)
    assert r.status_code == 200, (r.status_code, r.text)

    second = flow.send(to, subject="Newsletter 2", html="<p>Issue two</p>")
    info = flow.wait_status(second, "suppressed")
    assert info["status_reason"] == "unsubscribed", info
    assert len(flow.sink.to(to)) == 1, [m.message["Subject"] for m in flow.sink.to(to)]
    assert flow.email_info(first)["status"] == "sent"

    listed = {row["email"]: row for row in flow.api.ok("GET", "/smtp/unsubscribe")}
    assert to in listed, listed
    assert listed[to]["date"], listed[to]


# ------------------------------------------------------------------------------------------------ #
#                          5: an RFC 3464 bounce at the VERP return path                           #
# ------------------------------------------------------------------------------------------------ #


def dsn(verp: str, recipient: str, original: bytes) -> bytes:
    """A delivery status notification as Postfix writes one (RFC 3464, RFC 6522)."""
    boundary = "B0UNCE.1712345678/mx.example.net"
    headers = original.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    return "\r\n".join([
        "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)",
        f"To: {verp}",
        "Subject: Undelivered Mail Returned to Sender",
        f"Date: {formatdate(localtime=False)}",
        f"Message-ID: {make_msgid(domain='mx.example.net')}",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
        "",
        "This is a MIME-encapsulated message.",
        "",
        f"--{boundary}",
        "Content-Description: Notification",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        "This is the mail system at host mx.example.net.",
        "",
        "I'm sorry to have to inform you that your message could not",
        "be delivered to one or more recipients.",
        "",
        f"<{recipient}>: host mx.example.net[192.0.2.25] said: 550 5.1.1",
        f"    <{recipient}>: Recipient address rejected: User unknown in virtual mailbox",
        "    table (in reply to RCPT TO command)",
        "",
        f"--{boundary}",
        "Content-Description: Delivery report",
        "Content-Type: message/delivery-status",
        "",
        "Reporting-MTA: dns; mx.example.net",
        "X-Postfix-Queue-ID: 4VxYz1234",
        f"Arrival-Date: {formatdate(localtime=False)}",
        "",
        f"Final-Recipient: rfc822; {recipient}",
        f"Original-Recipient: rfc822;{recipient}",
        "Action: failed",
        "Status: 5.1.1",
        "Remote-MTA: dns; mx.example.net",
        f"Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: User",
        "    unknown in virtual mailbox table",
        "",
        f"--{boundary}",
        "Content-Description: Undelivered Message Headers",
        "Content-Type: text/rfc822-headers",
        "",
        headers,
        "",
        f"--{boundary}--",
        "",
    ]).encode("utf-8")


def test_dsn_to_the_verp_address_is_a_hard_bounce(flow: Flow):
    book = flow.sp.add_addressbook(unique("bounce-book-"))
    assert isinstance(book, dict) and isinstance(book.get("id"), int), book
    to = f"{unique('gone')}@example.net"
    assert flow.sp.add_emails_to_addressbook(book["id"], [{"email": to}]) == {"result": True}
    assert flow.sp.get_email_info_from_one_addressbooks(book["id"], to)["status"] != 9

    public_id = flow.send(to, subject="Your invoice", html="<p>Invoice attached.</p>")
    [got] = flow.sink.wait_for(to, server=flow.server)
    assert VERP.fullmatch(got.mail_from), got.mail_from
    flow.wait_status(public_id, "sent")

    def connect() -> smtplib.SMTP | None:
        try:
            return smtplib.SMTP("127.0.0.1", flow.inbound_port, timeout=10)
        except OSError:
            return None

    inbound = poll(f"the inbound listener on 127.0.0.1:{flow.inbound_port} (PULSEBOX_INBOUND_SMTP)", connect,
                   timeout=5, detail=flow.server.server_output)
    with inbound:
        # a DSN has the null reverse path (RFC 5321 section 4.5.5); RCPT TO is the VERP address
        refused = inbound.sendmail("", [got.mail_from], dsn(got.mail_from, to, got.raw))
    assert refused == {}, refused

    info = flow.wait_status(public_id, "bounced")
    assert "5.1.1" in (info["status_reason"] or ""), info
    bounces = flow.api.ok("GET", "/smtp/bounces/day")
    mine = [b for b in bounces if b["email"] == to]
    assert len(mine) == 1 and mine[0]["type"] == "hard", bounces
    assert mine[0]["smtp_answer_subcode"] == "5.1.1" and mine[0]["smtp_answer_code"] == 550, mine
    assert flow.sp.get_email_info_from_one_addressbooks(book["id"], to)["status"] == 9  # "sending error"


def test_mailto_unsubscribe_through_the_inbound_listener(flow: Flow):
    to = f"{unique('mailto')}@example.net"
    first = flow.send(to, subject="Digest 1", html="<p>Digest one</p>")
    [got] = flow.sink.wait_for(to, server=flow.server)
    mailto = re.search(r"<mailto:([^>?]+)>", str(got.message["List-Unsubscribe"]))
    assert mailto, got.message["List-Unsubscribe"]
    # what a mail client sends for the mailto: of List-Unsubscribe (RFC 2369): any message will do
    with smtplib.SMTP("127.0.0.1", flow.inbound_port, timeout=10) as inbound:
        refused = inbound.sendmail(to, [mailto[1]], (f"From: <{to}>\r\nTo: <{mailto[1]}>\r\n"
                                                     "Subject: unsubscribe\r\n\r\nunsubscribe\r\n").encode())
    assert refused == {}, refused
    assert to in {row["email"] for row in flow.api.ok("GET", "/smtp/unsubscribe")}
    second = flow.send(to, subject="Digest 2", html="<p>Digest two</p>")
    assert flow.wait_status(second, "suppressed")["status_reason"] == "unsubscribed"
    assert len(flow.sink.to(to)) == 1 and flow.email_info(first)["status"] == "sent"


def test_5xx_at_rcpt_is_a_hard_bounce(flow: Flow):
    book_id = flow.sp.add_addressbook(unique("rcpt-book-"))["id"]
    to = f"{unique('nouser')}@example.net"
    assert flow.sp.add_emails_to_addressbook(book_id, [{"email": to}]) == {"result": True}
    flow.sink.handler.refuse[to] = "550 5.1.1 <%s>: Recipient address rejected: User unknown" % to
    public_id = flow.send(to, subject="Welcome", html="<p>Welcome</p>")
    info = flow.wait_status(public_id, "bounced")
    assert info["smtp_answer_code"] == 550 and info["smtp_answer_subcode"] == "5.1.1", info
    assert flow.sink.to(to) == []
    mine = [b for b in flow.api.ok("GET", "/smtp/bounces/day") if b["email"] == to]
    assert len(mine) == 1 and mine[0]["type"] == "hard", mine
    assert flow.sp.get_email_info_from_one_addressbooks(book_id, to)["status"] == 9


def test_inbound_refuses_addresses_it_did_not_sign(flow: Flow):
    with smtplib.SMTP("127.0.0.1", flow.inbound_port, timeout=10) as inbound:
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            inbound.sendmail("", ["bounce+1.000000000000000000000000@pulsebox.localhost"], b"Subject: x\r\n\r\nx\r\n")


# ------------------------------------------------------------------------------------------------ #
#                              6, 7: codes and links that travel by mail                           #
# ------------------------------------------------------------------------------------------------ #


def test_sender_activation_code_arrives_by_smtp(flow: Flow):
    email = f"{unique('sender')}@e2e-shop.example.com"
    assert flow.sp.add_sender(email, "New Sender") == {"result": True}
    assert {s["email"]: s for s in flow.sp.get_list_of_senders()}[email]["status"] != "Active"

    requested = flow.api.ok("GET", f"/senders/{email}/code")
    assert requested.get("result") is True, requested
    [mail] = flow.sink.wait_for(email, server=flow.server)
    assert mail.rcpts == [email] and VERP.fullmatch(mail.mail_from), (mail.rcpts, mail.mail_from)
    assert parsed_addresses(mail.message["To"])[0][1] == email
    assert "List-Unsubscribe" not in mail.message  # a system notice, not a mailing
    code = activation_code(mail.message)

    wrong = flow.api.request("POST", f"/senders/{email}/code", json={"code": f"x{code}x"})
    assert 400 <= wrong.status_code < 500 and wrong.json().get("is_error"), (wrong.status_code, wrong.text)
    assert flow.api.ok("POST", f"/senders/{email}/code", json={"code": code}).get("result") is True
    assert {s["email"]: s for s in flow.sp.get_list_of_senders()}[email]["status"] == "Active"


def test_double_opt_in_confirmation_link(flow: Flow):
    book_id = flow.sp.add_addressbook(unique("doi-book-"))["id"]
    subscriber = f"{unique('sub')}@example.net"
    added = flow.api.ok("POST", f"/addressbooks/{book_id}/emails", json={
        "emails": [{"email": subscriber, "variables": {"name": "Zoë"}}],
        "confirmation": "force", "sender_email": flow.sender, "message_lang": "en",
    })
    assert added == {"result": True}, added

    [mail] = flow.sink.wait_for(subscriber, server=flow.server)
    assert parsed_addresses(mail.message["From"])[0][1] == flow.sender
    base = re.escape(flow.server.base_url)
    found = sorted(set(re.findall(rf"{base}/t/confirm/[0-9a-f.]+", mail.text)))
    assert len(found) == 1, mail.text
    link = found[0]

    assert flow.sp.get_email_info_from_one_addressbooks(book_id, subscriber)["status"] == 2  # awaiting confirmation
    r = httpx.get(link, headers={"User-Agent": BROWSER_UA}, timeout=10)
    assert r.status_code == 200, (r.status_code, r.text[:500])
    assert flow.sp.get_email_info_from_one_addressbooks(book_id, subscriber)["status"] == 1  # active
    # a second visit (a reload, a mail scanner) changes nothing
    assert httpx.get(link, timeout=10).status_code == 200
    assert flow.sp.get_email_info_from_one_addressbooks(book_id, subscriber)["status"] == 1
