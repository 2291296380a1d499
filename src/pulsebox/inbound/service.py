"""What a message to one of our addresses means, and doing it: a bounce, a complaint or an unsubscribe.

The recipient address decides the delivery (its token is signed); the body decides only what
happened to it. A message we cannot use (an auto-reply, a success report, garbage, a delivery
since deleted) is dropped with a reason: the listener still accepts it, so the remote MTA does not
retry it for days. Runs in the caller's transaction; no commit here.
"""

from __future__ import annotations

from sqlalchemy import Connection

from pulsebox import links
from pulsebox.addressbooks import service as books
from pulsebox.campaigns import service as campaigns
from pulsebox.delivery.transports.base import address_fault
from pulsebox.inbound import arf, dsn, mime
from pulsebox.outbox import service as outbox

UNSUBSCRIBE_COMMENT = "List-Unsubscribe mailto"


def process(conn: Connection, key: bytes, rcpt: str, message: bytes) -> str:
    """Act on ``message`` as received for ``rcpt``; what was done, for the log (``ignored: ...``
    when nothing was)."""
    target = links.parse_local_address(key, rcpt)
    if target is None:
        return "ignored: not one of our addresses"
    purpose, delivery_id = target
    delivery = outbox.delivery(conn, delivery_id)
    if delivery is None:
        return f"ignored: delivery {delivery_id} does not exist"
    if purpose == links.UNSUBSCRIBE:  # RFC 2369: any message to the mailto unsubscribes
        outbox.unsubscribe(conn, delivery, comment=UNSUBSCRIBE_COMMENT)
        campaigns.unsubscribed(conn, delivery)
        return f"unsubscribed: delivery {delivery_id}"
    try:
        parsed = mime.parse(message)
        report = arf.parse(parsed)
        bounce = dsn.parse(parsed) if report is None else None
    except Exception as exc:  # noqa: BLE001 - whatever an MTA wrote must not make it retry forever
        return f"ignored: delivery {delivery_id}: unparsable message ({type(exc).__name__})"
    if report is not None:
        return _complaint(conn, delivery, report)
    if bounce is None:
        return f"ignored: delivery {delivery_id}: neither a bounce nor an abuse report"
    return _bounce(conn, delivery, bounce)


def _complaint(conn: Connection, delivery: dict, report: arf.FeedbackReport) -> str:
    if not report.is_complaint:
        return f"ignored: delivery {delivery['id']}: feedback-type {report.feedback_type or 'missing'}"
    if delivery["status"] == "complained":
        return f"ignored: delivery {delivery['id']}: complaint already recorded"
    _record(conn, delivery, kind="complaint", status="", smtp_code=None, diagnostic=report.diagnostic(), source="arf")
    return f"complaint: delivery {delivery['id']} ({report.feedback_type})"


def _bounce(conn: Connection, delivery: dict, report: dsn.Report) -> str:
    failure = report.failure_for(delivery["email"])
    if failure is None:
        return f"ignored: delivery {delivery['id']}: the report holds no failure"
    kind = failure.kind
    if kind == dsn.HARD and delivery["status"] == "bounced":  # a repeat (an MTA retrying after a lost 250)
        return f"ignored: delivery {delivery['id']}: hard bounce already recorded"
    status = failure.status or ("5.0.0" if kind == dsn.HARD else "4.0.0")  # RFC 3463: x.0.0, undefined
    _record(conn, delivery, kind=kind, status=status, smtp_code=failure.smtp_code, diagnostic=failure.diagnostic,
            source="dsn", address_fault=address_fault(failure.status, code=failure.smtp_code, recipient=True))
    style = "" if report.standard else ", plain-text bounce"
    return f"{kind} bounce: delivery {delivery['id']} {status}{style}"


def _record(conn: Connection, delivery: dict, **bounce: object) -> None:
    """The bounce or complaint on the copy, then its effect on the address in every mailing list."""
    books.apply_bounces(conn, [outbox.record_bounce(conn, delivery, **bounce)])
