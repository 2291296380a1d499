"""Shared fixtures: every database-backed test runs on SQLite and on PostgreSQL.

Backends come from PULSEBOX_TEST_BACKENDS (default "sqlite,postgresql"). The PostgreSQL run creates
its own database on PULSEBOX_TEST_PG_URL (default postgresql://postgres@127.0.0.1:5432/postgres) and
drops it afterwards. Tests isolate themselves by tenancy: each test gets fresh accounts, so one
migrated database per backend serves the whole session. The delivery queue is the one thing all
accounts share: what a test leaves queued is set aside when it ends (``_queue_left_empty``), so a
worker run in a test sends that test's mail and nothing else.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text, update
from starlette.testclient import TestClient

from pulsebox.accounts import service as accounts
from pulsebox.app import build
from pulsebox.config import Settings
from pulsebox.context import Context
from pulsebox.db import migrate
from pulsebox.delivery.transports.memory import MemoryTransport
from pulsebox.campaigns.schemas import CANCELLED, COPYING, NEW, TEST
from pulsebox.models import Campaign, ContactImport, Delivery, PushSend, PushTask, WebhookEvent
from pulsebox.templates.service import sync_system_templates
from pulsebox.worker.runner import Worker

PG_ADMIN_URL = os.environ.get("PULSEBOX_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = [b.strip() for b in os.environ.get("PULSEBOX_TEST_BACKENDS", "sqlite,postgresql").split(",") if b.strip()]
NO_LIMITS = "100000/second;1000000/minute;100000000/day"
# accounts made by tests hash their secrets cheaply (each hash says its own cost; servers keep 2**14)
accounts.SCRYPT_N = 2**4


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):  # noqa: ANN001, ANN201
    """Under pytest-xdist's default distribution (scripts/test: ``-n 2``) the tests go to the workers one
    at a time in collection order, as with ``--dist load``, but an e2e module's tests go to one worker
    together: its module-scoped server, account and client runs are made once, not once per worker,
    and those modules (the longest) are handed out first. (``--dist loadgroup`` with ``xdist_group``
    marks would say the same, but pytest-xdist 3.8 cannot rename a pytest 9 item's node id, so those
    marks group nothing.) Each worker has its own databases (``empty_database``: its process id in
    the name), folders (``tmp_path``) and ports (bound by the system)."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class E2EModulesTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if "/e2e/" in f"/{module}" else nodeid

    return E2EModulesTogether(config, log)


def _pg_admin():  # noqa: ANN202
    url = PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    return create_engine(url, isolation_level="AUTOCOMMIT")


@contextlib.contextmanager
def empty_database(backend: str, folder: Path) -> Iterator[str]:
    """The URL of a new, empty database on ``backend`` (a file in ``folder`` for SQLite, a database
    of its own on PULSEBOX_TEST_PG_URL for PostgreSQL, dropped afterwards)."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'pulsebox.db'}"
        return
    name = f"pulsebox_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory) -> str:  # noqa: ANN001
    with empty_database(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture
def scratch_url(database_url, tmp_path) -> str:  # noqa: ANN001
    """An empty database of the test's own on the session's backend (to migrate step by step)."""
    with empty_database("sqlite" if database_url.startswith("sqlite") else "postgresql", tmp_path) as url:
        yield url


@pytest.fixture(scope="session")
def base_settings(database_url, tmp_path_factory) -> Settings:  # noqa: ANN001
    data_dir = tmp_path_factory.mktemp("data")
    return replace(Settings.from_env(), data_dir=Path(data_dir), database_url=database_url,
                   mail_url="memory://", api_rate_limits=NO_LIMITS, redis_url=None)


@pytest.fixture(scope="session")
def ctx(base_settings) -> Context:  # noqa: ANN001
    context = Context.create(base_settings)
    migrate.upgrade(context.db)
    with context.db.transaction() as conn:
        sync_system_templates(conn)
    yield context
    context.db.dispose()


@pytest.fixture(autouse=True)
def _queue_left_empty(request):  # noqa: ANN001, ANN202
    """After a test with a database, its unsent copies are marked ``suppressed`` ("test ended"),
    its campaigns still to copy are cancelled, its webhook events not posted dropped, its push tasks,
    sends and contact imports ended: the next test's drain meets no earlier test's mail or events (asked for lazily,
    so a test without a database is not run once per backend for this)."""
    yield
    if "ctx" in request.fixturenames:
        D, C, E = Delivery.__table__, Campaign.__table__, WebhookEvent.__table__
        PT, PS, CI = PushTask.__table__, PushSend.__table__, ContactImport.__table__
        with request.getfixturevalue("ctx").db.transaction() as conn:
            conn.execute(update(D).where(D.c.status.in_(("queued", "deferred", "sending")))
                         .values(status="suppressed", reason="test ended", locked_until=None))
            conn.execute(update(C).where(C.c.status.in_((NEW, COPYING, TEST))).values(status=CANCELLED))
            conn.execute(update(E).where(E.c.status == "pending").values(status="dropped"))
            conn.execute(update(PT).where(PT.c.copied_all.is_(False)).values(copied_all=True))
            conn.execute(update(PS).where(PS.c.status.in_(("queued", "sending")))
                         .values(status="failed", error="test ended", locked_until=None))
            conn.execute(update(CI).where(CI.c.status == "queued").values(status="failed", error="test ended"))


@dataclass
class Answer:
    status: int
    json: object

    @property
    def error_code(self) -> int | None:
        return self.json.get("error_code") if isinstance(self.json, dict) else None


class Api:
    """A logged-in SendPulse client of one account, over the real ASGI app."""

    def __init__(self, client: TestClient, account: dict) -> None:
        self.client = client
        self.account = account
        self.id = account["id"]
        answer = client.post("/oauth/access_token", json={"grant_type": "client_credentials",
                                                          "client_id": account["client_id"],
                                                          "client_secret": account["client_secret"]})
        assert answer.status_code == 200, answer.text
        self.token = answer.json()["access_token"]
        self.headers = {"Authorization": f"Bearer {self.token}"}

    def call(self, method: str, path: str, **kwargs) -> Answer:  # noqa: ANN003
        headers = {**self.headers, **kwargs.pop("headers", {})}
        response = self.client.request(method, path, headers=headers, **kwargs)
        assert response.headers["content-type"].startswith("application/json"), response.text
        return Answer(response.status_code, response.json())

    def get(self, path: str, **kw) -> Answer:  # noqa: ANN003
        return self.call("GET", path, **kw)

    def post(self, path: str, **kw) -> Answer:  # noqa: ANN003
        return self.call("POST", path, **kw)

    def put(self, path: str, **kw) -> Answer:  # noqa: ANN003
        return self.call("PUT", path, **kw)

    def delete(self, path: str, **kw) -> Answer:  # noqa: ANN003
        return self.call("DELETE", path, **kw)

    # small conveniences used across areas
    def new_book(self, name: str | None = None) -> int:
        answer = self.post("/addressbooks", json={"bookName": name or f"book-{secrets.token_hex(4)}"})
        assert answer.status == 200, answer.json
        return answer.json["id"]

    def add_contacts(self, book_id: int, emails: list) -> Answer:
        return self.post(f"/addressbooks/{book_id}/emails", json={"emails": emails})


def b64(text_value: str) -> str:
    return base64.b64encode(text_value.encode()).decode()


@pytest.fixture
def client(ctx) -> TestClient:  # noqa: ANN001
    with TestClient(build(ctx), raise_server_exceptions=False) as test_client:
        yield test_client


def drain(ctx: Context) -> MemoryTransport:
    """Run a worker's rounds until nothing is left to do; what it sent (into a memory transport)."""
    transport = MemoryTransport()
    worker = Worker(ctx, transport)
    while worker.run_once():
        pass
    worker.pool.shutdown()
    return transport


def make_account(ctx: Context, **overrides) -> dict:  # noqa: ANN003
    with ctx.db.transaction() as conn:
        return accounts.create(conn, f"acct-{secrets.token_hex(6)}", **{"rate_limits": NO_LIMITS, **overrides})


@pytest.fixture
def api(ctx, client) -> Api:  # noqa: ANN001
    return Api(client, make_account(ctx))


@pytest.fixture
def other(ctx, client) -> Api:  # noqa: ANN001
    """A second, unrelated account: its ids must look missing to ``api`` and vice versa."""
    return Api(client, make_account(ctx))


@pytest.fixture
def tmp_dir() -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)
