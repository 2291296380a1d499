"""Per-account API limits: burst 2020202020, per-minute/day quotas 429, shared through Redis."""

import os
import secrets

import pytest

from conftest import Api, make_account
from pulsebox import ratelimit
from pulsebox.errors import ApiError

REDIS_URL = os.environ.get("PULSEBOX_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def test_parse_specs():
    rules = ratelimit.parse("10/second; 1000/minute;500000/day")
    assert [(r.count, r.seconds) for r in rules] == [(10, 1), (1000, 60), (500000, 86400)]
    with pytest.raises(ValueError):
        ratelimit.parse("ten per second")


def test_burst_limit_per_account(ctx, client):
    limited = Api(client, make_account(ctx, rate_limits="3/second"))
    free = Api(client, make_account(ctx, rate_limits="1000/second"))
    codes = [limited.get("/balance") for _ in range(6)]
    rejected = [a for a in codes if a.status == 429]
    assert rejected and all(a.error_code == 2020202020 and a.json["is_error"] for a in rejected)
    assert len([a for a in codes if a.status == 200]) <= 3 * 2  # at most two windows' worth
    assert free.get("/balance").status == 200  # another account is not affected


def test_minute_quota(ctx, client):
    limited = Api(client, make_account(ctx, rate_limits="100/second;2/minute"))
    answers = [limited.get("/balance") for _ in range(4)]
    assert [a.status for a in answers][:2] == [200, 200]
    assert answers[-1].status == 429 and answers[-1].error_code == 429


def test_environment_default_applies_without_override(ctx):
    from dataclasses import replace

    from pulsebox.accounts.service import limits

    settings = replace(ctx.settings, api_rate_limits="7/second")
    row = {"rate_limits": None, "email_quota": None, "max_subscribers": None, "campaigns_per_hour": None,
           "same_list_interval": None}
    assert limits(row, settings).rate_rules[0].count == 7
    assert limits({**row, "rate_limits": "9/second"}, settings).rate_rules[0].count == 9


def test_redis_counters_are_shared_between_processes():
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError:
        pytest.fail(f"Redis is not reachable at {REDIS_URL}")
    rules = ratelimit.parse("5/day")  # a day window: no boundary inside the test
    first, second = ratelimit.RedisLimiter(REDIS_URL), ratelimit.RedisLimiter(REDIS_URL)
    account = 10**9 + secrets.randbelow(10**6)
    outcomes = []
    for i in range(8):
        try:
            (first if i % 2 else second).hit(account, rules)
            outcomes.append("ok")
        except ApiError as exc:
            outcomes.append(exc.code)
    assert outcomes == ["ok"] * 5 + [429] * 3


def test_api_with_redis_counts_reads_off_the_event_loop(ctx, monkeypatch):
    """With Redis, GETs run in a thread (never waiting for Redis on the loop) and are still counted."""
    import asyncio

    from starlette.testclient import TestClient

    from conftest import Api, make_account
    from pulsebox.app import build

    limiter = ratelimit.RedisLimiter(REDIS_URL)
    on_loop: list[bool] = []
    original = limiter.hit

    def hit(account_id, rules):  # noqa: ANN001, ANN202
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:  # no event loop runs in this thread
            on_loop.append(False)
        return original(account_id, rules)

    monkeypatch.setattr(limiter, "hit", hit)
    monkeypatch.setattr(ctx, "limiter", limiter)
    with TestClient(build(ctx), raise_server_exceptions=False) as client:
        account = make_account(ctx, rate_limits="100/second;3/day")
        stale = limiter._redis.keys(f"pulsebox:rl:{account['id']}:*")  # ids repeat across test sessions
        if stale:
            limiter._redis.delete(*stale)
        api = Api(client, account)
        answers = [api.get("/balance").status for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    assert len(on_loop) >= 4 and not any(on_loop)  # the token request is counted too, also off the loop


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_check_raises_like_hit_without_counting(kind):
    limiter = ratelimit.MemoryLimiter() if kind == "memory" else ratelimit.RedisLimiter(REDIS_URL)
    rules = ratelimit.parse("2/day")
    key = f"check-{secrets.token_hex(6)}"
    for _ in range(5):
        limiter.check(key, rules)  # counts nothing
    limiter.hit(key, rules)
    limiter.hit(key, rules)
    with pytest.raises(ApiError):
        limiter.check(key, rules)
