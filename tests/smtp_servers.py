"""Real SMTP servers on loopback for delivery tests (aiosmtpd, in-process)."""

from __future__ import annotations

import threading

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from ports import free_port


class Recorder:
    """An SMTP server's handler: keeps envelopes, counts sessions, answers what a test scripts."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.sessions = 0
        self.mail_answers: list[str] = []  # popped per MAIL; empty -> accept
        self.rcpt_answers: list[str] = []  # popped per RCPT; empty -> accept
        self.data_answers: list[str] = []
        self.lock = threading.Lock()
        self.pipelining = False  # offer RFC 2920 PIPELINING in the EHLO reply

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802, ANN001
        with self.lock:
            self.sessions += 1
        session.host_name = hostname
        if self.pipelining:  # aiosmtpd answers pipelined commands in order; it just does not say so
            responses.insert(-1, "250-PIPELINING")
        return responses

    # a scripted answer is given as it is; a 2xx one (or none) also takes the command as accepted

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802, ANN001
        answer = self.mail_answers.pop(0) if self.mail_answers else "250 OK"
        if answer.startswith("2"):
            envelope.mail_from = address
            envelope.mail_options.extend(mail_options)
        return answer

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802, ANN001
        answer = self.rcpt_answers.pop(0) if self.rcpt_answers else "250 OK"
        if answer.startswith("2"):
            envelope.rcpt_tos.append(address)
        return answer

    async def handle_DATA(self, server, session, envelope):  # noqa: N802, ANN001
        if self.data_answers:
            return self.data_answers.pop(0)
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted"


def _auth(server, session, envelope, mechanism, auth_data):  # noqa: ANN001, ANN202
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"relay", b"s3cret")
    return AuthResult(success=ok, handled=False)


def _free_port() -> int:
    return free_port()


@pytest.fixture(params=["pipelining", "one command at a time"])
def smtp_server(request):  # noqa: ANN001, ANN201
    """A loopback SMTP server, offering PIPELINING (as nearly every MTA does) or not: the relay
    transport has a path for each."""
    handler = Recorder()
    handler.pipelining = request.param == "pipelining"
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


@pytest.fixture
def auth_server():
    handler = Recorder()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port(), authenticator=_auth, auth_require_tls=False,
                            auth_exclude_mechanism=["LOGIN"])  # smtplib then uses AUTH PLAIN
    controller.start()
    yield handler, controller.port
    controller.stop()
