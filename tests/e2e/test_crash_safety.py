"""An accepted send is never lost, and is sent twice only if it was in flight (DESIGN.md, Guarantees).

The server is SIGKILLed (its whole process group: no shutdown hook runs, nothing is flushed) at the
two moments that matter, then started again on the same data, and the SMTP server the test runs
(aiosmtpd, in process) counts what arrives:

a. between accept and send: ``pulsebox serve --role api`` (no worker) has answered
   ``{"result": true, "id": ...}`` and committed, nothing was sent yet;
b. while sending: the worker has handed the message over and the receiving server is in the middle
   of DATA (it never answers, so by RFC 5321 it has taken no responsibility for the message); the
   copy stays leased until ``PULSEBOX_DELIVERY_LEASE`` runs out, then the restarted worker claims it
   and sends it again.

In both cases the message must arrive exactly once: once its copy is recorded sent, a second message
is sent and waited for until it is recorded sent too, so the worker has run a whole round after the
first copy's (any copy sent again would have arrived by then) before the copies are counted. Each test
runs on SQLite and, when ``PULSEBOX_TEST_BACKENDS`` names it, on a fresh PostgreSQL database.
``PULSEBOX_SENDER_CHECK=off``: these tests are about the outbox, and ``--role api`` has no worker to
mail a sender's activation code.
"""

from __future__ import annotations

import asyncio
import threading
import time
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from smtp_servers import Recorder

from .e2e_helpers import (
    Account,
    LiveServer,
    SmtpSink,
    b64,
    kill_server,
    poll,
    serve_env,
    spawn_serve,
    unique,
)

pytestmark = pytest.mark.e2e

LEASE = 5  # seconds (PULSEBOX_DELIVERY_LEASE; the server's minimum)
STALL = 60.0  # seconds the stalling SMTP server sits on the first DATA (the test kills the client long before)


class StallFirstData(Recorder):
    """A Recorder that receives the first message's DATA and then never answers it: the sending side
    is killed while it waits for the reply. Later messages are recorded and accepted as usual."""

    def __init__(self) -> None:
        super().__init__()
        self.data_started = threading.Event()
        self.data_started_at = 0.0
        self.stalled: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802, ANN001, ANN201
        with self.lock:
            first = not self.stalled
            if first:
                self.stalled.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        if not first:
            return await super().handle_DATA(server, session, envelope)
        self.data_started_at = time.monotonic()
        self.data_started.set()
        await asyncio.sleep(STALL)
        return "451 4.3.0 Stalled on purpose"


def send_one(server: LiveServer, to: str, tag: str, account: Account | None = None) -> tuple[str, Account]:
    """POST /smtp/emails for ``account`` (default: a new one); (the message id, the account)."""
    account = account or server.create_account(unique("crash"))
    api = server.api(account)
    try:
        answer = api.ok("POST", "/smtp/emails", json={"email": {
            "subject": f"Crash test {tag}", "html": b64(f"<p>Crash test {tag}</p>"),
            "from": {"name": "Crash", "email": "crash@e2e-shop.example.com"}, "to": [{"name": "", "email": to}],
        }})
        assert answer.get("result") is True and isinstance(answer.get("id"), str) and answer["id"], answer
    finally:
        api.close()
    return answer["id"], account


def email_status(server: LiveServer, account: Account, public_id: str, status: str, timeout: float = 10.0) -> dict:
    """GET /smtp/emails/{id} once it shows ``status`` (``timeout=0``: it must show it now)."""
    api = server.api(account)
    last: dict = {}

    def probe() -> dict | None:
        nonlocal last
        last = api.ok("GET", f"/smtp/emails/{public_id}")
        return last if last.get("status") == status else None

    try:
        return poll(f"GET /smtp/emails/{public_id} status {status!r}", probe, timeout=timeout,
                    detail=lambda: f"last answer: {last}\n{server.server_output()}")
    finally:
        api.close()


def after_a_whole_round(server: LiveServer, account: Account, sink: SmtpSink) -> str:
    """Once a copy is recorded sent: a second message, waited for until it is recorded sent too (its
    address). A worker round sends every copy it claimed before it records any outcome, and the rounds
    run one after the other; so when this one is recorded, a whole round has run after the first
    copy's, and anything that round or an earlier one sent (a copy claimed again, say) has arrived,
    where a fixed wait only hoped so."""
    to = f"{unique('crash-after')}@example.net"
    public_id, _ = send_one(server, to, "after", account)
    email_status(server, account, public_id, "sent")
    assert len(sink.to(to)) == 1
    return to


def test_kill_between_accept_and_send_delivers_once_after_restart(
    tmp_path: Path, database: str | None, servers: list[LiveServer]
):
    sink = SmtpSink(Recorder())
    try:
        env = serve_env(tmp_path / "data", database, MAIL_URL=sink.url, SENDER_CHECK="off")
        api_only = spawn_serve(env, tmp_path / "logs", role="api")  # accepts and commits; sends nothing
        servers.append(api_only)
        to, tag = f"{unique('crash-a')}@example.net", unique("")
        public_id, account = send_one(api_only, to, tag)
        assert email_status(api_only, account, public_id, "queued", timeout=0)["recipient"] == to

        kill_server(api_only)  # SIGKILL the whole group
        assert api_only.process.returncode is not None
        assert sink.received() == [], "the api-only server sent mail: it has a worker after all"

        restarted = spawn_serve(env, tmp_path / "logs", role="all")
        servers.append(restarted)
        [got] = sink.wait_for(to, server=restarted)
        assert got.message["Subject"] == f"Crash test {tag}"
        info = email_status(restarted, account, public_id, "sent")
        assert info["smtp_answer_code"] == 250, info
        after = after_a_whole_round(restarted, account, sink)
        assert len(sink.to(to)) == 1, f"duplicates: {[m.message['Message-ID'] for m in sink.to(to)]}"
        assert [m.rcpts for m in sink.received()] == [[to], [after]]
    finally:
        sink.stop()


def test_kill_during_smtp_data_resends_once_after_the_lease(
    tmp_path: Path, database: str | None, servers: list[LiveServer]
):
    handler = StallFirstData()
    sink = SmtpSink(handler)
    try:
        env = serve_env(tmp_path / "data", database, MAIL_URL=sink.url, SENDER_CHECK="off", DELIVERY_LEASE=str(LEASE))
        first = spawn_serve(env, tmp_path / "logs", role="all")
        servers.append(first)
        to, tag = f"{unique('crash-b')}@example.net", unique("")
        public_id, account = send_one(first, to, tag)

        assert handler.data_started.wait(10), f"the worker never reached DATA\n{first.server_output()}"
        assert email_status(first, account, public_id, "sending", timeout=0)["recipient"] == to
        kill_server(first)  # mid-transaction: the receiver never answered DATA, so it holds no copy
        killed_at = time.monotonic()
        assert first.process.returncode is not None
        assert sink.received() == [] and len(handler.stalled) == 1 and handler.stalled[0][1] == [to]

        restarted = spawn_serve(env, tmp_path / "logs", role="all")
        servers.append(restarted)
        [got] = sink.wait_for(to, timeout=LEASE + 10, server=restarted)
        arrived_at = time.monotonic()
        # claimed again only once the lease ran out (it was taken just before DATA started)
        assert arrived_at - handler.data_started_at >= LEASE - 1, (arrived_at - handler.data_started_at, killed_at)
        assert got.message["Subject"] == f"Crash test {tag}"
        stalled_id = BytesParser(policy=policy.default).parsebytes(handler.stalled[0][2])["Message-ID"]
        assert got.message["Message-ID"] == stalled_id, "the copy sent again is the same delivery"
        info = email_status(restarted, account, public_id, "sent")
        assert info["smtp_answer_code"] == 250, info
        after = after_a_whole_round(restarted, account, sink)
        assert len(sink.to(to)) == 1, f"duplicates: {[m.message['Message-ID'] for m in sink.to(to)]}"
        assert [m.rcpts for m in sink.received()] == [[to], [after]]
    finally:
        sink.stop()
