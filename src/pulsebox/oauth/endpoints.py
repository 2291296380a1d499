"""HTTP for the token endpoint (wire README items 1-2)."""

from __future__ import annotations

from pulsebox import ratelimit
from pulsebox.api import Call
from pulsebox.clientinfo import counted_as
from pulsebox.oauth import schemas, service

# Each secret check costs ~40 ms of scrypt (in one of the 4 write threads), so wrong ones are
# capped before scrypt runs. Failures are counted where they come from: per client address and
# client_id, and per client address whatever the client_id, so a guesser is stopped after a few
# checks while the owner, from another address, is never refused because of them. A secret this
# process has lately accepted (service.VerifiedSecrets) skips scrypt and the caps altogether, even
# from a capped address. An unknown client_id costs no scrypt (and counts as a failure).
FAILURE_RULES = ratelimit.parse("10/second;60/minute")  # per (client address, client_id)
ADDRESS_FAILURE_RULES = ratelimit.parse("20/second;120/minute")  # per client address, any client_id


def authenticate_client(call: Call) -> int:
    """The route's ``authenticate``: the credentials' account, checked before the write transaction."""
    client_id, client_secret = schemas.token_request(call.params)
    source = counted_as(call.client_ip)
    # the address's cap first: once it is full, no counter is made for yet another client_id
    caps = ((("oauth-failures", source), ADDRESS_FAILURE_RULES),
            (("oauth-failures", source, client_id), FAILURE_RULES))

    def before_scrypt() -> None:
        for key, rules in caps:
            call.ctx.limiter.check(key, rules)

    try:
        return service.authenticate(call.conn, client_id, client_secret, call.ctx.verified, before_scrypt)
    except schemas.InvalidClient:
        for key, rules in caps:
            call.ctx.limiter.hit(key, rules)
        raise


def access_token(call: Call) -> dict:
    ttl = call.ctx.settings.token_ttl
    return schemas.token_answer(service.issue_token(call.conn, call.authenticated, ttl), ttl)
