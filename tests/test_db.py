"""The transaction wrapper: after-commit hooks, reentrant reads, in-memory SQLite."""

import pytest
from sqlalchemy import text

from pulsebox.db import Database


def test_hooks_run_after_commit_only():
    db = Database("sqlite://")
    ran = []
    from pulsebox.db.engine import after_commit

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
