"""The worker loop: claim due jobs, run each in its own transaction, retry failures with backoff.

Runs as a thread inside ``pulsebox serve`` (the embedded default) or alone as ``pulsebox worker``.
A job's side effect (a message handed to the transport) happens before its row is deleted, so a
crash in between repeats the job: delivery is at least once, never lost. A permanent delivery
failure (5xx) is not retried.
"""

from __future__ import annotations

import logging
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from pulsebox.context import Context
from pulsebox.delivery.transports import DeliveryError, Transport
from pulsebox.models import utcnow
from pulsebox.worker import queue
from pulsebox.worker.registry import PUMPS, TASKS, JobContext

log = logging.getLogger("pulsebox.worker")

BACKOFF = (30, 120, 600, 1800, 3600, 7200, 14400)  # seconds before attempt 2, 3, ...
LEASE = timedelta(minutes=5)
POLL_SECONDS = 1.0


class Worker:
    def __init__(self, ctx: Context, transport: Transport, *, batch: int = 4) -> None:
        self.ctx = ctx
        self.transport = transport
        self.batch = batch
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.pool = ThreadPoolExecutor(ctx.settings.send_concurrency, thread_name_prefix="pulsebox-send")
        self.job_context = JobContext(ctx=ctx, transport=transport, pool=self.pool)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="pulsebox-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        queue.WAITING.set()
        if self._thread:
            self._thread.join(timeout)
        self.pool.shutdown(wait=False)

    def run_forever(self) -> None:
        while not self.stopping.is_set():
            try:
                worked = self.run_once()
            except Exception:  # the loop must survive a database hiccup
                log.exception("worker loop failed; retrying")
                worked = 0
            if not worked:
                queue.WAITING.wait(POLL_SECONDS)
                queue.WAITING.clear()

    def run_once(self) -> int:
        """Due jobs, then one round of every pump; how much work was found (0: sleep)."""
        with self.ctx.db.transaction() as conn:
            jobs = queue.claim(conn, self.batch, LEASE)
        leased_until = utcnow() + LEASE - timedelta(seconds=30)
        for job in jobs:
            if utcnow() >= leased_until:  # our lease may have passed to another worker: let it
                break
            self._run(job)
        return len(jobs) + sum(pump(self.job_context) for pump in PUMPS)

    def _run(self, job: dict) -> None:
        """The task runs outside any transaction (sending mail must never hold the database's
        write lock); tasks open their own short transactions when they need the database."""
        task = TASKS.get(job["kind"])
        try:
            if task is None:
                raise LookupError(f"no task for job kind {job['kind']!r}")
            task(self.job_context, job["payload"])
        except Exception as exc:
            error = "".join(traceback.format_exception_only(exc)).strip()
            log.warning("job %s (%s) attempt %s failed: %s", job["id"], job["kind"], job["attempts"], error)
            # a 5xx, or a message that cannot be built (ValueError), will not get better by waiting;
            # an unknown kind may be a newer worker's job during a rolling upgrade: retry it
            permanent = (isinstance(exc, DeliveryError) and exc.permanent) or isinstance(exc, ValueError)
            with self.ctx.db.transaction() as conn:
                if job["attempts"] > len(BACKOFF) or permanent:
                    queue.fail(conn, job["id"], job["attempts"], error)
                else:
                    queue.retry(conn, job["id"], job["attempts"], error,
                                utcnow() + timedelta(seconds=BACKOFF[job["attempts"] - 1]))
            return
        with self.ctx.db.transaction() as conn:
            queue.finish(conn, job["id"], job["attempts"])
