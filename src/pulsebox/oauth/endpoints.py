"""HTTP for the token endpoint (wire README items 1-2)."""

from __future__ import annotations

from pulsebox import ratelimit
from pulsebox.api import Call
from pulsebox.oauth import schemas, service

# Each check costs ~40 ms of scrypt: wrong secrets for one client_id are capped, so guessing cannot
# eat the CPU (an unknown client_id costs no scrypt). Only failures count: a client that knows its
# secret is never slowed down by its own token requests.
FAILURE_RULES = ratelimit.parse("10/second;60/minute")


def authenticate_client(call: Call) -> int:
    """The route's ``parse``: the credentials' account, checked before the write transaction."""
    client_id, client_secret = schemas.token_request(call.params)
    key = f"oauth-failures:{client_id}"
    call.ctx.limiter.check(key, FAILURE_RULES)
    try:
        return service.authenticate(call.conn, client_id, client_secret)
    except schemas.InvalidClient:
        call.ctx.limiter.hit(key, FAILURE_RULES)
        raise


def access_token(call: Call) -> dict:
    ttl = call.ctx.settings.token_ttl
    return schemas.token_answer(service.issue_token(call.conn, call.parsed, ttl), ttl)
