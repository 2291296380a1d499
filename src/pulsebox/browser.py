"""What the routes browsers call share (the public links, web push's routes, the admin UI): the
process context, the client's address and per-address rate limits.

Limits count per client address (an IPv6 address by its /64), in the shared Redis limiter when there
is one, else in a bounded in-memory one. A client whose address is unknown (not an IP: a Unix socket)
is not limited: it would be everyone at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from anyio import to_thread
from starlette.requests import Request

from pulsebox import ratelimit
from pulsebox.api import READERS, WRITERS
from pulsebox.clientinfo import client_ip, counted_as, networks
from pulsebox.context import Context
from pulsebox.errors import ApiError

log = logging.getLogger("pulsebox.browser")


async def write(ctx: Context, work: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``work(conn, ...)`` in a write transaction, in the API's write thread pool (sized below the
    database pool)."""
    def run() -> Any:
        with ctx.db.transaction() as conn:
            return work(conn, *args, **kwargs)

    return await to_thread.run_sync(run, limiter=WRITERS)


def context(request: Request) -> Context:
    return request.app.state.ctx


def client(request: Request) -> tuple[str, str]:
    """The client's address (X-Forwarded-For from trusted proxies) and User-Agent."""
    peer = request.client.host if request.client else ""
    forwarded = ",".join(request.headers.getlist("x-forwarded-for"))  # proxies may add a line of their own
    trusted = networks(context(request).settings.trusted_proxies)
    return client_ip(peer, forwarded or None, trusted), request.headers.get("user-agent", "")


@lru_cache(maxsize=8)
def rules(spec: str) -> tuple[ratelimit.Rule, ...]:
    return () if spec.strip().lower() == "off" else ratelimit.parse(spec)


async def over_limit(ctx: Context, bucket: str, ip: str, spec: str | None = None) -> ApiError | None:
    """Count a request of ``ip`` in ``bucket`` against ``spec`` (default: ``PULSEBOX_PUBLIC_RATE_LIMITS``);
    the limit's error if it is over, else None."""
    limits = rules(ctx.settings.public_rate_limits if spec is None else spec)
    if not limits or not ip:
        return None
    limiter, key = ctx.public_limiter, f"t:{bucket}:{counted_as(ip)}"
    try:
        if limiter.blocking:  # Redis: never wait for it on the loop
            await to_thread.run_sync(limiter.hit, key, limits, limiter=READERS)
        else:
            limiter.hit(key, limits)
    except ApiError as error:
        return error
    except Exception:  # noqa: BLE001 - Redis unreachable: serve unlimited rather than fail a recipient
        log.warning("public rate limit not checked", exc_info=True)
    return None
