"""What anyone holding a link can do to the public routes, bounded: an open counts once per copy,
a click once per link and copy (also when replays race each other), per-address rate limits, and
concurrent one-click unsubscribes that all succeed and write once."""

from __future__ import annotations

import os
import secrets
import threading
import time
from dataclasses import replace

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient
from test_tracking import BASE, CHROME_LINUX, CHROME_WINDOWS, counts, events, listed, make_delivery, path

from pulsebox import links, ratelimit
from pulsebox.addressbooks import service as books
from pulsebox.app import build
from pulsebox.config import Settings
from pulsebox.db import Database, migrate
from pulsebox.errors import ApiError
from pulsebox.models import utcnow
from pulsebox.outbox import repository
from pulsebox.outbox import service as smtp

REDIS_URL = os.environ.get("PULSEBOX_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
ONE_CLICK = {"content": b"List-Unsubscribe=One-Click", "headers": {"content-type": "application/x-www-form-urlencoded"}}
# the same URL twice (a logo and a "read more"): one link as far as statistics go
LINKS = ["https://example.com/a", "https://example.com/b", "https://example.com/a"]


def random_ip() -> str:
    return "10." + ".".join(str(secrets.randbelow(256)) for _ in range(3))


def client_from(ctx, ip: str) -> TestClient:
    return TestClient(build(ctx), raise_server_exceptions=False, client=(ip, 40000), follow_redirects=False)


@pytest.fixture
def key(ctx) -> bytes:
    return ctx.settings.signing_key


@pytest.fixture
def browser(ctx):
    """A client whose address is not an IP (the test client's "testclient"): never rate limited."""
    with TestClient(build(ctx), raise_server_exceptions=False, follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def limits(ctx, monkeypatch):
    """Public rate limits of 3 a day (no window boundary inside a test)."""
    monkeypatch.setattr(ctx, "settings", replace(ctx.settings, public_rate_limits="3/day"))


def run_together(count: int, work) -> list:  # noqa: ANN001
    """``work()`` in ``count`` threads released at the same moment; their results (or exceptions)."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def one(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work()
        except Exception as exc:  # noqa: BLE001
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def wait_until_blocked(ctx) -> None:
    """Until a request's write waits for the test's open transaction (PostgreSQL: a backend
    waiting on a lock; SQLite: its BEGIN IMMEDIATE waits for the write lock, which cannot be seen)."""
    if ctx.db.is_sqlite:
        time.sleep(0.5)
        return
    deadline = time.monotonic() + 10
    with ctx.db.engine.connect() as probe:
        while time.monotonic() < deadline:
            waiting = probe.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                                         " AND wait_event_type = 'Lock'")).scalar()
            probe.rollback()
            if waiting:
                return
            time.sleep(0.02)
    raise AssertionError("the request never waited for the open transaction")


def while_written_elsewhere(ctx, write, request):  # noqa: ANN001, ANN201
    """``request()`` in a thread while another transaction has done ``write(conn)`` and not yet
    committed; its answer once that transaction has committed."""
    conn = ctx.db.engine.connect().execution_options(pulsebox_write=True)
    transaction = conn.begin()
    try:
        write(conn)
        answer: list = []
        thread = threading.Thread(target=lambda: answer.append(request()))
        thread.start()
        wait_until_blocked(ctx)
        transaction.commit()
    finally:
        if transaction.is_active:
            transaction.rollback()
        conn.close()
    thread.join(30)
    assert answer, "the request did not finish"
    return answer[0]


# ---------------------------------------------------------------- 1. one open, one click per link, per copy

def test_replayed_pixel_counts_one_open_and_keeps_the_first(ctx, key, browser):
    copy = make_delivery(ctx, links=LINKS)
    url = path(links.open_url(BASE, key, copy.id))
    assert browser.get(url, headers={"User-Agent": CHROME_LINUX}).status_code == 200
    for _ in range(300):
        response = browser.get(url, headers={"User-Agent": CHROME_WINDOWS})
        assert response.status_code == 200 and response.headers["content-type"] == "image/gif"
    [event] = events(ctx, copy)
    assert (event["kind"], event["browser"], event["os"]) == ("open", "Chrome 120.0", "Linux")
    assert counts(ctx, copy) == (1, 0)


def test_replayed_clicks_count_once_per_link(ctx, key, browser, api):
    copy = make_delivery(ctx, account_id=api.id, links=LINKS)
    public_id = copy.public_id
    for _ in range(20):
        for index, target in enumerate(LINKS):
            response = browser.get(path(links.click_urls(BASE, key, copy.id)(index)))
            assert response.status_code == 302 and response.headers["location"] == target  # always redirected
    assert [(e["kind"], e["url"]) for e in events(ctx, copy)] == \
        [("open", None), ("click", LINKS[0]), ("click", LINKS[1])]  # index 2 repeats index 0's URL
    assert counts(ctx, copy) == (1, 2)
    tracking = api.get(f"/smtp/emails/{public_id}").json["tracking"]
    assert (tracking["open"], tracking["click"]) == (1, 2)
    assert len(tracking["client_info"]) == tracking["open"] and len(tracking["link"]) == tracking["click"]
    assert [link["url"] for link in tracking["link"]] == LINKS[:2]


def test_concurrent_opens_of_one_copy_count_once(ctx, key, browser):
    copy = make_delivery(ctx, links=LINKS)
    url = path(links.open_url(BASE, key, copy.id))
    answers = run_together(8, lambda: browser.get(url, headers={"User-Agent": CHROME_LINUX}))
    assert [a.status_code for a in answers] == [200] * 8
    assert [e["kind"] for e in events(ctx, copy)] == ["open"] and counts(ctx, copy) == (1, 0)


def test_an_open_racing_another_counts_once(ctx, key, browser):
    """The deterministic form of the race: the pixel's write starts while another transaction has
    recorded the open but not committed it (it cannot see it yet); the unique index decides."""
    copy = make_delivery(ctx, links=LINKS)
    with ctx.db.transaction(write=False) as conn:
        found = smtp.delivery(conn, copy.id)
    answer = while_written_elsewhere(
        ctx, lambda conn: smtp.record_event(conn, found, "open", ip="192.0.2.1"),
        lambda: browser.get(path(links.open_url(BASE, key, copy.id)), headers={"User-Agent": CHROME_LINUX}))
    assert answer.status_code == 200
    [event] = events(ctx, copy)
    assert event["ip"] == "192.0.2.1" and counts(ctx, copy) == (1, 0)


def test_concurrent_clicks_of_one_link_count_once(ctx, key, browser):
    copy = make_delivery(ctx, links=LINKS)
    url = path(links.click_urls(BASE, key, copy.id)(1))
    answers = run_together(8, lambda: browser.get(url))
    assert [(a.status_code, a.headers.get("location")) for a in answers] == [(302, LINKS[1])] * 8
    assert sorted(e["kind"] for e in events(ctx, copy)) == ["click", "open"] and counts(ctx, copy) == (1, 1)


# ---------------------------------------------------------------- 2. rate limits per client address

def test_pixel_over_the_limit_is_served_but_records_nothing(ctx, key, limits):
    copies = [make_delivery(ctx, links=LINKS) for _ in range(5)]
    with client_from(ctx, random_ip()) as replayer:
        for copy in copies:
            response = replayer.get(path(links.open_url(BASE, key, copy.id)))
            assert response.status_code == 200 and response.content.startswith(b"GIF89a")
    assert [counts(ctx, c)[0] for c in copies] == [1, 1, 1, 0, 0]
    with client_from(ctx, random_ip()) as someone_else:  # another address has its own count
        someone_else.get(path(links.open_url(BASE, key, copies[-1].id)))
    assert counts(ctx, copies[-1])[0] == 1


def test_click_over_the_limit_still_redirects_but_records_nothing(ctx, key, limits):
    copies = [make_delivery(ctx, links=LINKS) for _ in range(5)]
    with client_from(ctx, random_ip()) as replayer:
        for copy in copies:
            response = replayer.get(path(links.click_urls(BASE, key, copy.id)(1)))
            assert response.status_code == 302 and response.headers["location"] == LINKS[1]
        missing = replayer.get(path(links.click_urls(BASE, key, 2_000_000_000)(0)))
        assert missing.status_code == 404 and "location" not in missing.headers
    assert [counts(ctx, c) for c in copies] == [(1, 1)] * 3 + [(0, 0)] * 2


def test_pages_over_the_limit_answer_429(ctx, key, limits, api):
    copies = [make_delivery(ctx, links=LINKS) for _ in range(3)]
    ip = random_ip()
    with client_from(ctx, ip) as replayer:
        for _ in range(10):  # opens and clicks are counted apart from the pages
            replayer.get(path(links.open_url(BASE, key, copies[0].id)))
        assert replayer.get(path(links.unsubscribe_url(BASE, key, copies[0].id))).status_code == 200
        assert replayer.post(path(links.unsubscribe_url(BASE, key, copies[0].id)), **ONE_CLICK).status_code == 200
        assert replayer.post(path(links.unsubscribe_url(BASE, key, copies[1].id)), **ONE_CLICK).status_code == 200
        over = [replayer.post(path(links.unsubscribe_url(BASE, key, copies[2].id)), **ONE_CLICK),
                replayer.get(path(links.unsubscribe_url(BASE, key, copies[2].id)))]
        book = api.new_book()
        api.add_contacts(book, ["optin@example.com"])
        with ctx.db.transaction() as conn:
            books.set_status(conn, api.id, book, ["optin@example.com"], 2)
            contact_id = books.contact(conn, api.id, book, "optin@example.com")[0]["id"]
        over.append(replayer.get(path(links.confirm_url(BASE, key, contact_id, "optin@example.com"))))
    for response in over:
        assert response.status_code == 429 and response.headers["content-type"].startswith("text/html")
        assert "Too many requests" in response.text and int(response.headers["retry-after"]) > 0
    assert listed(ctx, copies[1]) and not listed(ctx, copies[2])
    with ctx.db.transaction(write=False) as conn:
        assert books.contact(conn, api.id, book, "optin@example.com")[0]["status"] == 2  # not confirmed
    with client_from(ctx, random_ip()) as person:  # another address is not affected
        assert person.post(path(links.unsubscribe_url(BASE, key, copies[2].id)), **ONE_CLICK).status_code == 200
    assert listed(ctx, copies[2])


def test_an_ipv6_client_is_counted_by_its_64(ctx, key, limits):
    prefix = "2001:db8:%x:%x" % (secrets.randbelow(65536), secrets.randbelow(65536))
    copies = [make_delivery(ctx, links=LINKS) for _ in range(4)]
    for i, copy in enumerate(copies):  # a new address of the same /64 for every request
        with client_from(ctx, f"{prefix}::{i + 1:x}") as rotating:
            assert rotating.get(path(links.open_url(BASE, key, copy.id))).status_code == 200
    assert [counts(ctx, c)[0] for c in copies] == [1, 1, 1, 0]


def test_limits_are_off_when_configured_so(ctx, key, monkeypatch):
    monkeypatch.setattr(ctx, "settings", replace(ctx.settings, public_rate_limits="off"))
    copies = [make_delivery(ctx, links=LINKS) for _ in range(3)]
    monkeypatch.setattr(ctx, "_public", ratelimit.MemoryLimiter(max_keys=0))  # would refuse anyone
    with client_from(ctx, random_ip()) as client:
        for copy in copies:
            client.get(path(links.open_url(BASE, key, copy.id)))
    assert [counts(ctx, c)[0] for c in copies] == [1, 1, 1]


def test_limits_are_shared_through_redis_when_configured(ctx, key, limits, monkeypatch):
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError:
        pytest.fail(f"Redis is not reachable at {REDIS_URL}")
    copies = [make_delivery(ctx, links=LINKS) for _ in range(4)]
    ip = random_ip()
    for i, copy in enumerate(copies):  # each request through another process's limiter
        monkeypatch.setattr(ctx, "limiter", ratelimit.RedisLimiter(REDIS_URL))
        with client_from(ctx, ip) as client:
            assert client.get(path(links.open_url(BASE, key, copy.id))).status_code == 200
    assert [counts(ctx, c)[0] for c in copies] == [1, 1, 1, 0]
    assert redis.Redis.from_url(REDIS_URL).keys(f"pulsebox:rl:t:open:{ip}:*")


def test_the_memory_limiter_holds_a_bounded_number_of_counters():
    limiter = ratelimit.MemoryLimiter(max_keys=4)
    rules = ratelimit.parse("2/day")
    for client in range(4):
        limiter.hit(f"client-{client}", rules)
    with pytest.raises(ApiError) as refused:
        limiter.hit("client-4", rules)  # a fifth address: no room, refused rather than remembered
    assert refused.value.status == 429 and len(limiter._counts) == 4
    limiter.hit("client-0", rules)  # the ones it holds go on being counted
    with pytest.raises(ApiError):
        limiter.hit("client-0", rules)


def test_public_rate_limits_setting(monkeypatch):
    monkeypatch.delenv("PULSEBOX_PUBLIC_RATE_LIMITS", raising=False)
    assert Settings.from_env().public_rate_limits == "20/second;600/minute"
    monkeypatch.setenv("PULSEBOX_PUBLIC_RATE_LIMITS", "5/second; 100/minute")
    assert Settings.from_env().public_rate_limits == "5/second; 100/minute"
    monkeypatch.setenv("PULSEBOX_PUBLIC_RATE_LIMITS", "off")
    assert Settings.from_env().public_rate_limits == "off"
    monkeypatch.setenv("PULSEBOX_PUBLIC_RATE_LIMITS", "lots")
    with pytest.raises(SystemExit):
        Settings.from_env()


# ---------------------------------------------------------------- 3. concurrent one-click unsubscribes

def test_concurrent_one_click_posts_all_succeed_and_write_once(ctx, key, browser):
    copy = make_delivery(ctx, links=LINKS)
    url = path(links.unsubscribe_url(BASE, key, copy.id))
    answers = run_together(8, lambda: browser.post(url, **ONE_CLICK))
    assert [a.status_code for a in answers] == [200] * 8, [a.text[:200] for a in answers if a.status_code != 200]
    assert all("You are unsubscribed" in a.text for a in answers)
    with ctx.db.transaction(write=False) as conn:
        assert [e["email"] for e in repository.list_unsubscribes(conn, copy.account_id, None, None, 10, 0)] == \
            [copy.email]
    assert [e["kind"] for e in events(ctx, copy)] == ["unsubscribe"]


def test_one_click_post_racing_another_unsubscribe_succeeds(ctx, key, browser):
    """The deterministic form of the race: the POST's write starts while another transaction has
    listed the address but not committed it."""
    copy = make_delivery(ctx, links=LINKS)
    answer = while_written_elsewhere(
        ctx, lambda conn: repository.add_unsubscribes(conn, copy.account_id, [(copy.email, "API")]),
        lambda: browser.post(path(links.unsubscribe_url(BASE, key, copy.id)), **ONE_CLICK))
    assert answer.status_code == 200 and "You are unsubscribed" in answer.text
    with ctx.db.transaction(write=False) as conn:
        [entry] = repository.list_unsubscribes(conn, copy.account_id, None, None, 10, 0)
    assert (entry["email"], entry["comment"]) == (copy.email, "API")  # the first one stays


def test_the_api_adds_listed_and_repeated_addresses_once(ctx, api):
    answer = api.post("/smtp/unsubscribe", json={"emails": [{"email": "x@example.com", "comment": "first"}]})
    assert answer.status == 200, answer.json
    answer = api.post("/smtp/unsubscribe", json={"emails": [{"email": "x@example.com", "comment": "second"},
                                                            {"email": "y@example.com", "comment": "new"}]})
    assert answer.status == 200, answer.json
    with ctx.db.transaction(write=False) as conn:
        entries = repository.list_unsubscribes(conn, api.id, None, None, 10, 0)
        assert sorted((e["email"], e["comment"]) for e in entries) == [("x@example.com", "first"),
                                                                       ("y@example.com", "new")]
        assert repository.add_unsubscribes(conn, api.id, [("z@example.com", "a"), ("z@example.com", "b")]) == 1


# ---------------------------------------------------------------- migration 0005

def test_migration_0005_removes_duplicates_and_recounts(scratch_url):
    from alembic import command
    from alembic.script import ScriptDirectory
    from sqlalchemy import insert

    from pulsebox.models import Account, Delivery, OutboxMessage

    db = Database(scratch_url)
    config = migrate._config()
    try:
        with db.engine.begin() as conn:  # the schema as it was before 0005, with some replayed events
            config.attributes["connection"] = conn
            command.upgrade(config, ScriptDirectory.from_config(config).get_revision("0005").down_revision)
            account_id = conn.execute(insert(Account.__table__).values(name="old", client_id="cid", secret_hash="x")
                                      .returning(Account.__table__.c.id)).scalar()
            message_id = conn.execute(insert(OutboxMessage.__table__).values(
                public_id="p1", account_id=account_id, sender_email="s@x", content={"links": LINKS},
                created_at=utcnow()).returning(OutboxMessage.__table__.c.id)).scalar()
            ids = [conn.execute(insert(Delivery.__table__).values(
                message_id=message_id, account_id=account_id, email=email, status="sent", opens=opens, clicks=clicks)
                .returning(Delivery.__table__.c.id)).scalar() for email, opens, clicks in (("one@x", 3, 4),
                                                                                          ("two@x", 0, 0))]
            rows = [("open", None, "192.0.2.1"), ("click", LINKS[1], "192.0.2.2"), ("open", None, "192.0.2.3"),
                    ("click", LINKS[0], "192.0.2.4"), ("click", LINKS[1], "192.0.2.5"), ("unsubscribe", None, ""),
                    ("open", None, "192.0.2.6"), ("click", "https://gone.example/", "192.0.2.7"),
                    ("unsubscribe", None, "")]
            for kind, url, ip in rows:
                conn.execute(text(
                    "INSERT INTO tracking_events (account_id, delivery_id, kind, url, ip, country, browser, os,"
                    " created_at) VALUES (:a, :d, :k, :u, :ip, '', '', '', CURRENT_TIMESTAMP)"),
                    {"a": account_id, "d": ids[0], "k": kind, "u": url, "ip": ip})
        migrate.upgrade(db)
        with db.engine.connect() as conn:
            kept = conn.execute(text("SELECT kind, url, ip, link FROM tracking_events WHERE delivery_id = :d"
                                     " ORDER BY id"), {"d": ids[0]}).all()
            assert [tuple(r) for r in kept] == [
                ("open", None, "192.0.2.1", 0), ("click", LINKS[1], "192.0.2.2", 1), ("click", LINKS[0], "192.0.2.4", 0),
                ("unsubscribe", None, "", 0), ("click", "https://gone.example/", "192.0.2.7", -1)]
            assert [tuple(r) for r in conn.execute(text("SELECT opens, clicks FROM deliveries ORDER BY id"))] == \
                [(1, 3), (0, 0)]
        with db.transaction() as conn:  # and the index holds from now on
            found = {"id": ids[0], "account_id": account_id}
            assert smtp.record_event(conn, found, "open") is False
            assert smtp.record_event(conn, found, "click", url=LINKS[1], link=1) is False
            assert smtp.record_event(conn, found, "click", url="https://c.example/", link=5) is True
    finally:
        db.dispose()
