"""Sending limits: a copy over the global, the account's or its domain's limit goes back to the
queue (its attempt not spent), due when the window ends; the others are sent."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from pulsebox.accounts import service as accounts
from pulsebox.config import domain_rules
from pulsebox.delivery.transports.memory import MemoryTransport
from pulsebox.models import Delivery, utcnow
from pulsebox.worker.runner import Worker


def send(api, *recipients: str) -> None:  # noqa: ANN001
    answer = api.post("/smtp/emails", json={"email": {
        "subject": "s", "from": {"email": "shop@example.com"}, "text": "t",
        "to": [{"email": r} for r in recipients]}})
    assert answer.status == 200, answer.json


def one_round(ctx) -> MemoryTransport:  # noqa: ANN001
    transport = MemoryTransport()
    worker = Worker(ctx, transport)
    worker.run_once()
    worker.pool.shutdown()
    return transport


def states(ctx, account_id: int) -> list[tuple]:  # noqa: ANN001
    with ctx.db.transaction(write=False) as conn:
        return conn.execute(select(Delivery.email, Delivery.status, Delivery.attempts, Delivery.next_attempt_at)
                            .where(Delivery.account_id == account_id).order_by(Delivery.email)).all()


def test_a_domain_over_its_limit_waits_and_the_others_go(api, ctx):
    original = ctx.settings
    ctx.settings = replace(original, domain_send_rates="gmail.com=2/minute, *=1000/second")
    try:
        send(api, "a@gmail.com", "b@gmail.com", "c@gmail.com", "d@other.example")
        sent = sorted(r[0] for _, r, _ in one_round(ctx).sent)
    finally:
        ctx.settings = original
    assert sent == ["a@gmail.com", "b@gmail.com", "d@other.example"]
    (waiting,) = [s for s in states(ctx, api.id) if s[1] == "queued"]
    assert waiting[0] == "c@gmail.com" and waiting[2] == 0  # the attempt is not spent
    assert waiting[3] > utcnow()  # due when the minute ends


def test_an_accounts_own_limit_overrides_the_setting(api, other, ctx):
    with ctx.db.transaction() as conn:
        accounts.configure(conn, str(api.id), send_rate="1/minute")
    ctx._accounts.pop(api.id, None)
    send(api, "x@example.com", "y@example.com")
    send(other, "p@example.com", "q@example.com")
    sent = sorted(r[0] for _, r, _ in one_round(ctx).sent)
    assert sent == ["p@example.com", "q@example.com", "x@example.com"]  # the other account is not limited


def test_the_global_limit_counts_every_account(api, other, ctx):
    original = ctx.settings
    ctx.settings = replace(original, send_rate="3/minute")
    try:
        send(api, "g1@example.com", "g2@example.com")
        send(other, "g3@example.com", "g4@example.com")
        assert len(one_round(ctx).sent) == 3
    finally:
        ctx.settings = original


def test_domain_rates_are_read_strictly():
    assert domain_rules("gmail.com=100/second;5000/minute, *=200/second")["gmail.com"][1].count == 5000
    for bad in ("gmail.com", "=1/second", "gmail.com=fast"):
        try:
            domain_rules(bad)
        except ValueError:
            continue
        raise AssertionError(bad)
