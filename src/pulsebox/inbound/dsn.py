"""Delivery status notifications: RFC 3464 reports, and the plain-text bounces older MTAs still send.

A standard DSN is ``multipart/report; report-type=delivery-status`` (RFC 6522) whose
``message/delivery-status`` part holds one per-message field block, then one block per recipient
(RFC 3464 section 2.3): ``Final-Recipient``, ``Action``, ``Status`` (an RFC 3463 enhanced code,
``5.1.1``), ``Diagnostic-Code`` (usually ``smtp; 550 5.1.1 ...``).

Which delivery bounced is never read from here: it comes from the VERP address the bounce was sent
*to*, which carries a signature; a report's body can say anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from pulsebox.inbound import mime

HARD = "hard"
SOFT = "soft"

STATUS_TYPES = ("message/delivery-status", "message/global-delivery-status", "text/delivery-status")
# RFC 3464 section 2.3.3: the actions that report a failure (failed) or a wait (delayed); the
# others say the message went on, so they are no bounce at all
NOT_FAILURES = ("delivered", "relayed", "expanded")

# RFC 3463 section 2: class.subject.detail, subject and detail 1-3 digits; not part of a longer
# dotted number (an IP address, a version, a date)
ENHANCED_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
# a reply code as MTAs quote it: "550 5.1.1 ...", "said: 550-...", "<user>: 452 ..."
SMTP_CODE = re.compile(r"(?<![\w.#/-])([245][0-5]\d)(?=[ -])")


@dataclass(frozen=True)
class RecipientStatus:
    final_recipient: str  # the address, lowercase; "" if the block names none
    original_recipient: str
    action: str  # failed | delayed | delivered | relayed | expanded | "" (missing)
    status: str  # "5.1.1", "" when missing
    smtp_code: int | None
    diagnostic: str

    @property
    def kind(self) -> str | None:
        return classify(self.status, self.action)


@dataclass(frozen=True)
class Report:
    recipients: tuple[RecipientStatus, ...]
    standard: bool  # False: guessed from a plain-text bounce (see ``parse_plain``)

    def failure_for(self, email: str) -> RecipientStatus | None:
        """The failure this report gives for ``email``: its own block if one names it, else (a
        forwarding address, a rewritten recipient) the worst failure the report holds."""
        failures = [r for r in self.recipients if r.kind is not None]
        email = email.lower()
        mine = [r for r in failures if email in (r.final_recipient, r.original_recipient)]
        candidates = mine or failures
        return min(candidates, key=lambda r: r.kind != HARD) if candidates else None


def classify(status: str, action: str) -> str | None:
    """``"hard"``, ``"soft"`` or None (not a failure) for one recipient's Status and Action.

    Action ``failed`` with a 5.x.x status is a hard bounce; ``delayed``, or any 4.x.x status, is a
    soft one; delivered/relayed/expanded are no bounce. A missing or unknown Action falls back on
    the status class; ``failed`` without a status is taken at its word (hard)."""
    action = action.lower()
    if action in NOT_FAILURES:
        return None
    if action == "delayed":
        return SOFT
    if status.startswith("5."):
        return HARD
    if status.startswith("4."):
        return SOFT
    if action == "failed":
        return SOFT if status else HARD
    return None


def _status(value: str) -> str:
    match = ENHANCED_STATUS.search(value)
    return ".".join(match.groups()) if match else ""


def _code(value: str) -> int | None:
    match = SMTP_CODE.search(value)
    return int(match[1]) if match else None


def _recipient(block: Message) -> RecipientStatus:
    diagnostic_code = mime.field(block, "Diagnostic-Code")
    diagnostic = mime.typed_value(diagnostic_code)
    status = _status(mime.field(block, "Status")) or _status(diagnostic)
    action = mime.field(block, "Action").split(" ", 1)[0].lower()  # "failed (comment)"
    return RecipientStatus(
        final_recipient=mime.address(mime.field(block, "Final-Recipient")),
        original_recipient=mime.address(mime.field(block, "Original-Recipient")),
        action=action, status=status, smtp_code=_code(diagnostic), diagnostic=diagnostic[:1000])


def parse_report(message: Message) -> Report | None:
    """The RFC 3464 report in ``message``, or None if it holds no delivery-status part."""
    report = mime.find_report(message, "delivery-status")
    part = mime.part_of(report, STATUS_TYPES) if report is not None else None
    if part is None:
        return None
    recipients = tuple(_recipient(b) for b in mime.field_blocks(part)
                       if b.get("Final-Recipient") is not None or b.get("Action") is not None)
    return Report(recipients, standard=True)


# ---- plain-text bounces (qmail's "failure notice", old Exim and Sendmail, home-grown MTAs) ----
#
# The heuristic, deliberately small:
# 1. it is a bounce only if it comes from MAILER-DAEMON/postmaster or its Subject says so (an
#    auto-reply or anything else sent to a VERP address is not);
# 2. only the text before the returned copy of the original message counts;
# 3. a 5.x.x enhanced status or a 55x reply code in that text makes it hard, anything else soft.

BOUNCE_SENDERS = ("mailer-daemon", "postmaster", "mail-daemon", "mailer_daemon")
BOUNCE_SUBJECT = re.compile(
    r"undeliver|failure notice|returned mail|delivery (status notification|failure|has failed|failed|problem)"
    r"|mail delivery (failed|failure|system|subsystem)|non-?delivery|could not be delivered", re.I)
ORIGINAL_FOLLOWS = re.compile(
    r"^[ \t]*-{2,}.*(below this line|copy of the (original )?message|original message|message follows"
    r"|undelivered message)", re.I | re.M)
HARD_CODE = re.compile(r"(?<![\w.#/-])55\d(?=[ -])")


def is_plain_bounce(message: Message) -> bool:
    sender = mime.field(message, "From").lower()
    local = re.search(r"([\w.+-]+)@", sender)
    return bool(local and local[1] in BOUNCE_SENDERS) or bool(BOUNCE_SUBJECT.search(mime.field(message, "Subject")))


def parse_plain(message: Message) -> Report | None:
    """A one-recipient report guessed from a human-readable bounce; None if it does not look like one."""
    if not is_plain_bounce(message):
        return None
    body = mime.body_text(message)
    cut = ORIGINAL_FOLLOWS.search(body)
    body = body[:cut.start()] if cut else body
    found = [m for m in ENHANCED_STATUS.finditer(body) if m[1] in "45"]
    hard = next((m for m in found if m[1] == "5"), None) or HARD_CODE.search(body)
    if hard is not None:
        status = ".".join(hard.groups()) if hard.re is ENHANCED_STATUS else "5.0.0"
        action, anchor = "failed", hard
    else:
        status = ".".join(found[0].groups()) if found else "4.0.0"
        action, anchor = "delayed", found[0] if found else SMTP_CODE.search(body)
    diagnostic = _line_at(body, anchor.start()) if anchor else " ".join(body.split())[:300]
    return Report((RecipientStatus(final_recipient="", original_recipient="", action=action, status=status,
                                   smtp_code=_code(diagnostic), diagnostic=diagnostic[:1000]),), standard=False)


def _line_at(body: str, index: int) -> str:
    start = body.rfind("\n", 0, index) + 1
    end = body.find("\n", index)
    return " ".join(body[start:end if end >= 0 else len(body)].split())


def parse(message: Message) -> Report | None:
    """A standard DSN if the message holds one, else a guessed plain-text bounce, else None."""
    return parse_report(message) or parse_plain(message)
