"""``smtp://[user:pass@]host:port[?tls=starttls|ssl|none&pool=8&timeout=30]``: relay through an
SMTP server over a pool of persistent connections (many messages per connection).

stdlib ``smtplib`` over a few threads is the fastest client measured here (DESIGN.md: ~9,300
msg/s into smtp-sink with 8 threads); callers run ``send`` (or ``send_many``: a run of messages
pipelined from one to the next, RFC 2920, one round trip a message) from their own threads.
Replies are classified by RFC 5321 section 4.2.1: 4yz is transient (retry later), 5yz is
permanent (a bounce).
"""

from __future__ import annotations

import queue
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from urllib.parse import parse_qs, unquote, urlsplit

from pulsebox.delivery.transports.base import DeliveryError, Receipt

IDLE_CHECK_SECONDS = 30  # a connection idle longer than this is checked with NOOP before use


def _classify(code: int, text: bytes | str, what: str, *, recipient: bool = False) -> DeliveryError:
    message = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    permanent = 500 <= code < 600
    return DeliveryError(f"{what}: {code} {message}".strip(), permanent=permanent, code=code,
                         recipient=recipient and permanent)


class SmtpRelayTransport:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.host = parts.hostname or "127.0.0.1"
        self.tls = options.get("tls", "none" if self.host in ("127.0.0.1", "localhost", "::1") else "starttls")
        if self.tls not in ("starttls", "ssl", "none"):
            raise ValueError(f"tls must be starttls, ssl or none, not {self.tls!r}")
        self.port = parts.port or (465 if self.tls == "ssl" else 587 if self.tls == "starttls" else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = float(options.get("timeout", 30))
        self.size = max(1, int(options.get("pool", 8)))
        self.verify = options.get("verify", "1") not in ("0", "false", "no")
        self._idle: queue.LifoQueue[tuple[smtplib.SMTP, float]] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(self.size)
        self.connections_opened = 0  # for tests and metrics

    # ---- connections ----

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _connect(self) -> smtplib.SMTP:
        try:
            if self.tls == "ssl":
                conn: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                                      context=self._tls_context())
            else:
                conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            conn.ehlo()
            if self.tls == "starttls":
                conn.starttls(context=self._tls_context())
                conn.ehlo()
            if self.username:
                conn.login(self.username, self.password or "")
        except smtplib.SMTPResponseException as exc:
            # the relay refusing us (greeting, TLS, AUTH) is our configuration's fault, never the
            # recipient's: retried on the schedule until the operator fixes PULSEBOX_MAIL_URL
            error = _classify(exc.smtp_code, exc.smtp_error, f"relay {self.host}:{self.port} refused us")
            error.permanent = False
            raise error from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"cannot connect to {self.host}:{self.port}: {exc}") from None
        self.connections_opened += 1
        return conn

    def _acquire(self) -> smtplib.SMTP:
        self._slots.acquire()
        try:
            while True:
                try:
                    conn, last_used = self._idle.get_nowait()
                except queue.Empty:
                    return self._connect()
                if time.monotonic() - last_used < IDLE_CHECK_SECONDS:
                    return conn
                try:
                    if conn.noop()[0] == 250:
                        return conn
                except (OSError, smtplib.SMTPException):
                    pass
                self._discard(conn)
        except BaseException:
            self._slots.release()
            raise

    def _release(self, conn: smtplib.SMTP | None) -> None:
        if conn is not None:
            self._idle.put((conn, time.monotonic()))
        self._slots.release()

    @staticmethod
    def _discard(conn: smtplib.SMTP) -> None:
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - closing a broken socket may fail any way it likes
            pass

    def close(self) -> None:
        while True:
            try:
                conn, _ = self._idle.get_nowait()
            except queue.Empty:
                return
            try:
                conn.quit()
            except (OSError, smtplib.SMTPException):
                self._discard(conn)

    # ---- sending ----

    def send(self, mail_from: str, recipients: list[str], message: bytes) -> Receipt:
        for attempt in (1, 2):  # a pooled connection the server dropped gets one fresh retry
            conn = self._acquire()
            try:
                receipt = deliver(conn, mail_from, recipients, message, f"{self.host}:{self.port}")
            except Dropped:
                self._discard(conn)
                self._release(None)
                if attempt == 2:
                    raise DeliveryError(f"{self.host}:{self.port} closed the connection") from None
                continue
            except DeliveryError as error:
                self._release(conn if error.reusable else None)
                if not error.reusable:
                    self._discard(conn)
                raise _ours_to_fix(error) from None
            self._release(conn)
            return receipt
        raise AssertionError("unreachable")

    def send_many(self, items: Sequence[Item]) -> list[Receipt | DeliveryError]:
        """Several messages, in order, over one pooled connection: with PIPELINING, one write and
        one round trip a message (see :func:`_pipeline`), else one :meth:`send` each. A message
        the connection was lost before is sent on a fresh one; one it was lost during is a
        transient error (it may have arrived: sent again later, at worst twice)."""
        results: list[Receipt | DeliveryError | None] = [None] * len(items)
        todo, where = list(range(len(items))), f"{self.host}:{self.port}"
        for _ in range(2):  # a connection lost before some messages began: once more, on a fresh one
            if not todo:
                break
            conn = self._acquire()
            if not conn.has_extn("pipelining"):
                self._release(conn)
                for i in todo:
                    try:
                        results[i] = self.send(*items[i])
                    except DeliveryError as error:
                        results[i] = error
                return results  # type: ignore[return-value]
            todo, healthy = _pipeline(conn, items, todo, results, where)
            if healthy:
                self._release(conn)
            else:
                self._discard(conn)
                self._release(None)
        for i in todo:  # lost twice before they started
            results[i] = DeliveryError(f"{where} closed the connection")
        return [_ours_to_fix(r) if isinstance(r, DeliveryError) else r for r in results]  # type: ignore[misc]


class Dropped(Exception):
    """The server closed a connection before the transaction started: safe to retry elsewhere."""


Item = tuple[str, list[str], bytes]  # (envelope sender, recipients, message)


def _ours_to_fix(error: DeliveryError) -> DeliveryError:
    """The relay refusing our MAIL FROM, or a recipient for policy (5.7.x at RCPT: relay access
    denied, our IP blocklisted) is ours to fix, not the recipient's: retried, never a bounce.
    Content refused at DATA (5.7.1 spam) stays a bounce of the copy."""
    if error.permanent and (error.sender or (error.recipient and error.status.startswith("5.7."))):
        error.permanent = False
    return error


def _envelope(mail_from: str, recipients: list[str], message: bytes, size: bool) -> bytes:
    extra = f" SIZE={len(message)}" if size else ""
    commands = [f"MAIL FROM:<{mail_from}>{extra}", *(f"RCPT TO:<{r}>" for r in recipients), "DATA"]
    for command in commands:
        if "\r" in command or "\n" in command:
            raise DeliveryError(f"an address holds a line break: {command[:80]!r}", permanent=True)
    return ("\r\n".join(commands) + "\r\n").encode("ascii")


def _pipeline(conn: smtplib.SMTP, items: Sequence[Item], todo: list[int],
              results: list[Receipt | DeliveryError | None], where: str) -> tuple[list[int], bool]:
    """RFC 2920 section 3.1 lets a message's content start a group of commands: each write is the
    previous message's content and its end, then this message's MAIL, RCPTs and DATA; the replies
    come back in that order. Fills ``results``; (the items not started, whether the connection
    can be used again)."""
    size = conn.has_extn("size")
    content: tuple[int | None, bytes, dict] | None = None  # (item or None for an empty end, bytes, refused)
    reset = False  # a refused transaction is still open on the server: RSET before the next
    started: list[int] = []  # items written whose replies are not all read
    replies = conn.getreply  # counted: a connection the server had closed answers nothing at all
    read = [0]

    def getreply() -> tuple[int, bytes]:
        answer = replies()
        read[0] += 1
        return answer

    try:
        for position, i in enumerate(todo):
            mail_from, recipients, message = items[i]
            try:
                envelope = _envelope(mail_from, recipients, message, size)
            except DeliveryError as error:
                results[i] = error
                continue
            chunk = (content[1] if content else b"") + (b"RSET\r\n" if reset else b"") + envelope
            try:
                conn.sock.sendall(chunk)
            except OSError:
                if not started and content is None:  # nothing of this batch began: all may go elsewhere
                    return todo[position:], False
                raise
            started.append(i)
            if content is not None:
                _finish(getreply, content, results, recipients_of=items)
                started = [j for j in started if j != content[0]]
                content = None
            if reset and getreply()[0] != 250:
                raise smtplib.SMTPServerDisconnected("RSET refused")
            reset = False
            code, reply = getreply()
            sender_error = None
            if code != 250:
                sender_error = _classify(code, reply, "sender refused")
                sender_error.sender = True
            refused = {}
            for rcpt in recipients:
                rcpt_code, rcpt_reply = getreply()
                if rcpt_code not in (250, 251):
                    refused[rcpt] = (rcpt_code, rcpt_reply)
            data_code, data_reply = getreply()
            if sender_error or len(refused) == len(recipients):
                results[i] = sender_error or _classify(*min(refused.values(), key=lambda cr: cr[0]),
                                                       "recipient refused", recipient=True)
                if data_code == 354:  # section 3.1: an empty message ends the transaction
                    content = (None, b".\r\n", {})
                else:
                    reset = True
            elif data_code != 354:
                results[i] = _classify(data_code, data_reply, "DATA refused")
                reset = True
            else:
                content = (i, _dot_stuffed(message), refused)
                continue
            started.remove(i)
        if content is not None:
            conn.sock.sendall(content[1])
            _finish(getreply, content, results, recipients_of=items)
        if reset:
            return [], conn.rset()[0] == 250
    except (OSError, smtplib.SMTPException) as exc:
        if isinstance(exc, smtplib.SMTPServerDisconnected) and not read[0]:  # closed while idle in the pool
            return [j for j in todo if results[j] is None], False
        for j in started:
            if results[j] is None:
                results[j] = DeliveryError(f"sending through {where} failed: {exc}")
        later = [j for j in todo if results[j] is None and j not in started]
        return later, False
    return [], True


def _finish(getreply: Callable[[], tuple[int, bytes]], content: tuple[int | None, bytes, dict], results: list,
            recipients_of: Sequence[Item]) -> None:
    """Read the reply to a message's content (an empty end's is read and dropped)."""
    i, _, refused = content
    code, reply = getreply()
    if i is None:
        return
    if code != 250:
        results[i] = _classify(code, reply, "message refused")
        return
    try:
        results[i] = _receipt(code, reply, refused, recipients_of[i][1])
    except DeliveryError as error:
        results[i] = error


def deliver(conn: smtplib.SMTP, mail_from: str, recipients: list[str], message: bytes, where: str) -> Receipt:
    """One SMTP transaction (RFC 5321 section 3.3: MAIL, RCPT..., DATA) on an open connection.
    Returns the reply to DATA (the receiver's queue id is what ``smtp_answer_data`` shows); raises
    Dropped, or DeliveryError (with ``reusable`` set) classified by reply code. Written out instead
    of ``sendmail()`` because that throws the DATA reply away; pipelined (RFC 2920) when the
    server offers it, which nearly every MTA does."""
    if conn.has_extn("pipelining"):
        return _deliver_pipelined(conn, mail_from, recipients, message, where)
    try:
        _envelope(mail_from, recipients, message, False)  # smtplib would send a line break as it is
    except DeliveryError as refused:
        refused.reusable = True  # nothing was written
        raise
    try:
        options = [f"SIZE={len(message)}"] if conn.has_extn("size") else []
        code, reply = conn.mail(mail_from, options)
        if code != 250:
            error = _classify(code, reply, "sender refused")
            error.sender = True
            raise _reset(conn, error)
        refused = {}
        for rcpt in recipients:
            code, reply = conn.rcpt(rcpt)
            if code not in (250, 251):
                refused[rcpt] = (code, reply)
        if len(refused) == len(recipients):
            code, reply = min(refused.values(), key=lambda cr: cr[0])  # the mildest decides
            raise _reset(conn, _classify(code, reply, "recipient refused", recipient=True))
        code, reply = conn.data(message)
        if code != 250:
            raise _reset(conn, _classify(code, reply, "message refused"))
    except smtplib.SMTPServerDisconnected:
        raise Dropped() from None
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"sending through {where} failed: {exc}") from None
    return _receipt(code, reply, refused, recipients)


def _receipt(code: int, reply: bytes | str, refused: dict, recipients: list[str]) -> Receipt:
    """The DATA reply; or, when some recipients were accepted and some not, the refused ones'
    mildest answer (the message went to the others; the connection carries on)."""
    if refused:
        code, text = min(refused.values(), key=lambda cr: cr[0])
        error = _classify(code, text, f"{len(refused)} of {len(recipients)} recipients refused", recipient=True)
        error.reusable = True
        raise error
    return Receipt(code, reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply))


def _dot_stuffed(message: bytes) -> bytes:
    """The DATA payload (RFC 5321 section 4.5.2): a line starting with "." gets another, the
    message ends with CRLF, then the "." line. The message's lines end in CRLF already (MIME is
    built that way): two byte replaces, not smtplib's two regex passes over the whole message."""
    stuffed = message.replace(b"\r\n.", b"\r\n..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    return stuffed + (b".\r\n" if stuffed.endswith(b"\r\n") else b"\r\n.\r\n")


def _deliver_pipelined(conn: smtplib.SMTP, mail_from: str, recipients: list[str], message: bytes,
                       where: str) -> Receipt:
    """RFC 2920: MAIL, every RCPT and DATA in one write, their replies read in order; then the
    message and its reply (:func:`_pipeline` with one message)."""
    results: list[Receipt | DeliveryError | None] = [None]
    not_started, healthy = _pipeline(conn, [(mail_from, recipients, message)], [0], results, where)
    if not_started:
        raise Dropped()
    result = results[0]
    if isinstance(result, DeliveryError):
        result.reusable = healthy
        raise result
    assert result is not None
    return result


def _reset(conn: smtplib.SMTP, error: DeliveryError) -> DeliveryError:
    """After a refused transaction: RSET so the connection can carry the next message."""
    try:
        error.reusable = conn.rset()[0] == 250
    except (OSError, smtplib.SMTPException):
        error.reusable = False
    return error
