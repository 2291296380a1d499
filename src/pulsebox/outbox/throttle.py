"""Sending limits (README, "Sending limits"): how many copies may go to transports, counted at
three levels, each a setting: every copy (``SEND_RATE``), each account's (``ACCOUNT_SEND_RATE``,
or the account's own ``send_rate``), and each recipient domain's (``DOMAIN_SEND_RATES``: a big
list must not hammer one provider). A copy over a limit goes back to the queue, due when the
window that refused it ends, its attempt not spent. Counted in the process's limiter: Redis when
``REDIS_URL`` is set (every process shares the counts), else each process counts its own.
"""

from __future__ import annotations

from functools import lru_cache

from pulsebox import ratelimit
from pulsebox.config import domain_rules
from pulsebox.context import Context
from pulsebox.errors import ApiError


@lru_cache(maxsize=8)
def _rules(spec: str) -> tuple[ratelimit.Rule, ...]:
    return () if spec.strip().lower() in ("", "off") else ratelimit.parse(spec)


@lru_cache(maxsize=8)
def _domains(spec: str) -> dict[str, tuple[ratelimit.Rule, ...]]:
    return domain_rules(spec)


class Throttle:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.every = _rules(ctx.settings.send_rate)
        self.domains = _domains(ctx.settings.domain_send_rates)

    def wait(self, account_id: int, email: str) -> int:
        """0 if this copy may be sent now (and it is counted), else the seconds until it may."""
        found = self.ctx.account(account_id)  # its limits, re-read every few seconds
        domain = email.rpartition("@")[2].lower()
        levels = [(("send",), self.every), (("send", account_id), found[1].send_rules if found else ()),
                  (("send-domain", domain), self.domains.get(domain, self.domains.get("*", ())))]
        levels = [(key, rules) for key, rules in levels if rules]
        if not levels:
            return 0
        try:
            for key, rules in levels:  # every level first, so a refused copy counts nowhere
                self.ctx.limiter.check(key, rules)
            for key, rules in levels:
                self.ctx.limiter.hit(key, rules)
        except ApiError as refused:
            return max(1, int(refused.extra.get("retry_after", 1)))
        return 0
