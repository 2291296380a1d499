"""The request wrapper every API route goes through, in this order:

read the body (bounded) -> bearer token -> rate limit -> decode (``wire``) -> open the
transaction -> call the endpoint -> commit -> JSON answer. Any ``ApiError`` becomes SendPulse's
error object with its 4xx status and rolls the transaction back; nothing is half-written.
The synchronous part runs in one worker thread, so a slow query never blocks the event loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from pulsebox import wire
from pulsebox.accounts.service import Limits
from pulsebox.context import Context
from pulsebox.errors import NOT_FOUND, PAYLOAD_TOO_LARGE, UNAUTHORIZED, ApiError

log = logging.getLogger("pulsebox.api")


@dataclass
class Call:
    """One API call as an endpoint sees it."""

    params: dict
    path: dict
    conn: Connection
    ctx: Context
    account: dict | None = None
    limits: Limits | None = None

    @property
    def account_id(self) -> int:
        assert self.account is not None
        return self.account["id"]


Handler = Callable[[Call], Any]


def json_response(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def error_response(error: ApiError) -> Response:
    return json_response(error.body(), error.status)


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(PAYLOAD_TOO_LARGE, f"Request body larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(PAYLOAD_TOO_LARGE, f"Request body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def endpoint(handler: Handler, *, public: bool = False, write: bool | None = None) -> Callable:
    """Wrap ``handler(call)`` into a Starlette endpoint. ``public`` skips the bearer check;
    ``write`` defaults to True for every verb but GET (it picks SQLite's write lock up front)."""

    async def asgi_endpoint(request: Request) -> Response:
        ctx: Context = request.app.state.ctx
        try:
            body = await read_body(request, ctx.settings.max_body_bytes)
            is_write = write if write is not None else request.method != "GET"
            result = await run_in_threadpool(
                _run, ctx, handler, public, is_write, bearer(request),
                request.headers.get("content-type", ""), body, request.scope.get("query_string", b""),
                dict(request.path_params),
            )
            return json_response(result)
        except ApiError as error:
            return error_response(error)

    asgi_endpoint.__name__ = getattr(handler, "__name__", "endpoint")
    return asgi_endpoint


def _run(ctx: Context, handler: Handler, public: bool, is_write: bool, token: str | None,
         content_type: str, body: bytes, query: bytes, path: dict) -> Any:
    account = limits = None
    if not public:
        account_id = ctx.tokens.account_for(lambda: ctx.db.transaction(write=False), token) if token else None
        found = ctx.account(account_id) if account_id is not None else None
        if found is None:
            raise ApiError(UNAUTHORIZED, extra={"error": "invalid_token"})
        account, limits = found
        ctx.limiter.hit(account["id"], limits.rate_rules)
    if any("\x00" in str(v) for v in path.values()):
        raise ApiError(NOT_FOUND, "Not found")  # a path with a NUL names nothing that can exist
    params = wire.decode(content_type, body, query)
    with ctx.db.transaction(write=is_write) as conn:
        return handler(Call(params=params, path=path, conn=conn, ctx=ctx, account=account, limits=limits))
