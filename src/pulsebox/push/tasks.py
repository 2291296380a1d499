"""The web push pumps: copy due push tasks' subscribers into sends, and send what is due.

Sending is the outbox's shape (``outbox/tasks.py``): claim due sends under a lease in one short
transaction, encrypt and POST them from the worker's sending threads with no transaction open, record
every outcome in one transaction. A worker killed in between leaves leased sends whose lease runs out:
the next claim sends them again (a push is repeated only if it was in flight).

What a push service answers decides (RFC 8030 §5, §7.3, RFC 8292): 201 (or any 2xx) sent; 404/410 the
subscription is gone: marked unsubscribed (6) and never sent to again; 429 wait ``Retry-After`` (the
attempt not counted); 5xx or no answer retried on ``RETRY``, but never past the task's TTL (a push
that late is stale: expired); any other 4xx (413, a VAPID key refused) failed.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from time import monotonic

from sqlalchemy import Connection

from pulsebox import outbound
from pulsebox.models import utcnow
from pulsebox.pump import PumpContext, settled
from pulsebox.push import repository, schemas, service, webpush

log = logging.getLogger("pulsebox.push")

BATCH = 500
HANDFUL = 16  # sends a sending thread is handed at once
RETRY = (10, 60, 300, 900, 3600)  # seconds before attempt 2, 3, ...
MAX_RETRY_AFTER = 3600

_pools: dict[bool, outbound.Pool] = {}  # kept-alive connections to push services, per process
_signers: dict[str, webpush.Signer] = {}


def _pool(allow_private: bool) -> outbound.Pool:
    pool = _pools.get(allow_private)
    if pool is None:
        pool = _pools[allow_private] = outbound.Pool(allow_private=allow_private, timeout=10.0, max_response_bytes=1024)
    return pool


def _signer(subject: str) -> webpush.Signer:
    signer = _signers.get(subject)
    if signer is None:
        signer = _signers[subject] = webpush.Signer(subject)
    return signer


def copy_subscribers(job: PumpContext) -> int:
    """One round of copying (0: nothing to do, and no write transaction was opened)."""
    with job.ctx.db.transaction(write=False) as conn:
        if not service.any_to_copy(conn):
            return 0
    with job.ctx.db.transaction() as conn:
        return service.copy_batch(conn)


def send_due(job: PumpContext) -> int:
    """One round of sending; how many sends it handled."""
    ctx = job.ctx
    now = utcnow()
    with ctx.db.transaction(write=False) as conn:
        if not repository.any_due(conn, now):
            return 0
    lease = timedelta(seconds=ctx.settings.delivery_lease)  # PULSEBOX_DELIVERY_LEASE, as the outbox's copies
    with ctx.db.transaction() as conn:
        claimed = repository.claim_due(conn, BATCH, now, now + lease)
        if not claimed:
            return 0
        tasks = repository.tasks_by_id(conn, {c["task_id"] for c in claimed})
        subscriptions = repository.subscriptions_by_id(conn, {c["subscription_id"] for c in claimed})
        websites = repository.websites_by_id(conn, {t["website_id"] for t in tasks.values()})

    settings = ctx.settings
    keys = {w["id"]: service.vapid_private(settings, dict(w)) for w in websites.values()}
    subject = "mailto:" + settings.system_from.rpartition("<")[2].rstrip(">").strip()
    signer, pool = _signer(subject), _pool(settings.push_allow_private)
    send_by = monotonic() + lease.total_seconds() * 0.8  # no push is started this close to the lease's end
    outcomes: list[dict] = []
    gone: list[int] = []
    # a handful goes to a sending thread as soon as it is encrypted: encrypting (this thread) and posting
    # overlap; a small round is spread over every sending thread
    size = max(1, min(HANDFUL, len(claimed) // ctx.settings.send_concurrency))
    work: list[tuple[list, Future]] = []
    handful: list[tuple[dict, str, bytes, dict]] = []
    for send in claimed:
        task, subscription = tasks.get(send["task_id"]), subscriptions.get(send["subscription_id"])
        if task is None or subscription is None or subscription["status"] != schemas.ACTIVE:
            outcomes.append(_outcome(send, "failed", now, error="the subscriber is not active"))
            continue
        if not settings.push_allow_private and not subscription["endpoint"].startswith("https://"):
            outcomes.append(_outcome(send, "failed", now, error="the endpoint is not https"))  # allowed once, not now
            continue
        if now > task["send_date"] + timedelta(seconds=task["stretch_time"] + task["ttl"]):
            outcomes.append(_outcome(send, "expired", now, error="not sent within the task's TTL"))
            continue
        try:
            body = webpush.encrypt(service.payload(settings, task, send["id"]), subscription["p256dh"],
                                   subscription["auth"])
            authorization = signer.authorization(keys[task["website_id"]], subscription["endpoint"])
        except (ValueError, KeyError) as exc:  # keys a browser gave that no longer load, a key sealed otherwise
            outcomes.append(_outcome(send, "failed", now, error=f"cannot encrypt: {exc}"))
            continue
        # Topic (RFC 8030 §5.4): a send posted again after a lost answer replaces its undelivered copy
        headers = webpush.headers(authorization, task["ttl"], topic=f"pulsebox-send-{send['id']:x}")
        handful.append((send, subscription["endpoint"], body, headers))
        if len(handful) == size:
            work.append((handful, job.pool.submit(_post_all, pool, handful, send_by)))
            handful = []
    if handful:
        work.append((handful, job.pool.submit(_post_all, pool, handful, send_by)))
    # outcomes are recorded as the answers come (pump.settled): a worker killed mid-round posts again
    # only the sends whose outcome was not recorded yet
    for group in settled(work):
        done = utcnow()
        for handful, answers in group:
            for (send, _, _, _), answer in zip(handful, answers, strict=True):
                outcomes.append(_judge(send, tasks[send["task_id"]], answer, done))
                if outcomes[-1]["status"] == "gone":
                    gone.append(send["subscription_id"])
        with ctx.db.transaction() as conn:
            _record(conn, outcomes, gone)
        outcomes, gone = [], []
    with ctx.db.transaction() as conn:
        _record(conn, outcomes, gone)  # sends never posted (inactive, expired, unencryptable)
        service.finish(conn, tasks)
    return len(claimed)


def _record(conn: Connection, outcomes: list[dict], gone: list[int]) -> None:
    repository.record_outcomes(conn, outcomes)
    repository.set_subscription_status(conn, gone, schemas.UNSUBSCRIBED, utcnow())


def _post_all(pool: outbound.Pool, handful: list[tuple[dict, str, bytes, dict]],
              send_by: float) -> list[outbound.Answer | None]:
    """POST a handful of pushes in order; None for those not started before ``send_by`` (the lease)."""
    return [pool.post(endpoint, body, headers) if monotonic() < send_by else None
            for _, endpoint, body, headers in handful]


def _outcome(send: dict, status: str, now: datetime, *, error: str | None = None, due_at: datetime | None = None,
             attempts_after: int | None = None) -> dict:
    return {"id": send["id"], "attempts": send["attempts"], "status": status, "due_at": due_at or now,
            "sent_at": now if status == "sent" else None, "error": error[:500] if error else None,
            "attempts_after": send["attempts"] if attempts_after is None else attempts_after}


def _judge(send: dict, task: dict, answer: outbound.Answer | None, now: datetime) -> dict:
    if answer is None:  # the lease ran short: back to the queue, the attempt not spent
        return _outcome(send, "queued", now, attempts_after=send["attempts"] - 1)
    if answer.ok:
        return _outcome(send, "sent", now)
    status = answer.status
    if status in (404, 410):
        return _outcome(send, "gone", now, error=f"HTTP {status}: the subscription is gone")
    if status == 429:
        return _outcome(send, "queued", now, due_at=now + timedelta(seconds=_retry_after(answer, now)),
                        attempts_after=send["attempts"] - 1, error="HTTP 429: rate limited by the push service")
    error = answer.error or f"HTTP {status}: {answer.body[:200].decode('utf-8', 'replace')}"
    if status is not None and status < 500:
        return _outcome(send, "failed", now, error=error)
    stale = task["send_date"] + timedelta(seconds=task["stretch_time"] + task["ttl"])
    if send["attempts"] > len(RETRY) or now + timedelta(seconds=RETRY[send["attempts"] - 1]) > stale:
        return _outcome(send, "expired" if send["attempts"] <= len(RETRY) else "failed", now, error=error)
    return _outcome(send, "queued", now, due_at=now + timedelta(seconds=RETRY[send["attempts"] - 1]), error=error)


def _retry_after(answer: outbound.Answer, now: datetime) -> int:
    """RFC 9110 §10.2.3: seconds or an HTTP date; 60 s when absent, at most an hour."""
    raw = (answer.headers or {}).get("retry-after", "").strip()
    if raw.isascii() and raw.isdigit():  # ASCII: str.isdigit takes '²', which int() refuses
        return min(int(raw), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(raw).replace(tzinfo=None)
    except (TypeError, ValueError):
        return 60
    return max(1, min(int((when - now).total_seconds()), MAX_RETRY_AFTER))
