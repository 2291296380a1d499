#!/usr/bin/env python3
"""Per-layer cost of the two benchmarked calls, measured in-process (no HTTP, no load generator),
so that a change to one layer shows up as a number that does not depend on how busy the machine is.

    python bench/layers.py            # prints median microseconds per step

GET /addressbooks/{id}: the whole ASGI app, the request wrapper ``api._run``, its transaction, the
repository query as written and as a pre-built statement, and raw sqlite3 for the floor.
POST /addressbooks/{id}/emails with 1,000 contacts: decoding, validation, the counters, the lookup of
existing contacts, the INSERT as written and two cheaper ways to write the same rows.
Uses a fresh SQLite database in a temporary directory; writes nothing else.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
DATA = tempfile.mkdtemp(prefix="pulsebox-layers-")
atexit.register(shutil.rmtree, DATA, ignore_errors=True)
os.environ["PULSEBOX_DATA_DIR"] = DATA
os.environ["PULSEBOX_API_RATE_LIMITS"] = "1000000/second;100000000/minute;1000000000/day"
os.environ["PULSEBOX_MAX_SUBSCRIBERS"] = "100000000"
os.environ.pop("PULSEBOX_DATABASE_URL", None)

import orjson
from run import build_bodies
from sqlalchemy import bindparam, create_engine, insert, select

from pulsebox import addresses, api, cli, wire
from pulsebox.accounts import service as accounts
from pulsebox.addressbooks import endpoints as books
from pulsebox.addressbooks import repository as repo
from pulsebox.addressbooks import schemas
from pulsebox.addressbooks import service as svc
from pulsebox.app import build
from pulsebox.config import Settings
from pulsebox.context import Context
from pulsebox.models.base import utcnow


def measure(label: str, fn, n: int, rounds: int = 7, unit: str = "us", setup=None) -> float:
    times = []
    for _ in range(rounds):
        arg = setup() if setup else None
        t0 = time.perf_counter()
        for _ in range(n):
            fn(arg) if setup else fn()
        times.append((time.perf_counter() - t0) / n)
    value = statistics.median(times) * (1e6 if unit == "us" else 1e3)
    print(f"  {value:9.1f} {unit}  {label}")
    return value


def main() -> None:
    settings = Settings.from_env()
    ctx = Context.create(settings)
    cli._prepare_database(ctx, allow_create=True)
    with ctx.db.transaction() as conn:
        acc = accounts.create(conn, "layers", rate_limits=os.environ["PULSEBOX_API_RATE_LIMITS"])
        from pulsebox.oauth import service as oauth

        token = oauth.issue_token(conn, acc["client_id"], acc["client_secret"], 3600)
        book_id = svc.create_book(conn, acc["id"], "layers")
    account_id = acc["id"]
    path = {"id": str(book_id)}

    print("GET /addressbooks/{id} (one request, sequential)")
    app = build(ctx)
    scope = {"type": "http", "method": "GET", "path": f"/addressbooks/{book_id}",
             "raw_path": f"/addressbooks/{book_id}".encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {token}".encode())],
             "scheme": "http", "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1), "http_version": "1.1",
             "asgi": {"version": "3.0"}}

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 200, message

    async def many(n: int) -> None:
        for _ in range(n):
            await app(dict(scope), receive, send)

    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        asyncio.run(many(500))
        times.append((time.perf_counter() - t0) / 500)
    print(f"  {statistics.median(times) * 1e6:9.1f} us  whole ASGI app in-process (Starlette, api.endpoint, "
          "run_in_threadpool thread hop, _run)")

    async def direct(fn, *args):
        return fn(*args)
    hop, api.run_in_threadpool = api.run_in_threadpool, direct
    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        asyncio.run(many(500))
        times.append((time.perf_counter() - t0) / 500)
    api.run_in_threadpool = hop
    print(f"  {statistics.median(times) * 1e6:9.1f} us  the same with _run called on the event loop (no thread hop)")
    measure("api._run(get_book): token cache, account cache, limiter, decode, transaction, handler",
            lambda: api._run(ctx, books.get_book, False, False, token, "", b"", b"", path), 2000)

    def empty_tx() -> None:
        with ctx.db.transaction(write=False):
            pass
    measure("db.transaction(write=False) with nothing in it (pool checkout, BEGIN via exec_driver_sql, COMMIT)",
            empty_tx, 2000)
    with ctx.db.engine.connect() as conn:
        measure("repository.get_book as written (select() built per call)",
                lambda: repo.get_book(conn, account_id, book_id), 2000)
        prebuilt = select(repo.B).where(repo.B.c.id == bindparam("b"), repo.B.c.account_id == bindparam("a"))
        measure("the same query as a module-level statement with bindparams",
                lambda: conn.execute(prebuilt, {"b": book_id, "a": account_id}).mappings().first(), 2000)
        conn.rollback()
    row = repo.get_book(ctx.db.engine.connect(), account_id, book_id)
    measure("schemas.book_out + orjson.dumps", lambda: orjson.dumps([schemas.book_out(dict(row))]), 2000)
    raw = sqlite3.connect(f"{DATA}/pulsebox.db", isolation_level=None, check_same_thread=False)

    def raw_read() -> None:
        raw.execute("BEGIN")
        raw.execute("SELECT * FROM books WHERE id = ? AND account_id = ?", (book_id, account_id)).fetchone()
        raw.execute("COMMIT")
    measure("floor: raw sqlite3 BEGIN; SELECT; COMMIT", raw_read, 2000)

    def new_connection() -> None:
        c = sqlite3.connect(f"{DATA}/pulsebox.db", isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000"):
            c.execute(f"PRAGMA {pragma}")
        c.close()
    measure("a pool overflow checkout: sqlite3.connect + the 4 PRAGMAs of db/engine.py + close",
            new_connection, 300)
    pool = ctx.db.engine.pool
    print(f"  (SQLite pool: {type(pool).__name__} size {pool.size()} overflow {pool._max_overflow}; "
          "anyio's default thread limiter: 40 threads)")

    print("\nPOST /addressbooks/{id}/emails, 1,000 contacts with 3 variables (ms per request)")
    bodies = build_bodies(60_000, 1000)
    for body in bodies[:3]:  # declare the variables, warm caches
        api._run(ctx, books.add_contacts, False, True, token, "application/json", body, b"", path)
    sample = bodies[3]
    params = wire.decode("application/json", sample, b"")
    contacts = schemas.contacts_to_add(params)
    types = {"name": "string", "age": "number", "birthday": "date"}
    n = 3
    measure("orjson.loads of the body", lambda: orjson.loads(sample), n, unit="ms")
    measure("wire.decode (orjson.loads + _structure copy of every dict)",
            lambda: wire.decode("application/json", sample, b""), n, unit="ms")
    measure("schemas.contacts_to_add (addresses + variables_map per contact)",
            lambda: schemas.contacts_to_add(params), n, unit="ms")
    measure("  of which addresses.require x1000", lambda: [addresses.require(c[0]) for c in contacts], n, unit="ms")
    measure("service._typed x1000", lambda: [svc._typed(c[1], types) for c in contacts], n, unit="ms")

    def tallies() -> None:
        delta: Counter = Counter()
        for _ in contacts:
            delta += svc.tally([(1, None)])
    measure("service.add_contacts counters: `delta += tally([...])` x1000", tallies, n, unit="ms")
    with ctx.db.engine.connect() as conn:
        measure("repository.contacts_by_email (1000 addresses, 2 IN queries)",
                lambda: repo.contacts_by_email(conn, book_id, [c[0] for c in contacts]), n, unit="ms")
        conn.rollback()

    counter = [0]

    def rows() -> list[dict]:
        counter[0] += 1
        return [{"account_id": account_id, "book_id": book_id, "email": f"r{counter[0]}-{c[0]}", "status": 1,
                 "phone": "", "variables": svc._typed(c[1], types), "source": "api"} for c in contacts]

    def core_insert(batch: list[dict]) -> None:
        with ctx.db.transaction() as conn:
            repo.insert_contacts(conn, batch)
    measure("repository.insert_contacts as written (Core, json.dumps, utcnow() per row) + commit",
            core_insert, 1, rounds=9, unit="ms", setup=rows)
    fast_engine = create_engine(ctx.db.url, json_serializer=lambda v: orjson.dumps(v).decode())

    def core_fast(batch: list[dict]) -> None:
        now = utcnow()
        for r in batch:
            r["added_at"] = now
        with fast_engine.begin() as conn:
            conn.execute(insert(repo.C), batch)
    measure("Core insert, engine json_serializer=orjson, added_at set once per request + commit",
            core_fast, 1, rounds=9, unit="ms", setup=rows)
    sql = ("INSERT INTO contacts (account_id, book_id, email, status, phone, variables, source, added_at) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")

    def raw_insert(batch: list[dict]) -> None:
        now = utcnow().isoformat(" ")
        raw.execute("BEGIN IMMEDIATE")
        raw.executemany(sql, [(r["account_id"], r["book_id"], r["email"], r["status"], r["phone"],
                               orjson.dumps(r["variables"]).decode(), r["source"], now) for r in batch])
        raw.execute("COMMIT")
    measure("raw executemany (what conn.exec_driver_sql would send), orjson, one timestamp + commit",
            raw_insert, 1, rounds=9, unit="ms", setup=rows)
    it = iter(bodies[4:])
    measure("whole api._run(add_contacts) for one 1,000-contact body",
            lambda: api._run(ctx, books.add_contacts, False, True, token, "application/json", next(it), b"", path),
            5, unit="ms")


if __name__ == "__main__":
    main()
