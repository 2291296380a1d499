"""HTTP for the token endpoint (wire README items 1-2)."""

from __future__ import annotations

from pulsebox.api import Call
from pulsebox.oauth import schemas, service


def authenticate_client(call: Call) -> int:
    """The route's ``parse``: the credentials' account, checked before the write transaction."""
    client_id, client_secret = schemas.token_request(call.params)
    return service.authenticate(call.conn, client_id, client_secret)


def access_token(call: Call) -> dict:
    ttl = call.ctx.settings.token_ttl
    return schemas.token_answer(service.issue_token(call.conn, call.parsed, ttl), ttl)
