"""The campaign pump: each round copies the next batch of one campaign's recipients into the
outbox (the delivery pump sends them as they land) and marks finished campaigns Sent.

A batch is one transaction holding the campaign's row (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
the write lock on SQLite): its copies, its plan usage and the checkpoint commit together, so a
worker killed mid-batch rolls the batch back and the next round copies it again, none twice.
Any number of workers share the copying of one campaign, a batch each in turn.
"""

from __future__ import annotations

from pulsebox.campaigns import service
from pulsebox.pump import PumpContext


def copy_recipients(job: PumpContext) -> int:
    """One round; how much it did (0: nothing to do, and no write transaction was opened)."""
    with job.ctx.db.transaction(write=False) as conn:
        if not service.any_work(conn):
            return 0
    with job.ctx.db.transaction() as conn:
        copied = service.copy_batch(conn, job.ctx.settings)
    with job.ctx.db.transaction() as conn:
        finished = service.finish(conn)
    return copied + finished
