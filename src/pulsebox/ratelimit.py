"""Per-account API rate limits: a per-second burst limit and per-minute/per-day quotas (doc 003).

Fixed windows counted in process memory by default, or in Redis (``PULSEBOX_REDIS_URL``) so that
several server processes enforce one limit. Over the burst limit: 429 with error_code 2020202020;
over a quota: 429 with error_code 429.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

from pulsebox.errors import RATE_LIMIT_BURST, TOO_MANY_REQUESTS, ApiError

_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_RULE = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour|day)s?\s*$")


@dataclass(frozen=True)
class Rule:
    count: int
    seconds: int
    unit: str


def parse(spec: str) -> tuple[Rule, ...]:
    """``10/second;1000/minute;500000/day`` -> rules; raises ValueError on a malformed spec."""
    rules = []
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        match = _RULE.match(part)
        if not match:
            raise ValueError(f"bad rate limit {part!r}: expected N/second, N/minute, N/hour or N/day")
        rules.append(Rule(int(match[1]), _UNITS[match[2]], match[2]))
    return tuple(rules)


def _exceeded(rule: Rule) -> ApiError:
    if rule.seconds == 1:
        return ApiError(RATE_LIMIT_BURST, f"Too many requests: more than {rule.count} requests per second")
    return ApiError(TOO_MANY_REQUESTS, f"Too many requests: quota of {rule.count} requests per {rule.unit} exceeded",
                    extra={"retry_after": rule.seconds - int(time.time()) % rule.seconds})


class MemoryLimiter:
    blocking = False  # answers from memory: fine on the event loop

    def __init__(self, max_keys: int | None = None) -> None:
        """``max_keys`` bounds the counters held at once, for keys anyone can mint (the client
        addresses of the public ``/t/`` routes): while the table is full, a key it does not hold
        yet is refused as over its longest window (it cannot reset anyone's count); windows that
        end free room again."""
        self.max_keys = max_keys
        self._counts: dict[tuple[object, int, int], int] = {}
        self._lock = threading.Lock()
        self._next_sweep = 0.0

    def hit(self, key: object, rules: tuple[Rule, ...]) -> None:
        now = time.time()
        with self._lock:
            if now > self._next_sweep:
                self._sweep(now)
            counters = [(key, r.seconds, int(now // r.seconds)) for r in rules]
            for rule, counter in zip(rules, counters):
                if self._counts.get(counter, 0) >= rule.count:
                    raise _exceeded(rule)
            if self.max_keys is not None and rules:
                fresh = sum(1 for counter in counters if counter not in self._counts)
                if fresh and len(self._counts) + fresh > self.max_keys:
                    raise _exceeded(max(rules, key=lambda r: r.seconds))
            for counter in counters:
                self._counts[counter] = self._counts.get(counter, 0) + 1

    def check(self, key: object, rules: tuple[Rule, ...]) -> None:
        """Raise as ``hit`` would, without counting (count later, e.g. only failures)."""
        now = time.time()
        with self._lock:
            for rule in rules:
                if self._counts.get((key, rule.seconds, int(now // rule.seconds)), 0) >= rule.count:
                    raise _exceeded(rule)

    def _sweep(self, now: float) -> None:
        self._counts = {k: v for k, v in self._counts.items() if (k[2] + 1) * k[1] > now}
        self._next_sweep = now + 1


class RedisLimiter:
    blocking = True  # a network round trip: API reads leave the event loop for a thread

    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url)

    def hit(self, account_id: object, rules: tuple[Rule, ...]) -> None:
        now = time.time()
        pipe = self._redis.pipeline(transaction=False)
        for rule in rules:
            key = f"pulsebox:rl:{account_id}:{rule.seconds}:{int(now // rule.seconds)}"
            pipe.incr(key)
            pipe.expire(key, rule.seconds + 1)
        counts = pipe.execute()[::2]
        for rule, count in zip(rules, counts):
            if count > rule.count:
                raise _exceeded(rule)


    def check(self, key: object, rules: tuple[Rule, ...]) -> None:
        now = time.time()
        counts = self._redis.mget([f"pulsebox:rl:{key}:{r.seconds}:{int(now // r.seconds)}" for r in rules])
        for rule, count in zip(rules, counts):
            if count is not None and int(count) >= rule.count:
                raise _exceeded(rule)


def make_limiter(redis_url: str | None) -> MemoryLimiter | RedisLimiter:
    return RedisLimiter(redis_url) if redis_url else MemoryLimiter()
