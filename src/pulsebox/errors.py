"""The SendPulse error-code catalogue and the one exception that carries a code to the client.

Every error answer is ``{"is_error": true, "message": ..., "error_code": N}`` with a 4xx status
(docs/sendpulse-rules.md). The catalogue is the union of the tables in documents 000-003; each
code keeps its meaning. Codes below 1000 that are also HTTP statuses (401, 404, ...) are used only
for protocol-level failures that the catalogue has no entry for.
"""

from __future__ import annotations

# code -> (message, HTTP status)
CATALOGUE: dict[int, tuple[str, int]] = {
    1: ("Client authentication failed.", 401),
    8: ("No data", 400),
    10: ("Sender email address missing", 400),
    11: ("Can't find recipients addresses", 400),
    13: ("Empty email message content field", 400),
    14: ("Can't find email address with a specified ID", 404),
    17: ("Can't find email address", 404),
    19: ("Email address already exists", 400),
    20: ("Don't use free mail services", 400),
    21: ("No such email address awaiting activation", 400),
    97: ("Invalid email address type. Don't use free mail services", 400),
    201: ("Empty mailing list name", 400),
    203: ("This mailing list name already exists", 400),
    211: ("Mailing list is empty", 400),
    213: ("Mailing list not found", 404),
    303: ("Can't find email addresses in the mailing list", 400),
    400: ("Specified SMTP user doesn't exist. Create an SMTP account", 400),
    502: ("Can't find email address", 404),
    602: ("Can't find campaign. Probably, it has already been sent", 404),
    701: ("Sender email (address) or name not specified", 400),
    703: ("Can't find mailing list", 404),
    704: ("Can't find sender", 404),
    707: ("Account balance exceeded", 400),
    711: ("Wait 15 minutes before sending to the same list again", 400),
    720: ("Empty subject field", 400),
    721: ("Email message empty", 400),
    722: ("Mailing list ID not specified", 400),
    791: ("API campaign limit per hour exceeded", 429),
    799: ("Incorrect date format. Use YYYY-MM-DD hh:ii:ss that equals or is more than current date", 400),
    800: ("Invalid operation", 400),
    802: ("Campaign not found", 404),
    901: ("Sender name not specified", 400),
    902: ("Selected email address already in use", 400),
    903: ("Sender email address not specified", 400),
    904: ("Email address blacklisted", 400),
    905: ("Sender address quota reached", 400),
    906: ("Email address syntax error", 400),
    1003: ("Specified sender doesn't exist", 404),
    1004: ("Activation code has been sent. Wait 15 minutes to retry", 400),
    1005: ("Error sending confirmation", 400),
    1101: ("Email address not specified", 400),
    1104: ("Activation code not specified", 400),
    2020202020: ("Too many requests: more than the allowed requests per second", 429),
}

# Protocol-level failures outside the catalogue: the HTTP status doubles as the code.
UNAUTHORIZED = 401
NOT_FOUND = 404
METHOD_NOT_ALLOWED = 405
PAYLOAD_TOO_LARGE = 413
TOO_MANY_REQUESTS = 429
_PROTOCOL = {
    UNAUTHORIZED: "Unauthorized: unknown or expired access token",
    NOT_FOUND: "Not found: no such method",
    METHOD_NOT_ALLOWED: "Method not allowed",
    PAYLOAD_TOO_LARGE: "Request body too large",
    TOO_MANY_REQUESTS: "Too many requests: quota exceeded",
}

RATE_LIMIT_BURST = 2020202020


class ApiError(Exception):
    """A SendPulse error: ``code`` from the catalogue, an optional more precise message."""

    def __init__(self, code: int, message: str | None = None, *, status: int | None = None,
                 extra: dict | None = None) -> None:
        default_message, default_status = CATALOGUE.get(code) or (_PROTOCOL.get(code, "Error"), code)
        self.code = code
        self.message = message or default_message
        self.status = status or default_status
        self.extra = extra or {}
        super().__init__(f"{code}: {self.message}")

    def body(self) -> dict:
        return {"is_error": True, "message": self.message, "error_code": self.code, **self.extra}
