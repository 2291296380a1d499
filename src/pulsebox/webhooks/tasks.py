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
    its lease, over one kept-alive connection; a failure, or nothing left, ends the spell. Each
    post's outcome and the next batch are one transaction."""
    try:
        until = monotonic() + SPELL
        secret = service.unseal(ctx.settings, webhook["secret"])
        signer = Webhook(secret) if secret else None
        with ctx.db.transaction(write=False) as conn:  # a read: the mail pump keeps SQLite's write lock
            batch = repository.pending(conn, webhook["id"], service.BATCH, webhook["batch_end"])
        with outbound.Pool(allow_private=ctx.settings.webhooks_allow_private, timeout=TIMEOUT) as pool:
            while batch is not None:
                batch = post_batch(ctx, pool, webhook, signer, batch, more=monotonic() < until)
                webhook = {**webhook, "failures": 0, "batch_end": None}
    except Exception:  # the lease runs out and another round tries again
        log.exception("webhook %s: post failed unexpectedly", webhook["id"])
    finally:
        _busy.release()
        WAITING.set()  # the round may lease it (or another) again at once


def post_batch(ctx: Context, pool: outbound.Pool, webhook: dict, signer: Webhook | None, batch: list,
               *, more: bool) -> list | None:
    """Post ``batch`` (the webhook's oldest waiting rows of events) and record the answer; the next
    batch when this one was delivered and ``more`` are wanted (the lease kept), else None (the lease
    given back). ``signer``: the webhook's secret, None when it cannot be unsealed (made under
    another PULSEBOX_SECRET_KEY: posted unsigned). Rows waiting longer than ``KEEP_TRYING`` are
    dropped first (asked only when the oldest is that old)."""
    now = utcnow()
    if not batch or batch[0]["created_at"] < now - KEEP_TRYING:
        with ctx.db.transaction() as conn:
            dropped = repository.drop_older(conn, webhook["id"], now - KEEP_TRYING)
            if dropped:
                log.warning("webhook %s: %d rows of events dropped after %s of failures", webhook["id"], dropped,
                            KEEP_TRYING)
            batch = repository.pending(conn, webhook["id"], service.BATCH, webhook["batch_end"])
            if not batch:  # a retried batch that was dropped, or nothing left: start afresh
                repository.set_values(conn, webhook["account_id"], webhook["id"], locked_until=None, batch_end=None)
                return None
    first, last = batch[0]["id"], batch[-1]["id"]
    # one JSON array of every row's events: the rows' arrays joined without their brackets
    body = b"[" + b",".join(row["payload"].strip()[1:-1].strip().encode() for row in batch) + b"]"
    message_id, stamp = f"msg_{webhook['id']}_{first}_{last}", datetime.now(UTC).replace(microsecond=0)
    headers = {"content-type": "application/json", "webhook-id": message_id,
               "webhook-timestamp": str(int(stamp.timestamp()))}
    if signer is not None:
        headers["webhook-signature"] = signer.sign(message_id, stamp, body.decode())
    answer = pool.post(webhook["url"], body, headers)
    error = answer.error or (None if answer.ok else f"HTTP {answer.status}")
    done = utcnow()
    with ctx.db.transaction() as conn:
        repository.log_attempt(conn, {"webhook_id": webhook["id"], "at": done,
                                      "events": sum(e["events"] for e in batch), "status_code": answer.status,
                                      "latency_ms": answer.latency_ms, "error": error[:500] if error else None,
                                      "delivered": answer.ok})
        if not answer.ok:
            failures = webhook["failures"] + 1
            wait = min(LAST_RETRY, FIRST_RETRY * 2 ** min(failures - 1, 20))
            repository.after_post(conn, webhook["id"], failures=failures, last_error=error[:500] if error else None,
                                  batch_end=last, locked_until=None, next_attempt_at=done + timedelta(seconds=wait))
            return None
        repository.mark_events(conn, [e["id"] for e in batch], "delivered")
        following = repository.pending(conn, webhook["id"], service.BATCH, None) if more else []
        repository.after_post(conn, webhook["id"], failures=0, last_error=None, batch_end=None,
                              locked_until=done + LEASE if following else None, next_attempt_at=done)
    return following or None
