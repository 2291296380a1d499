"""The transaction wrapper: after-commit hooks, reentrant reads, in-memory SQLite."""

import gc
import secrets
import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import (Column, DateTime, Integer, MetaData, String, Table, bindparam, cast, insert, select, text,
                        update)

from pulsebox.db import Database
from pulsebox.db.bulk import Bulk
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


def test_bulk_writes_exactly_what_sqlalchemy_writes(ctx):
    """Rows written by ``Bulk`` (the driver's executemany) and by SQLAlchemy's executemany are the
    same bytes in the database: datetimes in SQLite's text form, NULLs, values the statement
    itself holds, and values the call gives every row."""
    metadata = MetaData()
    table = Table(f"bulk_{secrets.token_hex(4)}", metadata, Column("id", Integer, primary_key=True),
                  Column("at", DateTime), Column("note", String(20)), Column("kind", String(10)),
                  Column("n", Integer))
    now = datetime(2026, 11, 26, 18, 0, 0)
    rows = [{"b_id": i, "b_at": now + timedelta(seconds=i) if i % 2 else None, "b_note": f"n{i}" if i % 3 else None}
            for i in range(6)]
    statement = update(table).where(table.c.id == bindparam("b_id"), table.c.kind == "old").values(
        at=bindparam("b_at"), note=bindparam("b_note"), n=bindparam("b_n"))
    with ctx.db.transaction() as conn:
        metadata.create_all(conn)
    try:
        with ctx.db.transaction() as conn:
            conn.execute(insert(table), [{"id": i, "kind": "old"} for i in range(12)])
            Bulk(statement)(conn, rows, b_n=7)
            conn.execute(statement, [{**r, "b_id": r["b_id"] + 6, "b_n": 7} for r in rows])
            stored = conn.execute(select(table.c.id, cast(table.c.at, String), table.c.note, table.c.n)
                                  .order_by(table.c.id)).all()
        assert [tuple(r)[1:] for r in stored[:6]] == [tuple(r)[1:] for r in stored[6:]]
        assert stored[1][1] is not None and stored[1][3] == 7
    finally:
        with ctx.db.transaction() as conn:
            metadata.drop_all(conn)
