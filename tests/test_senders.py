"""Senders and their activation by a mailed code, through the worker and a transport."""

import re
from email import message_from_bytes
from email.policy import default

from pulsebox.delivery.transports.memory import MemoryTransport
from pulsebox.worker.runner import Worker


def run_worker(ctx) -> MemoryTransport:
    """Drain the delivery queue once, like a worker would; its sending threads are stopped after."""
    transport = MemoryTransport()
    worker = Worker(ctx, transport)
    try:
        while worker.run_once():
            pass
    finally:
        worker.pool.shutdown(wait=True)
    return transport


def sent_to(transport: MemoryTransport, email: str) -> list:
    """What the drain sent to ``email`` (the test's own recipient), oldest first."""
    return [m for m in transport.sent if m[1] == [email]]


def activate_sender(api, ctx, email: str) -> None:
    assert api.get(f"/senders/{email}/code").json == {"result": True, "email": email}
    [mail] = sent_to(run_worker(ctx), email)
    code = re.search(r"Activation code: (\w+)", message_from_bytes(mail[2], policy=default).get_content())[1]
    assert api.post(f"/senders/{email}/code", json={"code": code}).json == {"result": True, "email": email}


def test_add_list_delete(api):
    assert api.post("/senders", json={"email": "Me@Example.com", "name": "Me"}).json == {"result": True}
    assert api.get("/senders").json == [{"email": "me@example.com", "name": "Me", "status": "Inactive",
                                         "is_allowed_for_smtp": True}]
    assert api.post("/senders", json={"email": "me@example.com", "name": "Me"}).error_code == 902
    assert api.post("/senders", json={"email": "x@example.com"}).error_code == 901
    assert api.post("/senders", json={"name": "X"}).error_code == 903
    assert api.delete("/senders", json={"email": "me@example.com"}).json == {"result": True}
    assert api.delete("/senders", json={"email": "me@example.com"}).error_code == 704
    assert api.get("/senders").json == []


def test_activation_code_is_mailed_and_activates(api, ctx):
    api.post("/senders", json={"email": "me@example.com", "name": "Me"})
    assert api.get("/senders/me@example.com/code").json == {"result": True, "email": "me@example.com"}
    assert api.get("/senders/me@example.com/code").error_code == 1004  # within 15 minutes
    [mail] = sent_to(run_worker(ctx), "me@example.com")
    message = message_from_bytes(mail[2], policy=default)
    assert message["To"] == "me@example.com" and message["Message-ID"]
    code = re.search(r"Activation code: (\w+)", message.get_content())[1]
    assert api.post("/senders/me@example.com/code", json={"code": "wrong"}).status == 400
    assert api.post("/senders/me@example.com/code", json={}).error_code == 1104
    assert api.get("/senders").json[0]["status"] == "Inactive"
    assert api.post("/senders/me@example.com/code", json={"code": code}).json == {"result": True, "email": "me@example.com"}
    assert api.get("/senders").json[0]["status"] == "Active"


def test_code_for_unknown_sender(api):
    assert api.get("/senders/ghost@example.com/code").error_code == 1003
    assert api.post("/senders/ghost@example.com/code", json={"code": "x"}).error_code == 1003


def test_code_is_stored_hashed(api, ctx):
    from sqlalchemy import select

    from pulsebox.models import Sender

    api.post("/senders", json={"email": "h@example.com", "name": "H"})
    api.get("/senders/h@example.com/code")
    [mail] = sent_to(run_worker(ctx), "h@example.com")
    code = re.search(rb"Activation code: (\w+)", mail[2])[1].decode()
    with ctx.db.transaction(write=False) as conn:
        stored = conn.execute(select(Sender.__table__.c.code_hash).where(Sender.__table__.c.email == "h@example.com",
                                                                         Sender.__table__.c.account_id == api.id)).scalar_one()
    assert code not in stored and len(stored) == 64


def test_activation_goes_through_the_outbox(api, ctx):
    """The code is queued as a system notice in the request's own transaction (no job): one queued
    delivery to the sender, from the system sender, whose text carries the code line."""
    from email.utils import parseaddr

    from sqlalchemy import select, update

    from pulsebox.models import Delivery, OutboxMessage

    D, M = Delivery.__table__, OutboxMessage.__table__
    api.post("/senders", json={"email": "out@example.com", "name": "Out"})
    assert api.get("/senders/out@example.com/code").json == {"result": True, "email": "out@example.com"}
    with ctx.db.transaction(write=False) as conn:
        rows = conn.execute(select(D.c.email, D.c.status, M.c.kind, M.c.sender_email, M.c.sender_name, M.c.subject,
                                   M.c.content).select_from(D.join(M, M.c.id == D.c.message_id))
                            .where(D.c.account_id == api.id)).mappings().all()
    assert len(rows) == 1
    row = rows[0]
    assert (row["email"], row["status"], row["kind"]) == ("out@example.com", "queued", "system")
    assert (row["sender_name"], row["sender_email"]) == parseaddr(ctx.settings.system_from)
    assert row["subject"] == "Confirm your sender address"
    code = re.search(r"^Activation code: ([0-9a-f]{32})$", row["content"]["text"], re.M)[1]
    assert api.post("/senders/out@example.com/code", json={"code": code}).json == {"result": True,
                                                                                  "email": "out@example.com"}
    # a refused request (1004 within 15 minutes) queues nothing more
    api.post("/senders", json={"email": "twice@example.com", "name": "Twice"})
    api.get("/senders/twice@example.com/code")
    assert api.get("/senders/twice@example.com/code").error_code == 1004
    with ctx.db.transaction() as conn:
        assert len(conn.execute(select(D.c.id).where(D.c.account_id == api.id,
                                                     D.c.email == "twice@example.com")).all()) == 1
        # checked, not sent: out of the queue, so no later test's worker run meets them
        conn.execute(update(D).where(D.c.account_id == api.id).values(status="failed", reason="test: not sent"))
