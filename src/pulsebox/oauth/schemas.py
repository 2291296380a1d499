"""Shapes of the token request and answer (document 003, wire README items 1-3)."""

from __future__ import annotations

from pulsebox.errors import ApiError
from pulsebox.wire import as_text

INVALID_CLIENT = {
    "error": "invalid_client",
    "error_description": "Client authentication failed.",
    "message": "Client authentication failed.",
    "error_code": 1,
    "is_error": True,
}


class InvalidClient(ApiError):
    """401 with ``"error": "invalid_client"``: the Node client loops forever without that field."""

    def __init__(self) -> None:
        super().__init__(1, INVALID_CLIENT["message"], status=401,
                         extra={"error": "invalid_client", "error_description": INVALID_CLIENT["error_description"]})


class UnsupportedGrant(ApiError):
    def __init__(self) -> None:
        super().__init__(8, "grant_type must be client_credentials", status=400,
                         extra={"error": "unsupported_grant_type"})


MAX_CREDENTIAL = 255


def token_request(params: dict) -> tuple[str, str]:
    grant = as_text(params.get("grant_type"))
    if grant != "client_credentials":
        raise UnsupportedGrant()
    client_id, client_secret = as_text(params.get("client_id")), as_text(params.get("client_secret"))
    if not client_id or not client_secret or len(client_id) > MAX_CREDENTIAL or len(client_secret) > MAX_CREDENTIAL:
        raise InvalidClient()  # ours are 32 characters; a 5 MB "client_id" is refused unread
    return client_id, client_secret


def token_answer(token: str, ttl: int) -> dict:
    return {"access_token": token, "token_type": "Bearer", "expires_in": ttl}
