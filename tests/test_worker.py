"""The job table: jobs appear only after commit, failures retry with backoff, then fail."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from pulsebox.delivery.transports.memory import MemoryTransport
from pulsebox.models import Job, utcnow
from pulsebox.worker import queue
from pulsebox.worker.runner import BACKOFF, Worker

J = Job.__table__


def _job(ctx, job_id):
    with ctx.db.transaction(write=False) as conn:
        return conn.execute(select(J).where(J.c.id == job_id)).mappings().first()


def test_a_rolled_back_enqueue_leaves_no_job(ctx):
    with pytest.raises(RuntimeError):
        with ctx.db.transaction() as conn:
            job_id = queue.enqueue(conn, "test.nothing", {})
            raise RuntimeError("request failed")
    assert _job(ctx, job_id) is None


def test_failing_job_is_retried_with_backoff_then_failed(ctx):
    with ctx.db.transaction() as conn:
        job_id = queue.enqueue(conn, "test.unknown-kind", {"secret": "x"})
    worker = Worker(ctx, MemoryTransport())
    worker.run_once()
    job = _job(ctx, job_id)
    assert job["state"] == "queued" and job["attempts"] == 1 and "no task" in job["last_error"]
    assert job["run_at"] >= utcnow() + timedelta(seconds=BACKOFF[0] - 2)
    for _ in range(len(BACKOFF)):
        with ctx.db.transaction() as conn:
            conn.execute(update(J).where(J.c.id == job_id).values(run_at=utcnow()))
        worker.run_once()
    job = _job(ctx, job_id)
    assert job["state"] == "failed" and job["payload"] == {}


def test_an_expired_lease_is_claimed_again(ctx):
    with ctx.db.transaction() as conn:
        job_id = queue.enqueue(conn, "test.lease", {})
    with ctx.db.transaction() as conn:
        claimed = queue.claim(conn, 100, timedelta(minutes=5))
    assert job_id in [j["id"] for j in claimed]
    with ctx.db.transaction() as conn:  # another worker sees nothing while the lease holds
        assert job_id not in [j["id"] for j in queue.claim(conn, 100, timedelta(minutes=5))]
        conn.execute(update(J).where(J.c.id == job_id).values(locked_until=utcnow() - timedelta(seconds=1)))
    with ctx.db.transaction() as conn:  # the first worker died: its lease ran out
        again = queue.claim(conn, 100, timedelta(minutes=5))
        assert [j["attempts"] for j in again if j["id"] == job_id] == [2]
        queue.finish(conn, job_id, 1)  # the first worker, late: its attempt is no longer the job's
    assert _job(ctx, job_id)["state"] == "running"
    with ctx.db.transaction() as conn:
        queue.finish(conn, job_id, 2)
    assert _job(ctx, job_id) is None


def test_a_permanent_delivery_failure_is_not_retried(ctx):
    from pulsebox.delivery.transports import DeliveryError
    from pulsebox.worker import registry

    def bounce(job, payload):
        raise DeliveryError("550 5.1.1 No such user", permanent=True, code=550)

    registry.TASKS["test.bounce"] = bounce
    try:
        with ctx.db.transaction() as conn:
            job_id = queue.enqueue(conn, "test.bounce", {})
        Worker(ctx, MemoryTransport()).run_once()
        job = _job(ctx, job_id)
        assert job["state"] == "failed" and job["attempts"] == 1 and "550" in job["last_error"]
    finally:
        del registry.TASKS["test.bounce"]
