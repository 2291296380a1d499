"""The request wrapper every API route goes through, in this order:

read the body (bounded) -> bearer token -> rate limit -> decode (``wire``) -> open the
transaction -> call the endpoint -> commit -> JSON answer. Any ``ApiError`` becomes SendPulse's
error object with its 4xx status and rolls the transaction back; nothing is half-written.
Reads (GET) run on the event loop: they are short, and a thread hop per request costs more than
the query (bench/README.md); with Redis rate limits, or a body above ``INLINE_BODY`` to decode,
they run in a small thread pool instead, so the loop never waits for Redis or a decode. Writes run in a small thread pool sized to the database pool, so a
long import never stalls the loop and never queues more threads than there are connections.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from collections.abc import Callable

import orjson
from anyio import CapacityLimiter, to_thread
from sqlalchemy import Connection
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from pulsebox import wire
from pulsebox.accounts.service import Limits
from pulsebox.context import Context
from pulsebox.errors import NOT_FOUND, PAYLOAD_TOO_LARGE, UNAUTHORIZED, ApiError
from pulsebox.clientinfo import client_ip, networks

log = logging.getLogger("pulsebox.api")
WRITERS = CapacityLimiter(4)  # threads for write requests; below the database pool size
READERS = CapacityLimiter(4)  # threads for reads that must not run on the loop (Redis rate limits)
INLINE_BODY = 64 * 1024  # a larger body is decoded in a thread (grouped writes and reads alike)


@dataclass
class Call:
    """One API call as an endpoint sees it."""

    params: dict
    path: dict
    conn: Connection | None  # None until the transaction is open
    ctx: Context
    account: dict | None = None
    limits: Limits | None = None
    decoded: Any = None  # the typed request the route's ``decode`` made of the params
    authenticated: Any = None  # what the route's ``authenticate`` found (the client credentials' account)
    peer: tuple[str, str | None] = ("", None)  # (connection peer, X-Forwarded-For): see client_ip

    @property
    def client_ip(self) -> str:
        """The client's address: the peer, or X-Forwarded-For from a PULSEBOX_TRUSTED_PROXIES peer."""
        return client_ip(self.peer[0], self.peer[1], networks(self.ctx.settings.trusted_proxies))

    def on(self, conn: Connection) -> Call:
        return replace(self, conn=conn)

    @property
    def account_id(self) -> int:
        assert self.account is not None
        return self.account["id"]


Handler = Callable[[Call], Any]


def json_response(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def error_response(error: ApiError) -> Response:
    return json_response(error.body(), error.status)


async def read_body(receive: Receive, declared: str | None, limit: int) -> bytes:
    if declared and declared.isascii() and declared.isdigit() and int(declared) > limit:  # isdigit takes '²'
        raise ApiError(PAYLOAD_TOO_LARGE, f"Request body larger than {limit} bytes")
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            # Never act on half a body. The server also says "disconnect" for a body it could not
            # read (granian: a malformed or truncated chunked body, fewer bytes than Content-Length)
            # while the client still waits: answer it; to a client really gone the answer is dropped.
            raise ApiError(8, "The request body is malformed or incomplete")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise ApiError(PAYLOAD_TOO_LARGE, f"Request body larger than {limit} bytes")
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def bearer(header: str) -> str | None:
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class endpoint:  # noqa: N801 - used like a decorator in the route table
    """Wrap ``handler(call)`` into a plain ASGI endpoint (no per-request Request object: this is
    the hot path of every call). The handler returns JSON-able data, or a ``Response`` for the
    rare answer that is not JSON (a captured message's ``.eml``). ``public`` skips the bearer
    check; ``write`` defaults to True for every verb but GET (it picks SQLite's write lock up front
    and a pool thread); ``decode(params)`` makes the typed request (``call.decoded``) with no
    transaction; ``authenticate(call)`` (``call.authenticated``) runs in a read transaction of its
    own before the write transaction opens, for a check that must not hold the write lock (client
    credentials: scrypt takes ~40 ms); ``grouped`` hands the write to the group commit
    (``db/group.py``) for endpoints that take thousands of small writes a second: a small body is
    decoded on the loop and its ``decode`` runs in the group (cheapest, bench/README.md); one above
    ``INLINE_BODY`` is decoded in a pool thread first, so neither the loop nor the shared
    transaction waits for it."""

    def __init__(self, handler: Handler, *, public: bool = False, write: bool | None = None,
                 grouped: bool = False, decode: Callable[[dict], Any] | None = None,
                 authenticate: Callable[[Call], Any] | None = None) -> None:
        self.handler = handler
        self.public = public
        self.write = write
        self.grouped = grouped
        self.decode = decode
        self.authenticate = authenticate
        self.__name__ = getattr(handler, "__name__", "endpoint")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx: Context = scope["app"].state.ctx
        headers = {}
        for key, value in scope["headers"]:
            if key in _WANTED:
                text = value.decode("latin-1")
                # proxies may each add an X-Forwarded-For line of their own: every line is read
                headers[key] = f"{headers[key]},{text}" if key == b"x-forwarded-for" and key in headers else text
        try:
            body = await read_body(receive, headers.get(b"content-length"), ctx.settings.max_body_bytes)
            is_write = self.write if self.write is not None else scope["method"] != "GET"
            args = (ctx, self.public, bearer(headers.get(b"authorization", "")), headers.get(b"content-type", ""),
                    body, scope.get("query_string", b""), scope.get("path_params", {}),
                    ((scope.get("client") or ("",))[0], headers.get(b"x-forwarded-for")))
            if self.grouped:
                if len(body) <= INLINE_BODY and not ctx.limiter.blocking:  # small: decoded in the group
                    call = _prepare(*args)
                else:  # large (or Redis to ask): decoded in a pool thread, off the loop
                    call = await to_thread.run_sync(_before, self.decode, self.authenticate, *args, limiter=WRITERS)
                result = await ctx.group.submit(lambda conn: self._grouped(call.on(conn)))
            elif is_write:
                result = await to_thread.run_sync(_run, self, is_write, *args, limiter=WRITERS)
            elif ctx.limiter.blocking or len(body) > INLINE_BODY:  # Redis to ask, or a body to decode:
                # never on the loop (a 12 MB form on a GET took the loop 2.5 s)
                result = await to_thread.run_sync(_run, self, is_write, *args, limiter=READERS)
            else:
                result = _run(self, is_write, *args)
            response = result if isinstance(result, Response) else json_response(result)
        except ApiError as error:
            response = error_response(error)
        await response(scope, receive, send)

    def _grouped(self, call: Call) -> Any:
        if self.decode is not None and call.decoded is None:
            call.decoded = self.decode(call.params)
        return self.handler(call)


_WANTED = frozenset({b"authorization", b"content-type", b"content-length", b"x-forwarded-for"})


def _prepare(ctx: Context, public: bool, token: str | None, content_type: str, body: bytes, query: bytes,
             path: dict, peer: tuple[str, str | None] = ("", None)) -> Call:
    """Authenticate, count against the rate limit, decode: a Call without its connection yet."""
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
    return Call(params=params, path=path, conn=None, ctx=ctx, account=account, limits=limits, peer=peer)


def _before(decode: Callable[[dict], Any] | None, authenticate: Callable[[Call], Any] | None, *args: Any) -> Call:
    """``_prepare``, then ``decode``, then ``authenticate`` in a read transaction of its own (before
    any write lock)."""
    call = _prepare(*args)
    if decode is not None:
        call.decoded = decode(call.params)
    if authenticate is not None:
        with call.ctx.db.transaction(write=False) as conn:
            call.authenticated = authenticate(call.on(conn))
    return call


def _run(route: endpoint, is_write: bool, *args: Any) -> Any:
    call = _before(route.decode, route.authenticate, *args)
    with call.ctx.db.transaction(write=is_write) as conn:
        return route.handler(call.on(conn))
