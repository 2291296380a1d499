"""Group commit: many small units of write work share one transaction, each in its own savepoint.

A commit is the dearest part of a small write (SQLite: the WAL append and the write lock handed
from thread to thread; PostgreSQL: the WAL flush). Endpoints that take thousands of small writes a
second (``POST /smtp/emails``) hand their work to one :class:`GroupCommit` thread instead of
opening a transaction each: it takes whatever work is waiting (up to ``max_batch``), runs the
units in one transaction, commits once, and only then reports each unit's outcome. If a unit
fails, the whole group is rolled back and run again with every unit in a SAVEPOINT, so a refused
unit rolls back alone (units are re-runnable: they are database work only). So an answer still
means "committed", and nothing of a refused request is kept.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from pulsebox.db.engine import Database

log = logging.getLogger("pulsebox.db")

Work = Callable[[Connection], Any]


class GroupCommit:
    def __init__(self, db: Database, *, max_batch: int = 64) -> None:
        self.db = db
        self.max_batch = max_batch
        self._waiting: queue.SimpleQueue[tuple[Work, asyncio.Future]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, work: Work) -> asyncio.Future:
        """Run ``work(conn)`` in the next group; the future (of the running event loop) resolves
        after the commit."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.put((work, future))
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._loop, name="pulsebox-group-commit", daemon=True)
                    self._thread.start()
        return future

    def _loop(self) -> None:
        while True:
            batch = [self._waiting.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._waiting.get_nowait())
                except queue.Empty:
                    break
            try:
                self._run(batch)
            except BaseException as exc:  # noqa: BLE001 - this thread serves every later request: it must live
                log.exception("group commit thread: unexpected error")
                for _, future in batch:  # nobody may wait for ever: each request gets the error
                    try:
                        future.get_loop().call_soon_threadsafe(_fail, future, exc)
                    except RuntimeError:
                        pass

    def _run(self, batch: list[tuple[Work, asyncio.Future]]) -> None:
        try:
            outcomes = self._optimistic(batch)
            if outcomes is None:  # a unit failed: do the group again, each unit in its own savepoint
                outcomes = self._careful(batch)
        except Exception as exc:  # noqa: BLE001 - the commit failed: nothing of the group is kept
            log.exception("group commit of %d units failed", len(batch))
            outcomes = [(future, None, exc) for _, future in batch]
        # one wake-up per event loop for the whole group, not one per request
        by_loop: dict[asyncio.AbstractEventLoop, list] = {}
        for outcome in outcomes:
            by_loop.setdefault(outcome[0].get_loop(), []).append(outcome)
        for loop, items in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve, items)
            except RuntimeError:  # that loop has closed: nobody is waiting for these answers
                pass


    def _optimistic(self, batch: list[tuple[Work, asyncio.Future]]) -> list | None:
        """Every unit in one transaction with no savepoints (two round trips fewer a unit on
        PostgreSQL); None, with everything rolled back, as soon as one unit fails."""

        class _Failed(Exception):
            pass

        outcomes = []
        try:
            with self.db.transaction() as conn:
                for work, future in batch:
                    try:
                        outcomes.append((future, work(conn), None))
                    except Exception:  # noqa: BLE001 - retried below, unit by unit
                        raise _Failed() from None
        except _Failed:
            return None
        return outcomes

    def _careful(self, batch: list[tuple[Work, asyncio.Future]]) -> list:
        outcomes = []
        with self.db.transaction() as conn:
            for work, future in batch:
                savepoint = conn.begin_nested()
                try:
                    result = work(conn)
                except Exception as exc:  # noqa: BLE001 - the unit's error is its caller's answer
                    savepoint.rollback()
                    outcomes.append((future, None, exc))
                else:
                    savepoint.commit()
                    outcomes.append((future, result, None))
        return outcomes


def _fail(future: asyncio.Future, error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


def _resolve(outcomes: list[tuple[asyncio.Future, Any, BaseException | None]]) -> None:
    for future, result, error in outcomes:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
