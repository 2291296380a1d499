"""The inbound SMTP listener (aiosmtpd): where bounces, complaints and mailto unsubscribes arrive.

Point the MX of the return-path domain (``PULSEBOX_BOUNCE_DOMAIN``) here. It accepts mail only for
addresses Pulsebox signed (``bounce+<token>@``, ``unsubscribe+<token>@``) and refuses every other
recipient at RCPT, so it is no relay and no mailbox. Each message is handled per recipient in one
database transaction, in a thread (the database calls block). The answers, by RFC 5321 section
4.2 reply code and RFC 3463 enhanced status:

- ``550 5.1.1`` at RCPT: not an address we made (unknown, or its signature does not match);
- ``452 4.5.3`` at RCPT: more than ``MAX_RECIPIENTS`` in one transaction (RFC 5321 section 4.5.3.1.8);
- ``250`` after DATA: processed, *or* not usable (not a DSN, the delivery is gone): accepted and
  dropped with the reason logged, since any error answer makes the remote MTA retry or bounce;
- ``451 4.3.0`` after DATA: the database failed; nothing was written, the sender retries later;
- ``552`` (aiosmtpd): the message exceeds ``MAX_MESSAGE_BYTES``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable

from aiosmtpd.controller import Controller

from pulsebox import links
from pulsebox.context import Context
from pulsebox.inbound import service

log = logging.getLogger("pulsebox.inbound")

DEFAULT_LISTEN = "127.0.0.1:2525"
MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # a bounce quotes at most the original; ours are far smaller
MAX_RECIPIENTS = 100

NO_SUCH_RECIPIENT = "550 5.1.1 No such recipient"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
TRY_AGAIN_LATER = "451 4.3.0 try again later"
OK = "250 OK"


class InboundHandler:
    """aiosmtpd handler hooks (``handle_RCPT``, ``handle_DATA``)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.key = ctx.settings.signing_key

    async def handle_RCPT(self, server, session, envelope, address: str, rcpt_options) -> str:  # noqa: N802, ANN001
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return TOO_MANY_RECIPIENTS
        if links.parse_local_address(self.key, address) is None:
            log.debug("refused RCPT %s from %s (peer %s)", address[:200], envelope.mail_from, session.peer)
            return NO_SUCH_RECIPIENT
        envelope.rcpt_tos.append(address)
        return OK

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802, ANN001
        content = envelope.original_content if envelope.original_content is not None else envelope.content
        if isinstance(content, str):  # only if someone runs the server with decode_data=True
            content = content.encode("utf-8", errors="surrogateescape")
        try:
            outcomes = await asyncio.to_thread(self.process, list(envelope.rcpt_tos), content)
        except Exception:  # noqa: BLE001 - the database (or a bug): keep the message at the sender
            log.exception("inbound message from %s to %s not processed; answered 451",
                          envelope.mail_from, envelope.rcpt_tos)
            return TRY_AGAIN_LATER
        for rcpt, outcome in outcomes:
            log.info("inbound from %s to %s: %s", envelope.mail_from, rcpt, outcome)
        return OK

    def process(self, rcpts: list[str], content: bytes) -> list[tuple[str, str]]:
        with self.ctx.db.transaction() as conn:
            return [(rcpt, service.process(conn, self.key, rcpt, content)) for rcpt in rcpts]


def parse_listen(value: str) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or ``:port`` (all interfaces) -> (host, port)."""
    host, colon, port = value.strip().rpartition(":")
    if not colon or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected host:port, got {value!r}")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


class _BoundController(Controller):
    """aiosmtpd's Controller on a socket we bound ourselves: a taken port fails at once with
    ``OSError`` (the stock one waits out its ready timeout first), and port 0 works."""

    def __init__(self, sock: socket.socket, handler: InboundHandler, **kwargs) -> None:  # noqa: ANN003
        host, port = sock.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port, **kwargs)
        self.sock = sock

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        return self.loop.create_server(self._factory_invoker, sock=self.sock, ssl=self.ssl_context)


class Listener:
    """The SMTP server on ``listen`` (host:port), in its own thread: ``start()``, ``stop()``."""

    def __init__(self, ctx: Context, listen: str, *, data_size_limit: int = MAX_MESSAGE_BYTES) -> None:
        self.ctx = ctx
        self.host, self.port = parse_listen(listen)
        self.data_size_limit = data_size_limit
        self._controller: _BoundController | None = None

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def start(self) -> None:
        """Bind and serve; ``OSError`` if the address cannot be bound."""
        if self._controller is not None:
            return
        family, kind, proto, _, address = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(128)
            sock.setblocking(False)
            self.port = sock.getsockname()[1]
            controller = _BoundController(sock, InboundHandler(self.ctx), data_size_limit=self.data_size_limit,
                                          server_hostname=self.ctx.settings.return_path_domain)
            controller.start()
        except BaseException:
            sock.close()
            raise
        self._controller = controller
        log.info("inbound SMTP listening on %s", self.address)

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()
            log.info("inbound SMTP on %s stopped", self.address)
