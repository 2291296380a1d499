"""The transaction wrapper: after-commit hooks, reentrant reads, in-memory SQLite."""

import gc
import threading

import pytest
from sqlalchemy import text

from pulsebox.db import Database
from pulsebox.db.engine import after_commit


def test_hooks_run_after_commit_only():
    db = Database("sqlite://")
    ran = []
    with db.transaction() as conn:
        after_commit(conn, lambda: ran.append("committed"))
        assert ran == []
    assert ran == ["committed"]
    with pytest.raises(RuntimeError):
        with db.transaction() as conn:
            after_commit(conn, lambda: ran.append("rolled back"))
            raise RuntimeError
    assert ran == ["committed"]


def test_in_memory_sqlite_keeps_its_data_between_transactions():
    db = Database("sqlite://")
    with db.transaction() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    with db.transaction(write=False) as conn:
        assert conn.execute(text("SELECT x FROM t")).scalar_one() == 1


def test_a_read_inside_a_read_joins_it(ctx):
    with ctx.db.transaction(write=False) as outer:
        with ctx.db.transaction(write=False) as inner:
            assert inner is outer
            assert inner.execute(text("SELECT 1")).scalar_one() == 1
        assert outer.execute(text("SELECT 2")).scalar_one() == 2


def test_readers_of_ended_threads_go_back_to_the_pool(tmp_path):
    """Thread pools retire idle threads and start new ones; each keeps a reader while it lives.
    Forty threads come and go (more than the pool's 16 connections): a write still gets a
    connection at once and only the live thread's reader stays checked out."""
    db = Database(f"sqlite:///{tmp_path}/readers.db")
    db.engine.pool._timeout = 1  # exhaustion would fail in a second instead of 30
    kept = []  # keeps each ended thread's frame objects alive, as a reference cycle would

    def read() -> None:
        with db.transaction(write=False) as conn:
            kept.append(conn)
            conn.execute(text("SELECT 1"))

    gc.disable()
    try:
        for _ in range(40):
            thread = threading.Thread(target=read)
            thread.start()
            thread.join()
        read()
        with db.transaction() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
        assert db.engine.pool.checkedout() == 1  # this thread's reader
    finally:
        gc.enable()
        db.dispose()
