"""Bounces, reports and replies as real MTAs write them (Postfix DSNs, qmail, an RFC 5965 report)."""

from __future__ import annotations


def postfix_dsn(to: str, recipient: str, *, action: str = "failed", status: str = "5.1.1",
                diagnostic: str = "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in virtual"
                                  " mailbox table",
                subject: str = "Undelivered Mail Returned to Sender") -> bytes:
    """A Postfix bounce (or, with action="delayed", its delay warning) of one recipient."""
    diagnostic = diagnostic.format(rcpt=recipient)
    head, _, tail = diagnostic.partition(": ")  # Postfix folds long fields at a space
    return f"""\
Return-Path: <>
Received: by mx.example.net (Postfix) id 3F1A21C0123; Mon, 24 Nov 2025 10:00:01 +0000 (UTC)
Date: Mon, 24 Nov 2025 10:00:01 +0000 (UTC)
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
Subject: {subject}
To: {to}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="3F1A21C0123.1763978401/mx.example.net"
Content-Transfer-Encoding: 8bit
Message-Id: <20251124100001.3F1A21C0123@mx.example.net>

This is a MIME-encapsulated message.

--3F1A21C0123.1763978401/mx.example.net
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.net.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

                   The mail system

<{recipient}>: host mx.example.org[203.0.113.5] said: {diagnostic}
    (in reply to RCPT TO command)

--3F1A21C0123.1763978401/mx.example.net
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
X-Postfix-Queue-ID: 3F1A21C0123
X-Postfix-Sender: rfc822; {to}
Arrival-Date: Mon, 24 Nov 2025 09:59:58 +0000 (UTC)

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: {action}
Status: {status}
Remote-MTA: dns; mx.example.org
Diagnostic-Code: smtp; {head}:
    {tail}

--3F1A21C0123.1763978401/mx.example.net
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

Return-Path: <{to}>
Received: from pulsebox.localhost (pulsebox.localhost [198.51.100.7])
\tby mx.example.net (Postfix) with ESMTP id 3F1A21C0123
\tfor <{recipient}>; Mon, 24 Nov 2025 09:59:58 +0000 (UTC)
From: Shop <shop@shop.example>
To: {recipient}
Subject: Your order 5.5.5 has shipped
Message-ID: <abc@pulsebox.localhost>

--3F1A21C0123.1763978401/mx.example.net--
""".replace("\n", "\r\n").encode()


def delayed_dsn(to: str, recipient: str) -> bytes:
    return postfix_dsn(to, recipient, action="delayed", status="4.2.2",
                       diagnostic="452 4.2.2 <{rcpt}>: Mailbox full",
                       subject="Delayed Mail (still being retried)")


def qmail_bounce(to: str, recipient: str, *, reason: str = "Sorry, no mailbox here by that name. (#5.1.1)") -> bytes:
    return f"""\
Return-Path: <>
Date: 24 Nov 2025 10:00:00 -0000
From: MAILER-DAEMON@mx.example.org
To: {to}
Subject: failure notice

Hi. This is the qmail-send program at mx.example.org.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<{recipient}>:
{reason}

--- Below this line is a copy of the message.

Return-Path: <{to}>
From: Shop <shop@shop.example>
To: {recipient}
Subject: Error codes 550 and 5.7.1 explained

Our guide to 550 5.7.1 rejections.
""".replace("\n", "\r\n").encode()


def arf_report(to: str, recipient: str, *, feedback_type: str = "abuse") -> bytes:
    """RFC 5965 appendix B, as a feedback loop sends it to the original's Return-Path."""
    return f"""\
From: <fbl@mailbox.example>
Date: Mon, 24 Nov 2025 11:40:36 +0000
Subject: FW: Your order has shipped
To: <{to}>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
     boundary="part1_13d.2e68ed54_boundary"

--part1_13d.2e68ed54_boundary
Content-Type: text/plain; charset="US-ASCII"
Content-Transfer-Encoding: 7bit

This is an email abuse report for an email message received from IP
198.51.100.7 on Mon, 24 Nov 2025 10:00:00 +0000.

--part1_13d.2e68ed54_boundary
Content-Type: message/feedback-report

Feedback-Type: {feedback_type}
User-Agent: SomeGenerator/1.0
Version: 1
Original-Mail-From: <{to}>
Original-Rcpt-To: <{recipient}>
Arrival-Date: Mon, 24 Nov 2025 10:00:00 +0000
Reporting-MTA: dns; mail.mailbox.example
Source-IP: 198.51.100.7
Authentication-Results: mail.mailbox.example;
               spf=pass smtp.mail={to}
Reported-Domain: shop.example

--part1_13d.2e68ed54_boundary
Content-Type: message/rfc822
Content-Disposition: inline

Return-Path: <{to}>
From: Shop <shop@shop.example>
To: {recipient}
Subject: Your order has shipped
MIME-Version: 1.0
Content-type: text/plain
Message-ID: <abc@pulsebox.localhost>
Date: Mon, 24 Nov 2025 10:00:00 +0000

Your order has shipped.
--part1_13d.2e68ed54_boundary--
""".replace("\n", "\r\n").encode()


def vacation_reply(to: str) -> bytes:
    return f"""\
From: Someone <someone@example.org>
To: {to}
Subject: Out of office: Your order has shipped
Auto-Submitted: auto-replied

I am away until 1 December, with no access to email (error 550 is not mine).
""".replace("\n", "\r\n").encode()


def unsubscribe_request(to: str) -> bytes:
    return f"From: someone@example.org\r\nTo: {to}\r\nSubject: unsubscribe\r\n\r\n".encode()
