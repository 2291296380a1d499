"""Live end-to-end fixtures: a real ``pulsebox serve`` subprocess driven by the real SendPulse clients.

The server runs as ``sys.executable -m pulsebox`` (so it is the package installed in the venv that runs
pytest) on a free port, with a fresh temporary data directory: SQLite by default, or the database in
``PULSEBOX_TEST_DATABASE_URL`` when that is set. Mail goes to the default capture transport, a Maildir
under ``$PULSEBOX_DATA_DIR/mail/``; :meth:`LiveServer.wait_for_message` polls it.

Every test here is marked ``e2e`` (registered below, not in pyproject): ``pytest -m "not e2e"`` skips them.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from .e2e_helpers import BACKENDS, Account, Api, LiveServer, own_database, spawn_serve, stop_server, unique

E2E_DIR = Path(__file__).resolve().parent

pytestmark = pytest.mark.e2e

TEST_TIMEOUT = int(os.environ.get("PULSEBOX_E2E_TEST_TIMEOUT", "180"))  # hard cap per test
RATE_LIMITS = "1000/second;100000/minute;1000000/day"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Belt and braces: everything under tests/e2e carries the marker even if a module forgets it.
    for item in items:
        if E2E_DIR in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


# --------------------------------------------------------------------------------------------- #
#                                          fixtures                                             #
# --------------------------------------------------------------------------------------------- #


def _server_env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    for key in ("PULSEBOX_DATABASE_URL", "PULSEBOX_MAIL_URL", "PULSEBOX_DATA_DIR", "PULSEBOX_API_RATE_LIMITS"):
        env.pop(key, None)
    env["PULSEBOX_DATA_DIR"] = str(data_dir)
    env["PULSEBOX_API_RATE_LIMITS"] = RATE_LIMITS
    if os.environ.get("PULSEBOX_TEST_DATABASE_URL"):
        env["PULSEBOX_DATABASE_URL"] = os.environ["PULSEBOX_TEST_DATABASE_URL"]
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture(scope="session")
def live_server() -> Iterator[LiveServer]:
    root = Path(tempfile.mkdtemp(prefix="pulsebox-e2e-"))
    data_dir = root / "data"
    data_dir.mkdir()
    log_dir = root / "logs"
    log_dir.mkdir()
    server = spawn_serve(_server_env(data_dir), log_dir)
    try:
        server.account = server.create_account(unique("default"))
        yield server
    finally:
        stop_server(server)
        if os.environ.get("PULSEBOX_E2E_KEEP"):
            print(f"\n[e2e] kept server data and logs in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def account(live_server: LiveServer) -> Account:
    """A fresh account per test module, so modules never see each other's lists, senders or blacklist."""
    return live_server.create_account(unique("mod"))


@pytest.fixture(scope="module")
def api(live_server: LiveServer, account: Account) -> Iterator[Api]:
    client = live_server.api(account)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def _bounded_test_time(request: pytest.FixtureRequest) -> Iterator[None]:
    """Hard per-test time cap: the SendPulse clients retry forever on some 401s and ``requests``
    has no default timeout, so a misbehaving server must fail the test, not hang the run."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGALRM"):
        yield
        return

    def on_alarm(signum, frame):
        raise TimeoutError(f"e2e test exceeded {TEST_TIMEOUT}s: {request.node.nodeid}")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TEST_TIMEOUT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """A database of the test's own on each backend ``PULSEBOX_TEST_BACKENDS`` names (None: SQLite in
    the server's data folder), for tests that start (and kill) servers of their own."""
    with own_database(request.param) as url:
        yield url


@pytest.fixture
def servers() -> Iterator[list[LiveServer]]:
    """Every server a test starts; whatever still runs at the end is stopped."""
    started: list[LiveServer] = []
    yield started
    for server in started:
        stop_server(server)
