"""A web push send is never lost, and is sent twice only if it was in flight (README, Web push: "a killed
worker loses nothing and repeats at most what was in flight").

The server is SIGKILLed (its whole process group: no shutdown hook runs, nothing is flushed) and started
again on the same data, while a real RFC 8030 push service run by the test (tests/push_service.py, in
process, so it outlives the server: it checks each push's VAPID signature and decrypts it with the
subscriber's keys) counts, per subscriber, the POSTs it saw and the pushes it accepted:

a. between accept and send: ``pulsebox serve --role api`` (no worker) has answered ``POST /push/tasks``
   with ``{"result": true, "id": ...}``; nothing was copied or sent yet;
b. while a push is in flight: the push service has read subscriber A's first POST and never answers it
   (``StallingPushService``). A's send stays leased until ``PULSEBOX_DELIVERY_LEASE`` runs out, then the
   restarted worker claims it and posts it again. Two orders: A first in the worker's round, and A last;
   either way B and C are POSTed (before A, or beside it by other sending threads), answered 201, and
   their outcomes recorded (``pump.settled``: within a quarter of a second of the answer) before the kill:
   they were not in flight, so they must not be sent again;
c. mid-copy: 2,500 subscribers, copied into sends a batch (``service.COPY_BATCH``) a transaction with
   the task's cursor; the kill comes after the first batch committed and before the last, and the
   restarted worker copies on from the cursor: every subscriber once, no send row twice.

Exactly once is established as the mail test does (tests/e2e/test_crash_safety.py): once the task shows
every send recorded (``status`` 3, ``send`` = the subscribers), a second task is created and waited for
until it is recorded sent too, so the worker has run whole rounds after the first task's (a send claimed
again would have been POSTed, and answered, by then) before the first task's pushes are counted. The
bound asserted everywhere: each subscriber has exactly one accepted push of the task; only a POST whose
outcome was not recorded (the stalled one) may be repeated, so the POSTs a subscriber saw are one, or two for
the stalled subscriber. Each test runs on SQLite and, when ``PULSEBOX_TEST_BACKENDS`` names it, on a
fresh PostgreSQL database.

Server settings: ``PULSEBOX_PUSH_ALLOW_PRIVATE`` (the push service is http on 127.0.0.1),
``PULSEBOX_PUSH_TASK_INTERVAL=0`` (the second task at once), ``PULSEBOX_DELIVERY_LEASE=5`` (the minimum).
A restart uses the killed server's port, so its ``PUBLIC_URL`` (which a payload's links carry) is the same
and a push sent again can be compared with the stalled one byte for byte.
"""

from __future__ import annotations

import collections
import json
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from push_service import WPUSH, PushService, Received, Subscriber, b64url
from sqlalchemy import Engine, create_engine, func, insert, select

from pulsebox.models import PushSend, PushSubscription, PushTask, utcnow
from pulsebox.push import service as push_service_rules

from .e2e_helpers import (
    Api,
    LiveServer,
    kill_server,
    poll,
    serve_env,
    spawn_serve,
    unique,
)

pytestmark = pytest.mark.e2e

LEASE = 5  # seconds (PULSEBOX_DELIVERY_LEASE; the server's minimum)
STALL = 60.0  # seconds a stalled POST is held unanswered at most (the test kills the sender long before)
SETTINGS = {"PUSH_ALLOW_PRIVATE": "true", "PUSH_TASK_INTERVAL": "0", "DELIVERY_LEASE": str(LEASE)}
SITE = "https://crash-shop.example.com"
MANY = 2_500  # subscribers of case c: three copy batches (COPY_BATCH 1000)


class StallingPushService(PushService):
    """A PushService that reads the first POST to each token in ``stall_tokens`` whole and never answers
    it: the handler thread waits until ``release`` is set (the test's end), then drops the connection
    unanswered. The POST is counted in ``attempts`` (not in ``received``) and kept in ``stalled``:
    token -> (time.monotonic() it arrived, its header fields lower-cased, its body). Later POSTs to the
    token are handled as usual. ``register`` makes a subscriber known without a key of its own (case c
    shares one key pair among thousands)."""

    def __init__(self) -> None:
        super().__init__()
        self.stall_tokens: set[str] = set()
        self.stalled: dict[str, tuple[float, dict, bytes]] = {}
        self.stall_reached = threading.Event()
        self.release = threading.Event()

    def register(self, subscribers: list[Subscriber]) -> None:
        with self._lock:
            for subscriber in subscribers:
                self._subscribers[subscriber.token] = subscriber

    def _push(self, path: str, headers, body: bytes, connection: int):  # noqa: ANN001, ANN202
        match = WPUSH.fullmatch(urlsplit(path).path)
        token = match.group(1) if match else None
        with self._lock:
            stall = token in self.stall_tokens and token not in self.stalled
            if stall:
                self.attempts[token] = self.attempts.get(token, 0) + 1
                self.log.append((token, 0, "stalled: read, never answered"))
                self.stalled[token] = (time.monotonic(), {k.lower(): v for k, v in headers.items()}, body)
        if not stall:
            return super()._push(path, headers, body, connection)
        self.stall_reached.set()
        self.release.wait(STALL)
        # out of the handler: the server closes the connection without a byte of answer (a ConnectionError
        # is not kept in ``errors``)
        raise ConnectionAbortedError("a stalled push is never answered")

    def close(self) -> None:
        self.release.set()
        super().close()

    def accepted(self) -> list[Received]:
        with self._lock:
            return list(self.received)


@pytest.fixture
def push() -> Iterator[StallingPushService]:
    with StallingPushService() as running:
        yield running


# ------------------------------------------------------------------------------------------------ #
#                                           helpers                                                 #
# ------------------------------------------------------------------------------------------------ #


def add_site(api: Api, url: str = SITE) -> dict:
    site = api.ok("POST", "/push/websites", json={"url": url})
    assert site.get("result") is True and site["id"] and site["appkey"] and site["vapid_public_key"], site
    return site


def subscribe(server: LiveServer, site: dict, subscriber: Subscriber) -> int:
    """The public route a browser's snippet posts to (JSON as text/plain, a CORS simple request)."""
    body = {"appkey": site["appkey"], "subscription": subscriber.to_json(), "lang": "en", "browser": "Firefox",
            "os": "Linux", "url": f"{SITE}/"}
    r = httpx.post(f"{server.base_url}/push/subscribe", content=json.dumps(body),
                   headers={"content-type": "text/plain;charset=UTF-8"}, timeout=30.0)
    assert r.status_code == 200, (r.status_code, r.text)
    answer = r.json()
    assert answer.get("result") is True and isinstance(answer.get("id"), int), answer
    return answer["id"]


def create_task(api: Api, site: dict, title: str) -> int:
    answer = api.ok("POST", "/push/tasks", json={"title": title, "website_id": site["id"],
                                                   "body": f"Crash test {title}", "ttl": 3600, "stretch_time": 0})
    assert answer.get("result") is True and isinstance(answer.get("id"), int), answer
    return answer["id"]


def task_sent(server: LiveServer, api: Api, task_id: int, count: int, *, timeout: float) -> dict:
    """GET /push/tasks/{id} once every send is recorded: ``send`` "count" and ``status`` 3."""
    last: dict = {}

    def probe() -> dict | None:
        nonlocal last
        last = api.ok("GET", f"/push/tasks/{task_id}")
        return last if last.get("status") == 3 and last.get("send") == str(count) else None

    return poll(f"push task {task_id}: send {count!r}, status 3", probe, timeout=timeout, every=0.2,
                detail=lambda: f"last answer: {last}\n{server.server_output()}")


def tag(received: Received) -> str:
    return json.loads(received.payload)["tag"]


def pushes_of(push: StallingPushService, task_id: int) -> list[Received]:
    return [r for r in push.accepted() if tag(r) == f"pulsebox-{task_id}"]


def wait_pushes(push: StallingPushService, server: LiveServer, task_id: int, count: int, *,
                timeout: float) -> list[Received]:
    return poll(f"{count} accepted pushes of task {task_id}", lambda: (got if len(got := pushes_of(push, task_id))
                                                                       >= count else None),
                timeout=timeout, every=0.05,
                detail=lambda: f"accepted {len(pushes_of(push, task_id))}; rejected {push.rejected[:10]}; "
                               f"errors {push.errors[:5]}\n{server.server_output()}")


def after_whole_rounds(server: LiveServer, api: Api, push: StallingPushService, site: dict, count: int) -> int:
    """Once the first task shows every send recorded: a second task, waited for until its ``count`` pushes
    arrived and it shows them recorded. A worker round POSTs every send it claimed before it records any
    outcome, and rounds run one after the other; so by then the worker has run a whole round after the
    first task's last one, and anything it sent again has arrived (where a fixed wait only hoped so)."""
    second = create_task(api, site, unique("after"))
    wait_pushes(push, server, second, count, timeout=30)
    task_sent(server, api, second, count, timeout=15)
    return second


def exactly_once(push: StallingPushService, task_id: int, tokens: list[str], answered_before_kill: set[str]) -> None:
    """Every subscriber of ``tokens`` has exactly one accepted push of ``task_id`` (a duplicate named with
    whether its first copy was answered 201 before the kill: then it was not in flight)."""
    counts = collections.Counter(r.token for r in pushes_of(push, task_id))
    assert set(counts) <= set(tokens), f"pushes to endpoints that are not subscribers: {set(counts) - set(tokens)}"
    missing = [t for t in tokens if counts[t] == 0]
    twice = {t: n for t, n in counts.items() if n > 1}
    resent = sorted(t for t in twice if t in answered_before_kill)
    assert not missing and not twice, (
        f"task {task_id}: {len(missing)} subscriber(s) never got the push (lost: {missing[:5]}), "
        f"{len(twice)} got it more than once ({dict(list(twice.items())[:5])}); of those, {len(resent)} had "
        f"their push answered 201 before the kill, so it was not in flight and was sent again: {resent[:5]}")


def engine_for(env: dict[str, str]) -> Engine:
    """An engine on the server's database (SQLite: the file ``serve`` makes in its data dir)."""
    url = env.get("PULSEBOX_DATABASE_URL") or f"sqlite:///{Path(env['PULSEBOX_DATA_DIR']) / 'pulsebox.db'}"
    if url.startswith("postgresql://"):
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    return create_engine(url, connect_args={"timeout": 30} if url.startswith("sqlite") else {})


def copy_state(engine: Engine, task_id: int) -> dict:
    """The task's checkpoint and its send rows, as committed."""
    T, P = PushTask.__table__, PushSend.__table__
    with engine.connect() as conn:
        task = conn.execute(select(T.c.cursor, T.c.copied, T.c.copied_all, T.c.status)
                            .where(T.c.id == task_id)).mappings().one()
        by_status = dict(conn.execute(select(P.c.status, func.count()).where(P.c.task_id == task_id)
                                      .group_by(P.c.status)).all())
        rows, distinct = conn.execute(select(func.count(), func.count(P.c.subscription_id.distinct()))
                                      .where(P.c.task_id == task_id)).one()
    return {**task, "sends": rows, "distinct_subscribers": distinct, "by_status": by_status}


# ------------------------------------------------------------------------------------------------ #
#                                            a                                                      #
# ------------------------------------------------------------------------------------------------ #


def test_kill_between_accept_and_send_pushes_once_after_restart(
    tmp_path: Path, database: str | None, servers: list[LiveServer], push: StallingPushService
):
    env = serve_env(tmp_path / "data", database, **SETTINGS)
    api_only = spawn_serve(env, tmp_path / "logs", role="api")  # accepts and commits; copies and sends nothing
    servers.append(api_only)
    account = api_only.create_account(unique("pushcrash"))
    api = api_only.api(account)
    try:
        site = add_site(api)
        push.expect_vapid_key(site["vapid_public_key"])
        subscribers = [push.subscribe() for _ in range(3)]
        for subscriber in subscribers:
            subscribe(api_only, site, subscriber)
        task_id = create_task(api, site, unique("a"))
        stats = api.ok("GET", f"/push/tasks/{task_id}")
        assert stats["send"] == "0" and stats["status"] != 3, stats
    finally:
        api.close()

    kill_server(api_only)  # SIGKILL the whole group
    assert api_only.process.returncode is not None
    assert push.attempts == {}, f"the api-only server pushed: it has a worker after all ({push.log})"

    restarted = spawn_serve(env, tmp_path / "logs", role="all", port=api_only.port)
    servers.append(restarted)
    api = restarted.api(account)
    try:
        wait_pushes(push, restarted, task_id, 3, timeout=20)
        stats = task_sent(restarted, api, task_id, 3, timeout=15)
        assert stats["status"] == 3 and stats["send"] == "3", stats
        after_whole_rounds(restarted, api, push, site, 3)
    finally:
        api.close()
    tokens = [s.token for s in subscribers]
    exactly_once(push, task_id, tokens, set())
    assert push.attempts == {t: 2 for t in tokens}, f"POSTs per subscriber (2 tasks): {push.attempts}"
    assert push.rejected == [] and push.errors == [], (push.rejected, push.errors)
    assert all(json.loads(r.payload)["body"].startswith("Crash test a") for r in pushes_of(push, task_id))


# ------------------------------------------------------------------------------------------------ #
#                                            b                                                      #
# ------------------------------------------------------------------------------------------------ #


def kill_while_in_flight(tmp_path: Path, database: str | None, servers: list[LiveServer],
                         push: StallingPushService, stalled_place: int) -> None:
    """Three subscribers; the push service stalls on the first POST to the one subscribed ``stalled_place``-th
    (their sends are claimed, and POSTed by one sending thread, in that order). When the stall is reached,
    and when A is not first, the pushes before it are answered, the server is SIGKILLed and started
    again."""
    env = serve_env(tmp_path / "data", database, **SETTINGS)
    first = spawn_serve(env, tmp_path / "logs", role="all")
    servers.append(first)
    account = first.create_account(unique("pushcrash"))
    api = first.api(account)
    subscribers = [push.subscribe() for _ in range(3)]
    stalled = subscribers[stalled_place]
    others = [s.token for s in subscribers if s is not stalled]
    push.stall_tokens.add(stalled.token)
    try:
        site = add_site(api)
        push.expect_vapid_key(site["vapid_public_key"])
        for subscriber in subscribers:
            subscribe(first, site, subscriber)
        task_id = create_task(api, site, unique("b"))
        assert push.stall_reached.wait(15), f"the worker never POSTed to A\n{push.log}\n{first.server_output()}"
        # B and C (posted before A, or beside it by other sending threads) are answered, and their outcomes
        # recorded (pump.settled: within a quarter of a second of the answer) while A's POST still waits
        poll("B and C answered 201 and recorded sent", lambda: {r.token for r in push.accepted()} >= set(others)
             and api.ok("GET", f"/push/tasks/{task_id}")["send"] == "2", timeout=10,
             detail=lambda: f"{push.log}\n{first.server_output()}")
    finally:
        api.close()
    answered_before_kill = {r.token for r in push.accepted()}
    kill_server(first)  # A's POST has no answer: by RFC 8030 the push service has not taken it
    assert first.process.returncode is not None
    stalled_at, stalled_headers, stalled_body = push.stalled[stalled.token]
    assert stalled.token not in answered_before_kill

    # the same port, so the same PUBLIC_URL: the push sent again carries the same links
    restarted = spawn_serve(env, tmp_path / "logs", role="all", port=first.port)
    servers.append(restarted)
    api = restarted.api(account)
    try:
        [again] = poll("A's push accepted after the restart",
                       lambda: [r for r in pushes_of(push, task_id) if r.token == stalled.token],
                       timeout=LEASE + 20, every=0.05, detail=lambda: f"{push.log}\n{restarted.server_output()}")
        # claimed again only once the lease ran out (it was taken just before the stalled POST)
        assert again.at - stalled_at >= LEASE - 1, f"A was sent again {again.at - stalled_at:.2f} s after the stall"
        assert again.payload == stalled.decrypt(stalled_body), "the push sent again is not the stalled one"
        assert again.topic and again.topic == stalled_headers.get("topic"), (again.topic, stalled_headers)
        stats = task_sent(restarted, api, task_id, 3, timeout=20)
        assert stats["send"] == "3" and stats["status"] == 3, stats
        after_whole_rounds(restarted, api, push, site, 3)
    finally:
        api.close()
    exactly_once(push, task_id, [s.token for s in subscribers], answered_before_kill)
    # the only POST repeated is the one never answered: A saw 2 for the task (+1 for the second task)
    expected = {s.token: 3 if s is stalled else 2 for s in subscribers}
    assert push.attempts == expected, (
        f"POSTs per subscriber {push.attempts}, expected {expected} (answered before the kill: "
        f"{sorted(answered_before_kill)}, stalled: {stalled.token})")
    assert push.rejected == [] and push.errors == [], (push.rejected, push.errors)


def test_kill_while_the_first_push_of_a_round_is_in_flight_resends_only_it(
    tmp_path: Path, database: str | None, servers: list[LiveServer], push: StallingPushService
):
    kill_while_in_flight(tmp_path, database, servers, push, stalled_place=0)


# ------------------------------------------------------------------------------------------------ #
#                                            c                                                      #
# ------------------------------------------------------------------------------------------------ #


def test_kill_mid_copy_copies_on_from_the_checkpoint_and_pushes_each_subscriber_once(
    tmp_path: Path, database: str | None, servers: list[LiveServer], push: StallingPushService
):
    """2,500 subscribers (inserted straight into push_subscriptions, one key pair shared by all). A worker
    round copies one batch and then sends what is due before the next round copies again; the push
    service stalls on the first subscriber's POST, so the worker sits in its first send round with the
    first batch committed and the rest not copied (deterministic: no race with a fast copy). With
    ``PULSEBOX_SEND_CONCURRENCY=1`` that POST is the only one started, so it is the only one in flight."""
    env = serve_env(tmp_path / "data", database, **SETTINGS)
    first = spawn_serve({**env, "PULSEBOX_SEND_CONCURRENCY": "1"}, tmp_path / "logs", role="all")
    servers.append(first)
    account = first.create_account(unique("pushcrash"))
    api = first.api(account)
    engine = engine_for(env)
    key, auth = ec.generate_private_key(ec.SECP256R1()), secrets.token_bytes(16)
    subscribers = [Subscriber(token=f"c{i:05d}{secrets.token_hex(4)}", endpoint="", private_key=key, auth=auth)
                   for i in range(MANY)]
    for s in subscribers:
        s.endpoint = f"{push.base_url}/wpush/{s.token}"
    push.register(subscribers)
    stalled = subscribers[0]  # the lowest subscription id: the first send claimed and POSTed
    push.stall_tokens.add(stalled.token)
    try:
        site = add_site(api)
        now = utcnow().replace(microsecond=0)
        p256dh, auth_text = stalled.p256dh, b64url(auth)  # what a browser gives: unpadded base64url
        with engine.begin() as conn:  # in id order: A (the stalled one) has the lowest id
            conn.execute(insert(PushSubscription.__table__), [
                {"account_id": account.id, "website_id": site["id"], "endpoint": s.endpoint, "p256dh": p256dh,
                 "auth": auth_text, "browser": "firefox", "lang": "en", "os": "linux",
                 "country_code": "", "url": f"{SITE}/", "variables": {}, "status": 1, "created_at": now,
                 "updated_at": now} for s in subscribers])
        info = api.ok("GET", f"/push/websites/info/{site['id']}")
        assert info["active_subscribers"] == MANY, info
        task_id = create_task(api, site, unique("c"))
        assert push.stall_reached.wait(20), f"the worker never POSTed\n{push.log[:5]}\n{first.server_output()}"
        at_kill = copy_state(engine, task_id)
        kill_server(first)  # the worker is in its first send round, A's POST unanswered
        assert first.process.returncode is not None
    finally:
        api.close()
    after_kill = copy_state(engine, task_id)
    assert after_kill == at_kill, (at_kill, after_kill)
    batch = push_service_rules.COPY_BATCH
    assert 0 < after_kill["sends"] < MANY and not after_kill["copied_all"], (
        f"not killed mid-copy: {after_kill}")
    assert after_kill["sends"] == after_kill["copied"] == after_kill["distinct_subscribers"], after_kill
    assert after_kill["copied"] % batch == 0, f"a copy batch was committed in part: {after_kill}"
    answered_before_kill = {r.token for r in push.accepted()}
    assert push.attempts == {stalled.token: 1}, f"more than A's POST was started: {len(push.attempts)} POSTs"

    # the same port (so the same PUBLIC_URL, which the payload's links carry), the default sending threads
    restarted = spawn_serve(env, tmp_path / "logs", role="all", port=first.port)
    servers.append(restarted)
    api = restarted.api(account)
    try:
        wait_pushes(push, restarted, task_id, MANY, timeout=LEASE + 40)
        stats = task_sent(restarted, api, task_id, MANY, timeout=20)
        assert stats["send"] == str(MANY) and stats["status"] == 3, stats
        # a whole round after: a task of another website with one subscriber
        other_site = add_site(api, "https://crash-other.example.com")
        other = push.subscribe()
        subscribe(restarted, other_site, other)
        second = after_whole_rounds(restarted, api, push, other_site, 1)
        assert [r.token for r in pushes_of(push, second)] == [other.token]
    finally:
        api.close()
    done = copy_state(engine, task_id)
    engine.dispose()
    assert done["sends"] == done["distinct_subscribers"] == done["copied"] == MANY and done["copied_all"], done
    assert done["by_status"] == {"sent": MANY}, done
    tokens = [s.token for s in subscribers]
    exactly_once(push, task_id, tokens, answered_before_kill)
    # the bound: only the POST in flight at the kill (A's, never answered) was repeated
    repeated = {t: n for t, n in push.attempts.items() if n > 1 and t != other.token}
    assert repeated == {stalled.token: 2}, f"POSTs repeated: {dict(list(repeated.items())[:10])}"
    assert sum(push.attempts.values()) == MANY + 2, sum(push.attempts.values())
    assert push.rejected == [] and push.errors == [], (push.rejected[:5], push.errors[:5])


# ------------------------------------------------------------------------------------------------ #
#                     b, A last: the pushes answered before the kill were not in flight              #
# ------------------------------------------------------------------------------------------------ #


def test_kill_while_the_last_push_of_a_round_is_in_flight_does_not_resend_those_answered(
    tmp_path: Path, database: str | None, servers: list[LiveServer], push: StallingPushService
):
    """B and C are POSTed and answered 201 in the same worker round as A, before A stalls: their outcomes are
    recorded while the round still waits for A, so only A was in flight at the kill."""
    kill_while_in_flight(tmp_path, database, servers, push, stalled_place=2)
