"""Two ``pulsebox worker`` processes share one campaign through PostgreSQL alone, and one of them is
SIGKILLed mid-send: every recipient still gets the message, and only copies that were in flight
when the kill came may arrive twice.

``pulsebox serve --role api`` takes the API calls (20,000 contacts, then ``POST /campaigns``); two
workers copy the recipients and send them to an SMTP server in this process that counts what
arrives per recipient. Once a third of the copies are sent, the first worker's whole process group
is killed; the copies it had leased (``status = 'sending'``) are counted at that moment. The other
worker finishes the campaign, and sends the killed one's leased copies again once their lease
(``PULSEBOX_DELIVERY_LEASE``, 5 s) runs out.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from .e2e_helpers import BACKENDS, b64, free_port, own_database, poll, serve_env, spawn_serve, stop_server

pytestmark = [pytest.mark.e2e, pytest.mark.skipif("postgresql" not in BACKENDS, reason="a PostgreSQL test")]

RECIPIENTS = 20_000
LEASE = 5


class Counter:
    """An SMTP handler that counts the copies each recipient got (and keeps nothing else)."""

    def __init__(self) -> None:
        self.per_rcpt: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802, ANN001, ANN201
        with self.lock:
            self.per_rcpt.update(r.lower() for r in envelope.rcpt_tos)
        return "250 Message accepted"

    def total(self) -> int:
        with self.lock:
            return sum(self.per_rcpt.values())


def spawn_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "pulsebox", "worker"], env=env, stdout=out, stderr=out,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def test_two_workers_share_a_campaign_and_a_killed_one_loses_nothing(tmp_path: Path):
    from aiosmtpd.controller import Controller

    counter = Counter()
    smtp = Controller(counter, hostname="127.0.0.1", port=free_port())
    smtp.start()
    workers: list[subprocess.Popen] = []
    with own_database("postgresql") as url:
        env = serve_env(tmp_path / "data", url, MAIL_URL=f"smtp://127.0.0.1:{smtp.port}?tls=none&pool=4",
                        DELIVERY_LEASE=str(LEASE), SENDER_CHECK="off", SEND_CONCURRENCY="4",
                        EMAIL_QUOTA=str(2 * RECIPIENTS), MAX_SUBSCRIBERS=str(2 * RECIPIENTS))
        server = spawn_serve(env, tmp_path / "logs", role="api")
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        try:
            api = server.api(server.create_account())
            book = api.ok("POST", "/addressbooks", json={"bookName": "big"})["id"]
            for first in range(0, RECIPIENTS, 10_000):
                api.ok("POST", f"/addressbooks/{book}/emails", json={"emails": [
                    {"email": f"r{i:05d}@example.com", "variables": {"name": f"R{i}"}}
                    for i in range(first, first + 10_000)]})
            created = api.ok("POST", "/campaigns", json={
                "sender_name": "Shop", "sender_email": "shop@example.com", "subject": "Hi {{name}}",
                "body": b64("<p>Hello {{name}}</p>"), "list_id": book})
            assert created["status"] == 13 and created["count"] == RECIPIENTS, created
            workers = [spawn_worker(env, tmp_path / f"worker{i}.log") for i in range(2)]

            def sent() -> int:
                with engine.connect() as conn:
                    return conn.execute(text("SELECT count(*) FROM deliveries WHERE status = 'sent'")).scalar()

            poll("a third of the campaign sent", lambda: sent() >= RECIPIENTS // 3, timeout=120, every=0.02)
            os.killpg(workers[0].pid, signal.SIGKILL)
            workers[0].wait(10)
            with engine.connect() as conn:
                in_flight = conn.execute(text("SELECT count(*) FROM deliveries WHERE status = 'sending'")).scalar()
            poll("every copy sent", lambda: sent() == RECIPIENTS, timeout=300, every=0.2)
            poll("the campaign finished", lambda: api.ok("GET", f"/campaigns/{created['id']}")["status"] == 3,
                 timeout=30)
        finally:
            for worker in workers:
                if worker.poll() is None:
                    os.killpg(worker.pid, signal.SIGKILL)
                    worker.wait(10)
            stop_server(server)
            engine.dispose()
            smtp.stop()
    expected = {f"r{i:05d}@example.com" for i in range(RECIPIENTS)}
    assert set(counter.per_rcpt) == expected  # every recipient got it, nobody else did
    twice = sum(n - 1 for n in counter.per_rcpt.values())
    assert twice <= in_flight, (twice, in_flight)  # only what was in flight at the kill came again
    print(f"\n{RECIPIENTS} recipients, {in_flight} copies in flight at the kill, {twice} received twice")
