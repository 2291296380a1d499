"""HTTP for the token endpoint (wire README items 1-2)."""

from __future__ import annotations

from pulsebox import ratelimit
from pulsebox.api import Call
from pulsebox.oauth import schemas, service

# Real clients ask for a token once an hour; each check costs ~40 ms of scrypt, so requests for one
# client_id are capped (an unknown client_id costs no scrypt and needs no cap).
TOKEN_RULES = ratelimit.parse("20/second;60/minute")


def authenticate_client(call: Call) -> int:
    """The route's ``parse``: the credentials' account, checked before the write transaction."""
    client_id, client_secret = schemas.token_request(call.params)
    call.ctx.limiter.hit(f"oauth:{client_id}", TOKEN_RULES)
    return service.authenticate(call.conn, client_id, client_secret)


def access_token(call: Call) -> dict:
    ttl = call.ctx.settings.token_ttl
    return schemas.token_answer(service.issue_token(call.conn, call.parsed, ttl), ttl)
