"""Abuse reports: the Abuse Reporting Format of RFC 5965, what mailbox providers' feedback loops send
when a recipient presses "this is spam".

A report is ``multipart/report; report-type=feedback-report``: a human-readable part, a
``message/feedback-report`` part of fields (``Feedback-Type``, ``User-Agent``, ``Version``,
``Original-Rcpt-To``, ``Arrival-Date``, ``Source-IP`` ...), then the original message or its
headers. Feedback loops send it to the original's Return-Path, which is our VERP address: that
address, not the report, names the delivery.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message

from pulsebox.inbound import mime

FEEDBACK_TYPES = ("message/feedback-report", "text/feedback-report")
# RFC 5965 section 7.3 (and RFC 6591's auth-failure): a recipient's complaint is abuse, fraud or
# virus; "not-spam" undoes a complaint and "auth-failure" is a DKIM/SPF failure report, "other" is
# unspecified: none of those three is counted against the recipient's address
COMPLAINT_TYPES = ("abuse", "fraud", "virus")


@dataclass(frozen=True)
class FeedbackReport:
    feedback_type: str  # lowercase: abuse | fraud | virus | other | not-spam | auth-failure | ...
    user_agent: str
    original_rcpt_to: str
    arrival_date: str
    source_ip: str

    @property
    def is_complaint(self) -> bool:
        return self.feedback_type in COMPLAINT_TYPES

    def diagnostic(self) -> str:
        parts = [f"feedback-type {self.feedback_type}"]
        if self.user_agent:
            parts.append(f"user-agent {self.user_agent}")
        if self.arrival_date:
            parts.append(f"arrival-date {self.arrival_date}")
        return "; ".join(parts)[:1000]


def parse(message: Message) -> FeedbackReport | None:
    """The RFC 5965 report in ``message``, or None if it holds no feedback-report part."""
    report = mime.find_report(message, "feedback-report")
    part = mime.part_of(report, FEEDBACK_TYPES) if report is not None else None
    if part is None:
        return None
    fields = next(iter(mime.field_blocks(part)), None)
    if fields is None:
        return None
    return FeedbackReport(
        feedback_type=mime.field(fields, "Feedback-Type").split(" ", 1)[0].lower(),
        user_agent=mime.field(fields, "User-Agent")[:200],
        original_rcpt_to=mime.address(mime.field(fields, "Original-Rcpt-To")),
        arrival_date=mime.field(fields, "Arrival-Date")[:100],
        source_ip=mime.field(fields, "Source-IP")[:45],
    )
