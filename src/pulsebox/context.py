"""What one Pulsebox process shares between requests and jobs: settings, database, limiter,
token cache, the secrets scrypt lately accepted, and a short cache of accounts and their limits.
Built once per process; nothing here is shared between processes, so every cache is short-lived."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from pulsebox.accounts import service as accounts
from pulsebox.config import Settings
from pulsebox.db import Database
from pulsebox.db.group import GroupCommit
from pulsebox.oauth.service import RECHECK_SECONDS, TokenCache, VerifiedSecrets
from pulsebox.ratelimit import MemoryLimiter, RedisLimiter, make_limiter

# Seconds an account and its limits are cached: operator changes (and a deleted account) apply
# within that, like a revoked token (oauth/service.py).
_ACCOUNT_TTL = RECHECK_SECONDS
PUBLIC_COUNTERS = 100_000  # in-memory counters of the public routes' limits at most (~20 MB)


@dataclass
class Context:
    settings: Settings
    db: Database
    limiter: MemoryLimiter | RedisLimiter
    tokens: TokenCache = field(default_factory=TokenCache)
    verified: VerifiedSecrets = field(default_factory=VerifiedSecrets)
    _accounts: dict[int, tuple[float, dict, accounts.Limits]] = field(default_factory=dict)
    _group: GroupCommit | None = None
    _public: MemoryLimiter = field(default_factory=lambda: MemoryLimiter(max_keys=PUBLIC_COUNTERS))

    @property
    def public_limiter(self) -> MemoryLimiter | RedisLimiter:
        """The limiter of the public routes' per-address limits: Redis when the API's limits are
        there (shared by every process), else a bounded one of its own (anyone can mint addresses:
        they must not grow the table the per-account API limits live in)."""
        return self.limiter if self.limiter.blocking else self._public

    @property
    def group(self) -> GroupCommit:
        """The group commit of grouped write endpoints (made on first use)."""
        if self._group is None:
            self._group = GroupCommit(self.db)
        return self._group

    @classmethod
    def create(cls, settings: Settings) -> Context:
        return cls(settings=settings, db=Database(settings.database_url), limiter=make_limiter(settings.redis_url))

    def account(self, account_id: int) -> tuple[dict, accounts.Limits] | None:
        now = time.monotonic()
        cached = self._accounts.get(account_id)
        if cached and cached[0] > now:
            return cached[1], cached[2]
        with self.db.transaction(write=False) as conn:
            row = accounts.get(conn, account_id)
        if row is None:
            self._accounts.pop(account_id, None)
            return None
        limits = accounts.limits(row, self.settings)
        self._accounts[account_id] = (now + _ACCOUNT_TTL, row, limits)
        return row, limits
