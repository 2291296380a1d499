"""The webhook pump: post each webhook's waiting events, oldest first, signed.

A round leases up to as many webhooks as there are free posting threads (one worker at a time
posts a webhook's events: they arrive in order) and hands each to a thread of this module's own
pool, so a slow or dead receiver holds one thread for at most ``TIMEOUT`` seconds and never the
mail pump or another account's webhooks. A post is a JSON array of at most ``service.BATCH`` events
(SendPulse's batch), signed per the Standard Webhooks specification: ``webhook-id`` (the same on
every retry of the same events), ``webhook-timestamp``, ``webhook-signature`` (HMAC-SHA256 under
the webhook's ``whsec_`` secret). A 2xx answer delivers the batch; anything else (another status,
a timeout, a refused or unsafe target) retries the same batch after 5 s, doubling to an hour;
events still waiting after ``KEEP_TRYING`` are dropped (counted in the log). A worker killed
mid-post leaves a lease that runs out: the batch is posted again (receivers dedupe on webhook-id).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from time import monotonic

import orjson
from standardwebhooks.webhooks import Webhook

from pulsebox import outbound
from pulsebox.context import Context
from pulsebox.models import utcnow
from pulsebox.pump import WAITING, PumpContext
from pulsebox.webhooks import repository, service

log = logging.getLogger("pulsebox.webhooks")

THREADS = 8
TIMEOUT = 5.0  # seconds for a receiver to answer
LEASE = timedelta(seconds=60)  # more than a post can take: a lease ends only when its worker died
FIRST_RETRY, LAST_RETRY = 5, 3600  # seconds: doubling from the first to at most the last
KEEP_TRYING = timedelta(hours=48)  # an event is retried for at least 24 hours (issue 10), then dropped
PRUNE_EVERY, KEEP_DONE = timedelta(minutes=10), timedelta(days=7)
SPELL = 5.0  # seconds a thread keeps posting one webhook's batches before its turn ends

_pool = ThreadPoolExecutor(THREADS, thread_name_prefix="pulsebox-webhook")
_busy = threading.Semaphore(THREADS)


def post_events(job: PumpContext) -> int:
    """One round: lease due webhooks for the free threads, hand each to one; how many."""
    free = 0
    while free < THREADS and _busy.acquire(blocking=False):
        free += 1
    claimed: list[dict] = []
    try:
        now = utcnow()
        if free:
            with job.ctx.db.transaction(write=False) as conn:  # every round: a read when idle
                due = repository.any_due(conn, now)
            if due:
                with job.ctx.db.transaction() as conn:
                    claimed = [dict(w) for w in repository.claim(conn, now, now + LEASE, free)]
        _prune(job, now)
    finally:
        for _ in range(free - len(claimed)):
            _busy.release()
    for webhook in claimed:
        _pool.submit(_post, job.ctx, webhook)
    return len(claimed)


def _prune(job: PumpContext, now: datetime) -> None:
    if job.not_before.get("webhooks", now) > now:
        return
    with job.ctx.db.transaction() as conn:
        repository.prune_delivered(conn, now - KEEP_DONE, 5000)
    job.not_before["webhooks"] = now + PRUNE_EVERY


def _post(ctx: Context, webhook: dict) -> None:
    """Post the webhook's batches one after another while they are delivered (for at most
    ``SPELL``: then the thread goes back to the round, and other webhooks get their turn), keeping
    its lease, over one kept-alive connection; a failure, or nothing left, ends the spell."""
    try:
        until = monotonic() + SPELL
        with outbound.Pool(allow_private=ctx.settings.webhooks_allow_private, timeout=TIMEOUT) as pool:
            while post_batch(ctx, pool, webhook):
                webhook = {**webhook, "failures": 0, "batch_end": None}
                if monotonic() >= until:  # the turn is over: the lease goes back (a failure or an
                    with ctx.db.transaction() as conn:  # empty queue gave it back already)
                        repository.set_values(conn, webhook["account_id"], webhook["id"], locked_until=None)
                    break
    except Exception:  # the lease runs out and another round tries again
        log.exception("webhook %s: post failed unexpectedly", webhook["id"])
    finally:
        _busy.release()
        WAITING.set()  # the round may lease it (or another) again at once


def post_batch(ctx: Context, pool: outbound.Pool, webhook: dict) -> bool | None:
    """Post the webhook's next batch and record the answer; True if delivered (the lease is kept:
    the caller posts the next one), None if nothing waited."""
    now = utcnow()
    with ctx.db.transaction(write=False) as conn:  # a read: the mail pump keeps SQLite's write lock
        stale = repository.oldest_waiting(conn, webhook["id"]) or now
        events = repository.pending(conn, webhook["id"], service.BATCH, webhook["batch_end"])
    if stale < now - KEEP_TRYING or not events:
        with ctx.db.transaction() as conn:
            dropped = repository.drop_older(conn, webhook["id"], now - KEEP_TRYING)
            if dropped:
                log.warning("webhook %s: %d rows of events dropped after %s of failures", webhook["id"], dropped,
                            KEEP_TRYING)
            events = repository.pending(conn, webhook["id"], service.BATCH, webhook["batch_end"])
            if not events:  # a retried batch that was dropped, or nothing left: start afresh
                repository.set_values(conn, webhook["account_id"], webhook["id"], locked_until=None, batch_end=None)
                return None
    first, last = events[0]["id"], events[-1]["id"]
    body = orjson.dumps([event for row in events for event in row["payload"]])
    message_id, stamp = f"msg_{webhook['id']}_{first}_{last}", datetime.now(UTC).replace(microsecond=0)
    secret = service.unseal(ctx.settings, webhook["secret"])
    headers = {"content-type": "application/json", "webhook-id": message_id,
               "webhook-timestamp": str(int(stamp.timestamp()))}
    if secret:
        headers["webhook-signature"] = Webhook(secret).sign(message_id, stamp, body.decode())
    answer = pool.post(webhook["url"], body, headers)
    error = answer.error or (None if answer.ok else f"HTTP {answer.status}")
    done = utcnow()
    with ctx.db.transaction() as conn:
        repository.log_attempt(conn, {"webhook_id": webhook["id"], "at": done,
                                      "events": sum(e["events"] for e in events), "status_code": answer.status,
                                      "latency_ms": answer.latency_ms, "error": error[:500] if error else None,
                                      "delivered": answer.ok})
        if answer.ok:
            repository.mark_events(conn, [e["id"] for e in events], "delivered")
            repository.after_post(conn, webhook["id"], failures=0, last_error=None, batch_end=None,
                                  locked_until=done + LEASE, next_attempt_at=done)
        else:
            failures = webhook["failures"] + 1
            wait = min(LAST_RETRY, FIRST_RETRY * 2 ** min(failures - 1, 20))
            repository.after_post(conn, webhook["id"], failures=failures, last_error=error[:500] if error else None,
                                  batch_end=last, locked_until=None, next_attempt_at=done + timedelta(seconds=wait))
    return answer.ok
