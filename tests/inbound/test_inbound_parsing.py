"""DSN (RFC 3464), plain-text bounce and ARF (RFC 5965) parsing, without a network or a database."""

from __future__ import annotations

import pytest

from pulsebox.inbound import arf, dsn, mime

from inbound_samples import arf_report, delayed_dsn, postfix_dsn, qmail_bounce, unsubscribe_request, vacation_reply

VERP = "bounce+1f.0123456789abcdef01234567@bounces.shop.example"


def test_postfix_hard_bounce():
    report = dsn.parse(mime.parse(postfix_dsn(VERP, "Nobody@Example.org")))
    assert report.standard and len(report.recipients) == 1
    (failure,) = report.recipients
    assert failure.final_recipient == failure.original_recipient == "nobody@example.org"
    assert (failure.action, failure.status, failure.smtp_code, failure.kind) == ("failed", "5.1.1", 550, "hard")
    assert failure.diagnostic == ("550 5.1.1 <Nobody@Example.org>: Recipient address rejected: "
                                  "User unknown in virtual mailbox table")
    assert report.failure_for("nobody@example.org") is failure


def test_postfix_delay_warning_is_soft():
    (failure,) = dsn.parse(mime.parse(delayed_dsn(VERP, "full@example.org"))).recipients
    assert (failure.action, failure.status, failure.smtp_code, failure.kind) == ("delayed", "4.2.2", 452, "soft")


def test_success_notice_is_no_failure():
    report = dsn.parse(mime.parse(postfix_dsn(VERP, "ok@example.org", action="delivered", status="2.0.0",
                                              diagnostic="250 2.0.0 Ok: queued as 123")))
    assert report.recipients[0].kind is None and report.failure_for("ok@example.org") is None


@pytest.mark.parametrize(("status", "action", "kind"), [
    ("5.1.1", "failed", "hard"),
    ("5.7.1", "", "hard"),  # no Action: the status class decides
    ("4.4.7", "failed", "soft"),  # gave up on a temporary error: still not the address's fault
    ("4.2.2", "delayed", "soft"),
    ("5.1.1", "delayed", "soft"),  # delayed means "still trying", whatever the status
    ("", "failed", "hard"),
    ("2.0.0", "delivered", None),
    ("2.0.0", "relayed", None),
    ("2.0.0", "expanded", None),
    ("5.1.1", "delivered", None),
    ("", "", None),
])
def test_classify(status, action, kind):
    assert dsn.classify(status, action) == kind


def test_report_with_several_recipients_picks_ours_else_the_worst():
    raw = postfix_dsn(VERP, "a@example.org").replace(
        b"Final-Recipient: rfc822; a@example.org",
        b"Final-Recipient: rfc822; other@example.org\r\nAction: delayed\r\nStatus: 4.4.1\r\n\r\n"
        b"Final-Recipient: rfc822; a@example.org")
    report = dsn.parse(mime.parse(raw))
    assert [r.final_recipient for r in report.recipients] == ["other@example.org", "a@example.org"]
    assert report.failure_for("a@example.org").status == "5.1.1"
    assert report.failure_for("forwarded@elsewhere.example").kind == "hard"


def test_report_nested_in_a_multipart_is_found():
    inner = postfix_dsn(VERP, "a@example.org")
    raw = (b"From: gateway@example.org\r\nTo: " + VERP.encode() + b"\r\nSubject: bounce\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nsee below\r\n"
           b"--XX\r\nContent-Type:" + inner.split(b"Content-Type:", 1)[1] + b"\r\n--XX--\r\n")
    assert dsn.parse(mime.parse(raw)).recipients[0].kind == "hard"


def test_qmail_plain_bounce_is_hard_by_its_status():
    report = dsn.parse(mime.parse(qmail_bounce(VERP, "nobody@example.org")))
    assert not report.standard
    (failure,) = report.recipients
    assert (failure.kind, failure.status) == ("hard", "5.1.1")
    assert failure.diagnostic == "Sorry, no mailbox here by that name. (#5.1.1)"


def test_plain_bounce_with_a_55x_code_is_hard():
    raw = qmail_bounce(VERP, "x@example.org", reason="Remote host said: 554 delivery error: dd This user doesn't "
                                                     "have an account")
    (failure,) = dsn.parse(mime.parse(raw)).recipients
    assert (failure.kind, failure.status, failure.smtp_code) == ("hard", "5.0.0", 554)


def test_plain_bounce_otherwise_soft_and_the_quoted_original_does_not_count():
    # the returned copy below the qmail marker mentions "550 5.7.1": it must not make this hard
    reason = ("Remote host said: 452 mailbox over quota\r\n"
              "I'm not going to try again; this message has been in the queue too long.")
    raw = qmail_bounce(VERP, "x@example.org", reason=reason)
    (failure,) = dsn.parse(mime.parse(raw)).recipients
    assert (failure.kind, failure.status, failure.smtp_code) == ("soft", "4.0.0", 452)


def test_auto_replies_and_garbage_are_not_bounces():
    assert dsn.parse(mime.parse(vacation_reply(VERP))) is None
    assert dsn.parse(mime.parse(unsubscribe_request(VERP))) is None
    assert dsn.parse(mime.parse(b"\x00\xff garbage \r\n\r\n\r\n: : :")) is None
    assert dsn.parse(mime.parse(b"")) is None
    assert arf.parse(mime.parse(b"Content-Type: multipart/report; report-type=feedback-report\r\n\r\nno parts")) is None


def test_arf_abuse_report():
    report = arf.parse(mime.parse(arf_report(VERP, "Reader@Example.org")))
    assert report.is_complaint
    assert (report.feedback_type, report.user_agent, report.original_rcpt_to, report.source_ip) == (
        "abuse", "SomeGenerator/1.0", "reader@example.org", "198.51.100.7")
    assert report.diagnostic().startswith("feedback-type abuse; user-agent SomeGenerator/1.0")
    # an ARF report is not a DSN: its text part holds no failure for the plain-text heuristic to see
    assert dsn.parse_report(mime.parse(arf_report(VERP, "r@example.org"))) is None


@pytest.mark.parametrize(("feedback_type", "complaint"), [
    ("abuse", True), ("fraud", True), ("virus", True), ("not-spam", False), ("auth-failure", False),
    ("other", False),
])
def test_arf_feedback_types(feedback_type, complaint):
    report = arf.parse(mime.parse(arf_report(VERP, "r@example.org", feedback_type=feedback_type)))
    assert report.feedback_type == feedback_type and report.is_complaint is complaint


def test_a_dsn_is_not_an_abuse_report():
    assert arf.parse(mime.parse(postfix_dsn(VERP, "a@example.org"))) is None
