"""The job table: enqueue inside the caller's transaction, claim with a lease, finish or retry.

A job becomes visible to workers only when the transaction that enqueued it commits; the commit
then wakes this process's worker at once (other processes poll). Claims lease rows with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL and one ``UPDATE ... RETURNING`` on SQLite, so any number
of workers can share the table; a worker that dies leaves leases that expire and are claimed again.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, or_, select, update

from pulsebox.db.engine import after_commit
from pulsebox.models import Job, utcnow

J = Job.__table__
WAITING = threading.Event()  # set after a commit that enqueued work in this process


def enqueue(conn: Connection, kind: str, payload: dict, *, run_at: datetime | None = None) -> int:
    job_id = conn.execute(insert(J).values(kind=kind, payload=payload, run_at=run_at or utcnow())
                          .returning(J.c.id)).scalar_one()
    after_commit(conn, WAITING.set)
    return job_id


def claim(conn: Connection, limit: int, lease: timedelta) -> list[dict]:
    now = utcnow()
    due = (select(J.c.id)
           .where(or_((J.c.state == "queued") & (J.c.run_at <= now),
                      (J.c.state == "running") & (J.c.locked_until < now)))
           .order_by(J.c.run_at, J.c.id).limit(limit)
           .with_for_update(skip_locked=True))
    rows = conn.execute(update(J).where(J.c.id.in_(due.scalar_subquery()))
                        .values(state="running", locked_until=now + lease, attempts=J.c.attempts + 1)
                        .returning(J.c.id, J.c.kind, J.c.payload, J.c.attempts)).mappings().all()
    return sorted((dict(r) for r in rows), key=lambda r: r["id"])


# finish/retry/fail match the attempt they report on: a worker whose lease ran out (and whose job
# another worker claimed again, raising ``attempts``) cannot touch the other worker's run.

def finish(conn: Connection, job_id: int, attempt: int) -> None:
    """Done jobs are deleted: their payload may hold a secret (an activation code)."""
    conn.execute(delete(J).where(J.c.id == job_id, J.c.attempts == attempt))


def retry(conn: Connection, job_id: int, attempt: int, error: str, run_at: datetime) -> None:
    conn.execute(update(J).where(J.c.id == job_id, J.c.attempts == attempt)
                 .values(state="queued", run_at=run_at, locked_until=None, last_error=error[:2000]))


def fail(conn: Connection, job_id: int, attempt: int, error: str) -> None:
    conn.execute(update(J).where(J.c.id == job_id, J.c.attempts == attempt)
                 .values(state="failed", locked_until=None, last_error=error[:2000], payload={}))


def pending(conn: Connection) -> list[dict]:
    return [dict(r) for r in conn.execute(select(J.c.id, J.c.kind, J.c.state, J.c.attempts, J.c.run_at,
                                                 J.c.last_error).order_by(J.c.id)).mappings()]
