"""Engine set-up for SQLite (embedded default) and PostgreSQL, and the transaction wrapper.

The wrapper owns the transaction: it commits when the work returns, rolls back when it raises,
and only after a commit runs the hooks the work registered (e.g. waking the worker for jobs it
enqueued), so no job is seen before its data.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import StaticPool

AFTER_COMMIT = "pulsebox_after_commit"


def _json_dumps(value: object) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# JSON columns (message content, contact variables) through orjson: ~5x faster than json.dumps
_JSON = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here; SQLite paths get their directory created."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername.startswith("sqlite") and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    return parsed.render_as_string(hide_password=False)


class Database:
    def __init__(self, url: str, *, pool_size: int = 8) -> None:
        self.url = normalise_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        self._readers: dict[threading.Thread, Connection] = {}  # see _reader
        self._readers_lock = threading.Lock()
        if self.is_sqlite:
            self.engine = self._sqlite_engine()
        else:
            self.engine = create_engine(self.url, pool_size=pool_size, max_overflow=pool_size * 2,
                                        pool_pre_ping=True, **_JSON)

    def _sqlite_engine(self) -> Engine:
        in_memory = ":memory:" in self.url or self.url.rstrip("/") in ("sqlite:", "sqlite+pysqlite:")
        engine = create_engine(
            self.url,
            connect_args={"check_same_thread": False, "timeout": 30}, **_JSON,
            **({"poolclass": StaticPool} if in_memory else {"pool_size": 12, "max_overflow": 4}),
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):  # noqa: ANN001
            # Let us issue BEGIN ourselves (below) instead of pysqlite's implicit, late BEGIN.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):  # noqa: ANN001
            # A write transaction takes the write lock up front: a deferred transaction that
            # upgrades from read to write can fail with SQLITE_BUSY without waiting at all.
            # Straight to the driver: a full SQLAlchemy execution would double a read's cost.
            immediate = conn.get_execution_options().get("pulsebox_write", False)
            conn.connection.driver_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Connection]:
        if write:
            if self._readers:
                self._release_dead_readers()
            conn = self.engine.connect().execution_options(pulsebox_write=True)
        else:
            conn = self._reader()
        if not write and AFTER_COMMIT in conn.info:  # a read inside a read on this thread: join it
            yield conn
            return
        hooks: list[Callable[[], None]] = []
        conn.info[AFTER_COMMIT] = hooks
        try:
            with conn.begin():
                yield conn
        finally:
            conn.info.pop(AFTER_COMMIT, None)
            if write:
                conn.close()
            elif conn.invalidated:
                with self._readers_lock:
                    self._readers.pop(threading.current_thread(), None)
                conn.close()
        for hook in hooks:
            hook()

    def _reader(self) -> Connection:
        """Each thread keeps one connection for its read transactions: API reads run on the
        event loop one after another, and a pool checkout/return would cost as much as the query."""
        thread = threading.current_thread()
        conn = self._readers.get(thread)
        if conn is None or conn.closed:
            self._release_dead_readers()
            conn = self.engine.connect()
            if not self.is_sqlite:
                # PostgreSQL runs READ COMMITTED: every statement takes a fresh snapshot inside a
                # transaction too, so a read transaction buys nothing but BEGIN/COMMIT round trips.
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            with self._readers_lock:
                self._readers[thread] = conn
        return conn

    def _release_dead_readers(self) -> None:
        """Return to the pool the readers of threads that have ended. Thread pools retire idle
        threads (anyio's after 10 s) and start new ones: a reader left to the garbage collector
        came back late or not at all, and 16 of them exhausted the pool (every later transaction
        then waited 30 s and failed)."""
        with self._readers_lock:
            dead = [self._readers.pop(t) for t in [t for t in self._readers if not t.is_alive()]]
        for conn in dead:
            conn.close()

    def dispose(self) -> None:
        with self._readers_lock:
            readers, self._readers = list(self._readers.values()), {}
        for conn in readers:
            conn.close()
        self.engine.dispose()


def after_commit(conn: Connection, hook: Callable[[], None]) -> None:
    """Run ``hook`` once the surrounding transaction has committed (never if it rolls back)."""
    hooks = conn.info.get(AFTER_COMMIT)
    if hooks is None:
        hook()
    else:
        hooks.append(hook)
