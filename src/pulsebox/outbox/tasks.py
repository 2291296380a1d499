"""The delivery pump: claim due copies from the outbox, build each one, send, record what happened.

One round (:func:`deliver_due`) is three steps, with no transaction open while mail is sent:

1. claim up to ``BATCH`` due deliveries under a lease (``repository.claim_due``) and read
   their messages and the suppression lists in the same short transaction;
2. build every copy (``compose.py``) and hand them to the transport from the worker's thread
   pool (``PULSEBOX_SEND_CONCURRENCY`` at once);
3. record every outcome in one transaction: sent (with the receiver's answer), deferred (4xx or
   no connection: retried on ``RETRY`` schedule), bounced (5xx: a hard bounce, whose effect on
   the address the caller's ``on_bounces`` applies in that transaction), suppressed.

A worker that dies between 1 and 3 leaves leased rows whose lease runs out; the next claim sends
them again. So an accepted message is never lost, and it is sent twice only if it was in flight
on the worker that died (DESIGN.md, Guarantees).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime, timedelta
from time import monotonic

from sqlalchemy import Connection

from pulsebox.delivery.transports import DeliveryError, Receipt, Transport, enhanced_status, send_each
from pulsebox.models import utcnow
from pulsebox.outbox import repository, service
from pulsebox.outbox.compose import Composer, Prepared, prepare
from pulsebox.outbox.throttle import Throttle
from pulsebox.pump import PumpContext, settled

log = logging.getLogger("pulsebox.delivery")

BATCH = 500
HANDFUL = 16  # copies a sending thread is handed at once (a future per copy cost a tenth of the pump)
LEASE_MARGIN = timedelta(seconds=30)  # no copy is started this close to its lease's end (at most a fifth of it)
# seconds before attempt 2, 3, ...: about 2 days in all, then the copy is given up ("failed")
RETRY = (60, 300, 900, 1800, 3600, 7200, 14400, 28800, 43200, 86400)


class LeaseLapsed(Exception):
    """The round ran so long that the claim may have passed to another worker: not sent."""


def _send_all(transport: Transport, copies: list[tuple[dict, str, bytes]],
              send_by: float) -> list[Receipt | DeliveryError | LeaseLapsed]:
    """A handful of copies, in order, through the transport (the SMTP relay pipelines them)."""
    if monotonic() >= send_by:  # another worker may have claimed these copies again: let it send them
        return [LeaseLapsed() for _ in copies]
    try:
        return send_each(transport, [(mail_from, [delivery["email"]], data) for delivery, mail_from, data in copies])
    except Exception as exc:  # noqa: BLE001 - a transport bug must defer the copies, not kill the round
        log.exception("transport failed unexpectedly")
        return [DeliveryError(f"transport error: {exc}") for _ in copies]


def _outcome(delivery: dict, result: Receipt | DeliveryError | LeaseLapsed, size: int, now: datetime) -> dict:
    base = {"id": delivery["id"], "attempts": delivery["attempts"]}
    if isinstance(result, LeaseLapsed):  # back to the queue, due at once, the attempt not spent
        return {**base, "status": "queued", "attempts_after": delivery["attempts"] - 1}
    if isinstance(result, Receipt):
        return {**base, "status": "sent", "reason": None, "sent_at": now, "size": size,
                "smtp_answer_code": result.code, "smtp_answer_subcode": enhanced_status(result.text) or "0",
                "smtp_answer_data": result.text[:2000], "capture_key": result.capture_key}
    answer = {"smtp_answer_code": result.code, "smtp_answer_subcode": result.status or "0",
              "smtp_answer_data": str(result)[:2000]}
    if result.permanent:
        return {**base, **answer, "status": "bounced", "reason": "refused by the receiving server"}
    if delivery["attempts"] > len(RETRY):
        return {**base, **answer, "status": "failed", "reason": f"gave up after {delivery['attempts']} attempts"}
    return {**base, **answer, "status": "deferred", "reason": "temporary failure, will retry",
            "next_attempt_at": now + timedelta(seconds=RETRY[delivery["attempts"] - 1])}


OnBounces = Callable[[Connection, list[service.Bounced]], None]


def deliver_due(job: PumpContext, on_bounces: OnBounces) -> int:
    """One round of the pump; the number of copies it handled (0: nothing was due). The
    addresses that bounced go to ``on_bounces`` in the transaction that records them (the
    worker's registry passes ``addressbooks.service.apply_bounces``: this area is below it)."""
    ctx = job.ctx
    lease_until = utcnow() + timedelta(seconds=ctx.settings.delivery_lease)
    with ctx.db.transaction() as conn:
        claimed = repository.claim_due(conn, BATCH, lease_until)
        if not claimed:
            return 0
        messages = repository.messages(conn, {d["message_id"] for d in claimed})
        stop = service.suppressed(conn, claimed, {i: m["kind"] for i, m in messages.items()})

    outcomes: list[dict] = []
    # copies go to the sending threads a handful at a time as they are built: building (this
    # thread) and sending (waiting on the network, the GIL released) overlap; a small round is
    # spread over every sending thread
    work: list[tuple[list[tuple[dict, str, bytes]], Future]] = []
    handful: list[tuple[dict, str, bytes]] = []
    size = max(1, min(HANDFUL, len(claimed) // ctx.settings.send_concurrency))
    prepared: dict[int, Prepared] = {}
    composer = Composer(ctx.settings)
    throttle = Throttle(ctx)
    # deadlines on the monotonic clock (a copy's check costs 0.1 µs, utcnow() 0.6): no copy is
    # started after send_by; building stops halfway to it: what is built gets sent, the rest goes
    # back to the queue (attempt not spent) for the next round, so a round that builds slowly
    # still makes progress
    now = utcnow()
    left = lease_until - min(LEASE_MARGIN, timedelta(seconds=ctx.settings.delivery_lease) / 5) - now
    send_by = monotonic() + left.total_seconds()
    build_by = send_by - left.total_seconds() / 2
    for delivery in claimed:
        if (work or handful) and monotonic() >= build_by:
            outcomes.append(_outcome(delivery, LeaseLapsed(), 0, now))
            continue
        if delivery["id"] in stop:  # recorded as not sent, with the reason: never dropped silently
            outcomes.append({"id": delivery["id"], "attempts": delivery["attempts"], "status": "suppressed",
                             "reason": stop[delivery["id"]]})
            continue
        wait = throttle.wait(delivery["account_id"], delivery["email"])
        if wait:  # over a sending limit: back to the queue until its window ends, the attempt not spent
            outcomes.append({"id": delivery["id"], "attempts": delivery["attempts"], "status": "queued",
                             "attempts_after": delivery["attempts"] - 1,
                             "next_attempt_at": now + timedelta(seconds=wait)})
            continue
        try:
            p = prepared.get(delivery["message_id"]) or prepared.setdefault(
                delivery["message_id"], prepare(messages[delivery["message_id"]]))
            mail_from, data = composer.compose(delivery, p)
        except (ValueError, KeyError, UnicodeError) as exc:  # cannot happen to a message accept() built
            outcomes.append({"id": delivery["id"], "attempts": delivery["attempts"], "status": "failed",
                             "reason": "message cannot be built", "smtp_answer_data": str(exc)[:2000]})
            continue
        handful.append((delivery, mail_from, data))
        if len(handful) == size:
            work.append((handful, job.pool.submit(_send_all, job.transport, handful, send_by)))
            handful = []
    if handful:
        work.append((handful, job.pool.submit(_send_all, job.transport, handful, send_by)))

    # outcomes are recorded as the answers come (pump.settled): a worker killed mid-round sends again
    # only the copies whose outcome was not recorded yet
    for group in settled(work):
        done = utcnow()
        sent: list[tuple[dict, dict]] = []  # each copy handed to the transport, with its outcome
        bounced: list[tuple[dict, DeliveryError]] = []
        for copies, results in group:
            for (delivery, _, data), result in zip(copies, results, strict=True):
                outcomes.append(_outcome(delivery, result, len(data), done))
                sent.append((delivery, outcomes[-1]))
                if isinstance(result, DeliveryError) and result.permanent:
                    bounced.append((delivery, result))
        with ctx.db.transaction() as conn:
            _record(conn, outcomes, messages, sent, bounced, on_bounces)
        outcomes = []
    with ctx.db.transaction() as conn:
        if outcomes:  # copies never handed to the transport (suppressed, over a limit, unbuildable)
            _record(conn, outcomes, messages, [], [], on_bounces)
        repository.retire_content(conn, {i: service.kept_after_sending(m) for i, m in messages.items()})
    return len(claimed)


def _record(conn: Connection, outcomes: list[dict], messages: dict[int, dict], sent: list[tuple[dict, dict]],
            bounced: list[tuple[dict, DeliveryError]], on_bounces: OnBounces) -> None:
    repository.record_outcomes(conn, outcomes)
    service.emit_outcomes(conn, messages, sent)
    # a bounce is recorded only where the outcome was (the claim was still this worker's)
    bounced = [(d, e) for d, e in bounced if repository.status_of(conn, d["id"], d["attempts"]) == "bounced"]
    # an immediate 5xx is a hard bounce (RFC 5321 section 4.2.1); only the address's own
    # failure counts against it (transports.address_fault): a policy or content refusal
    # bounces this copy alone
    on_bounces(conn, [service.record_bounce(conn, delivery, kind="hard", status=error.status or "5.0.0",
                                            smtp_code=error.code, diagnostic=str(error), source="smtp",
                                            address_fault=error.address_fault)
                      for delivery, error in bounced])


PRUNE_EVERY = timedelta(minutes=10)
PRUNE_BATCH = 200  # messages a transaction: short write locks, even for messages of many copies


def prune_outbox(job: PumpContext) -> int:
    """Delete messages older than ``PULSEBOX_OUTBOX_RETENTION_DAYS`` (with their copies and
    events), a batch a round, looking again every ten minutes once nothing is left to delete."""
    days = job.ctx.settings.outbox_retention_days
    now = utcnow()
    if not days or job.not_before.get("prune", now) > now:
        return 0
    with job.ctx.db.transaction() as conn:
        pruned = repository.prune(conn, now - timedelta(days=days), PRUNE_BATCH)
    if pruned < PRUNE_BATCH:
        job.not_before["prune"] = now + PRUNE_EVERY
    return pruned
