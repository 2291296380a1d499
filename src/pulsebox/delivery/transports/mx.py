"""``mx://``: direct delivery to each recipient domain's mail exchangers, DKIM-signed.

RFC 5321 section 5.1: MX hosts in preference order; no MX record means the domain's own A/AAAA
("implicit MX"); RFC 7505: a null MX ("0 .") means the domain accepts no mail (permanent).
STARTTLS is opportunistic (RFC 3207 offered -> used, certificate not verified, as MTAs do without
MTA-STS/DANE). Connections are kept per destination host and reused for the next message.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import threading
from collections.abc import Callable
from pathlib import Path

from pulsebox.delivery.dkim import DkimSigner
from pulsebox.delivery.transports.base import DeliveryError, Receipt
from pulsebox.delivery.transports.smtp import Dropped, _classify, deliver

Resolver = Callable[[str], list[tuple[str, int]]]


def resolve_mx(domain: str) -> list[tuple[str, int]]:
    """(host, 25) pairs to try for ``domain``, best first; raises DeliveryError."""
    import dns.exception
    import dns.resolver

    try:
        answer = dns.resolver.resolve(domain, "MX")
        records = sorted(answer, key=lambda r: r.preference)
        hosts = [str(r.exchange).rstrip(".") for r in records]
        if hosts == [""]:
            raise DeliveryError(f"{domain} accepts no mail (null MX, RFC 7505)", permanent=True, code=556,
                                recipient=True)
        return [(host, 25) for host in hosts]
    except dns.resolver.NXDOMAIN:
        raise DeliveryError(f"{domain} does not exist", permanent=True, code=550, recipient=True) from None
    except dns.resolver.NoAnswer:
        return [(domain, 25)]  # implicit MX
    except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
        raise DeliveryError(f"DNS lookup of {domain} failed: {exc}") from None


class MxTransport:
    def __init__(self, *, helo: str | None = None, signer: DkimSigner | None = None,
                 resolve: Resolver = resolve_mx, timeout: float = 30.0) -> None:
        self.helo = helo or socket.getfqdn()
        self.signer = signer
        self.resolve = resolve  # tests pass an override that points at a local listener
        self.timeout = timeout
        self._idle: dict[tuple[str, int], list[smtplib.SMTP]] = {}
        self._lock = threading.Lock()
        self.connections_opened = 0

    def _connect(self, host: str, port: int) -> smtplib.SMTP:
        try:
            conn = smtplib.SMTP(host, port, local_hostname=self.helo, timeout=self.timeout)
            conn.ehlo()
            if conn.has_extn("starttls"):
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                conn.starttls(context=context)
                conn.ehlo()
        except smtplib.SMTPResponseException as exc:
            raise _classify(exc.smtp_code, exc.smtp_error, f"{host} refused the connection") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"cannot connect to {host}:{port}: {exc}") from None
        self.connections_opened += 1
        return conn

    def _take(self, key: tuple[str, int]) -> smtplib.SMTP | None:
        with self._lock:
            idle = self._idle.get(key)
            return idle.pop() if idle else None

    def _give(self, key: tuple[str, int], conn: smtplib.SMTP) -> None:
        with self._lock:
            self._idle.setdefault(key, []).append(conn)

    def send(self, mail_from: str, recipients: list[str], message: bytes) -> Receipt:
        if self.signer is not None:
            message = self.signer.sign(message)
        by_domain: dict[str, list[str]] = {}
        for rcpt in recipients:
            by_domain.setdefault(rcpt.rpartition("@")[2].lower(), []).append(rcpt)
        outcomes = [self._send_domain(domain, mail_from, rcpts, message) for domain, rcpts in by_domain.items()]
        failures = [o for o in outcomes if isinstance(o, DeliveryError)]
        if failures:
            worst = min(failures, key=lambda e: e.permanent)  # any transient failure -> retry
            raise worst
        return outcomes[-1]

    def _send_domain(self, domain: str, mail_from: str, rcpts: list[str], message: bytes) -> Receipt | DeliveryError:
        try:
            hosts = self.resolve(domain.encode("idna").decode("ascii"))
        except UnicodeError:
            return DeliveryError(f"{domain!r} is not a valid domain name", permanent=True, code=553, recipient=True)
        except DeliveryError as error:
            return error
        last: DeliveryError | None = None
        for key in hosts:
            for reused in (True, False):
                conn = self._take(key) if reused else None
                if reused and conn is None:
                    continue
                try:
                    conn = conn or self._connect(*key)
                    receipt = deliver(conn, mail_from, rcpts, message, f"{key[0]}:{key[1]}")
                except Dropped:
                    _close(conn)
                    last = DeliveryError(f"{key[0]} closed the connection")
                    continue  # a stale pooled connection: try a fresh one
                except DeliveryError as error:
                    if conn is not None and error.reusable:
                        self._give(key, conn)
                    else:
                        _close(conn)
                    if error.permanent:
                        return error  # a 5xx from a receiving MX is the domain's answer
                    last = error
                    break  # transient on this host: try the next MX
                self._give(key, conn)
                return receipt
        return last or DeliveryError(f"no mail exchanger of {domain} could be reached")

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                try:
                    conn.quit()
                except (OSError, smtplib.SMTPException):
                    pass


def _close(conn: smtplib.SMTP | None) -> None:
    if conn is not None:
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - a broken socket may fail to close any way it likes
            pass


def from_options(options: dict[str, str]) -> MxTransport:
    signer = None
    if options.get("dkim_keys"):
        signer = DkimSigner.from_directory(Path(options["dkim_keys"]), options.get("dkim_selector", "pulsebox"))
    return MxTransport(helo=options.get("helo"), signer=signer, timeout=float(options.get("timeout", 30)))
