"""The SMTP relay transport against a real SMTP server on loopback (aiosmtpd, in-process)."""

from __future__ import annotations

import socket
import threading
from email import message_from_bytes
from email.policy import default

import pytest

from pulsebox.delivery.message import Address, Mail, build
from pulsebox.delivery.transports import DeliveryError, from_url
from pulsebox.delivery.transports.smtp import SmtpRelayTransport

from smtp_servers import auth_server, smtp_server  # noqa: F401 (fixtures)


def _message(to: str = "rcpt@example.com", subject: str = "Hello") -> bytes:
    return build(Mail(Address("from@example.com", "Sender"), [Address(to)], subject, text="Body\n"))


def test_many_messages_over_one_pooled_connection(smtp_server):
    handler, port = smtp_server
    transport = from_url(f"smtp://127.0.0.1:{port}?tls=none&pool=2", data_dir=None)
    assert isinstance(transport, SmtpRelayTransport)
    for i in range(20):
        transport.send("from@example.com", [f"r{i}@example.com"], _message(f"r{i}@example.com", f"n{i}"))
    transport.close()
    assert len(handler.messages) == 20
    assert handler.sessions == 1 and transport.connections_opened == 1
    mail_from, rcpts, raw = handler.messages[7]
    assert (mail_from, rcpts) == ("from@example.com", ["r7@example.com"])
    assert message_from_bytes(raw, policy=default)["Subject"] == "n7"


def test_concurrent_senders_share_a_bounded_pool(smtp_server):
    handler, port = smtp_server
    transport = SmtpRelayTransport(f"smtp://127.0.0.1:{port}?tls=none&pool=3")
    threads = [threading.Thread(target=lambda n=n: [transport.send("f@example.com", [f"t{n}-{i}@example.com"],
                                                                   _message()) for i in range(10)])
               for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    transport.close()
    assert len(handler.messages) == 60
    assert transport.connections_opened <= 3


def test_4xx_is_transient_and_5xx_is_permanent(smtp_server):
    handler, port = smtp_server
    transport = SmtpRelayTransport(f"smtp://127.0.0.1:{port}?tls=none")
    handler.rcpt_answers = ["451 4.7.1 Greylisted, try again later"]
    with pytest.raises(DeliveryError) as transient:
        transport.send("f@example.com", ["grey@example.com"], _message())
    assert not transient.value.permanent and transient.value.code == 451
    transport.send("f@example.com", ["grey@example.com"], _message())  # the retry goes through
    handler.rcpt_answers = ["550 5.1.1 No such user"]
    with pytest.raises(DeliveryError) as permanent:
        transport.send("f@example.com", ["ghost@example.com"], _message())
    assert permanent.value.permanent and permanent.value.recipient and permanent.value.code == 550
    handler.data_answers = ["554 5.6.0 Message rejected"]
    with pytest.raises(DeliveryError) as rejected:
        transport.send("f@example.com", ["x@example.com"], _message())
    assert rejected.value.permanent and not rejected.value.recipient  # the content's fault, not the address's
    transport.send("f@example.com", ["after@example.com"], _message())  # the connection is still usable
    assert [m[1] for m in handler.messages] == [["grey@example.com"], ["after@example.com"]]
    assert transport.connections_opened == 1


def test_auth(auth_server):
    handler, port = auth_server
    good = SmtpRelayTransport(f"smtp://relay:s3cret@127.0.0.1:{port}?tls=none")
    good.send("f@example.com", ["a@example.com"], _message())
    assert len(handler.messages) == 1
    bad = SmtpRelayTransport(f"smtp://relay:wrong@127.0.0.1:{port}?tls=none&timeout=5")
    with pytest.raises(DeliveryError) as refused:
        bad.send("f@example.com", ["a@example.com"], _message())
    # a relay refusing our credentials is ours to fix, not the recipient's bounce: retried
    assert not refused.value.permanent and not refused.value.recipient and refused.value.code == 535


def test_unreachable_server_is_transient():
    transport = SmtpRelayTransport("smtp://127.0.0.1:1?tls=none&timeout=2")
    with pytest.raises(DeliveryError) as failed:
        transport.send("f@example.com", ["a@example.com"], _message())
    assert not failed.value.permanent


@pytest.mark.parametrize("many", [1, 3])
def test_a_dropped_pooled_connection_is_replaced(smtp_server, many):
    """One message (``send``) or several (``send_many``) after the pooled connection was dropped."""
    handler, port = smtp_server
    transport = SmtpRelayTransport(f"smtp://127.0.0.1:{port}?tls=none&pool=1")
    transport.send("f@example.com", ["a@example.com"], _message())
    conn, _ = transport._idle.queue[0]
    conn.sock.shutdown(socket.SHUT_RDWR)  # the server (or a NAT) dropped it while idle
    if many == 1:
        transport.send("f@example.com", ["b0@example.com"], _message())
    else:
        results = transport.send_many([("f@example.com", [f"b{i}@example.com"], _message()) for i in range(many)])
        assert [r.code for r in results] == [250] * many
    assert [m[1] for m in handler.messages] == [["a@example.com"]] + [[f"b{i}@example.com"] for i in range(many)]
    assert transport.connections_opened == 2


@pytest.mark.parametrize(("answer", "permanent", "address_fault"), [
    ("550 5.1.1 No such user", True, True),
    ("550 No such user", True, True),  # no enhanced code: a 550 at RCPT is the mailbox
    ("554 5.7.1 Relay access denied", False, False),  # the relay's policy about us: ours to fix, retried
    ("554 5.7.1 Client host blocked using zen.spamhaus.org", False, False),
    ("553 5.1.8 Sender address rejected: Domain not found", True, False),  # the sender's address, not theirs
    ("554 Your IP 5.1.3.77 is listed", True, False),  # not an enhanced code: the IP is
])
def test_whose_fault_a_refused_recipient_is(smtp_server, answer, permanent, address_fault):
    handler, port = smtp_server
    transport = SmtpRelayTransport(f"smtp://127.0.0.1:{port}?tls=none")
    handler.rcpt_answers = [answer]
    with pytest.raises(DeliveryError) as refused:
        transport.send("f@example.com", ["x@example.com"], _message())
    transport.close()
    assert (refused.value.permanent, refused.value.address_fault) == (permanent, address_fault)


def test_lines_starting_with_a_dot_arrive_as_written(smtp_server):
    """RFC 5321 section 4.5.2: the sender doubles a leading dot, the receiver removes it."""
    handler, port = smtp_server
    transport = SmtpRelayTransport(f"smtp://127.0.0.1:{port}?tls=none")
    raw = b"Subject: dots\r\n\r\n.first\r\n..second\r\n.\r\nlast"  # no CRLF at the end
    transport.send("f@example.com", ["d@example.com"], raw)
    transport.close()
    assert handler.messages[-1][2] == raw + b"\r\n"


def test_some_recipients_refused_among_many(smtp_server):
    handler, port = smtp_server
    transport = SmtpRelayTransport(f"smtp://127.0.0.1:{port}?tls=none")
    handler.rcpt_answers = ["550 5.1.1 No such user"]  # the first RCPT; the others are accepted
    with pytest.raises(DeliveryError) as partly:
        transport.send("f@example.com", ["gone@example.com", "a@example.com", "c@example.com"], _message())
    assert partly.value.permanent and partly.value.code == 550 and "1 of 3" in str(partly.value)
    assert handler.messages[-1][1] == ["a@example.com", "c@example.com"]  # the others got it
    transport.send("f@example.com", ["next@example.com"], _message())  # the connection is still good
    assert handler.messages[-1][1] == ["next@example.com"] and transport.connections_opened == 1


def test_many_messages_go_one_after_another_and_each_gets_its_own_answer(smtp_server):
    """``send_many``: with PIPELINING each message's end and the next one's envelope share a write
    (RFC 2920 section 3.1). A refusal in the middle (sender, recipient, content, an address with a
    line break) is that message's alone: every other arrives once, in order, on one connection."""
    handler, port = smtp_server
    transport = SmtpRelayTransport(f"smtp://127.0.0.1:{port}?tls=none&pool=1")
    handler.mail_answers = ["250 OK", "250 OK", "553 5.1.8 Sender rejected"]  # message 2's MAIL
    handler.rcpt_answers = ["250 OK", "550 5.1.1 No such user"]  # message 1's RCPT
    items = [("f@example.com", [f"m{i}@example.com"], _message(f"m{i}@example.com", f"n{i}")) for i in range(8)]
    items[3] = ("f@example.com", ["bad\r\nRCPT TO:<x@example.com>"], _message())
    results = transport.send_many(items)
    assert [type(r).__name__ for r in results] == ["Receipt", "DeliveryError", "DeliveryError", "DeliveryError"] + \
        ["Receipt"] * 4
    assert results[1].permanent and results[1].recipient and results[1].code == 550
    assert not results[2].permanent and results[2].sender  # our sender refused: ours to fix, retried
    assert results[3].permanent and "line break" in str(results[3])
    assert [m[1] for m in handler.messages] == [[f"m{i}@example.com"] for i in (0, 4, 5, 6, 7)]
    assert [message_from_bytes(m[2], policy=default)["Subject"] for m in handler.messages] == \
        ["n0", "n4", "n5", "n6", "n7"]
    assert transport.connections_opened == 1 and handler.sessions == 1


def test_content_refused_in_the_middle_of_many(smtp_server):
    handler, port = smtp_server
    transport = SmtpRelayTransport(f"smtp://127.0.0.1:{port}?tls=none&pool=1")
    handler.data_answers = ["250 OK"]
    first = transport.send_many([("f@example.com", ["a@example.com"], _message())])
    assert first[0].code == 250 and handler.messages == []  # the scripted 250 kept nothing
    handler.data_answers = ["554 5.6.0 Message rejected"]  # the next message's content
    results = transport.send_many([("f@example.com", [f"c{i}@example.com"], _message()) for i in range(3)])
    assert results[0].permanent and not results[0].recipient and [r.code for r in results[1:]] == [250, 250]
    assert [m[1] for m in handler.messages] == [["c1@example.com"], ["c2@example.com"]]
