"""What one Pulsebox process shares between requests and jobs: settings, database, limiter,
token cache, and a short cache of account limits. Built once per process."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from pulsebox.accounts import service as accounts
from pulsebox.config import Settings
from pulsebox.db import Database
from pulsebox.db.group import GroupCommit
from pulsebox.oauth.service import TokenCache
from pulsebox.ratelimit import MemoryLimiter, RedisLimiter, make_limiter

_ACCOUNT_TTL = 10.0  # seconds an account's limits are cached; operator changes apply after that


@dataclass
class Context:
    settings: Settings
    db: Database
    limiter: MemoryLimiter | RedisLimiter
    tokens: TokenCache = field(default_factory=TokenCache)
    _accounts: dict[int, tuple[float, dict, accounts.Limits]] = field(default_factory=dict)
    _group: GroupCommit | None = None

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
            return None
        limits = accounts.limits(row, self.settings)
        self._accounts[account_id] = (now + _ACCOUNT_TTL, row, limits)
        return row, limits
