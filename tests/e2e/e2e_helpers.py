"""Helpers shared by the live end-to-end tests (imported by conftest.py and the test modules)."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import httpx
import pytest
from ports import free_port  # the e2e modules take it from here
from pysendpulse.pysendpulse import PySendPulse

from smtp_servers import Recorder

CLI_TIMEOUT = 60.0  # seconds for one `pulsebox accounts ...` command
MAIL_TIMEOUT = 10.0  # seconds for the background worker to write a captured message


# --------------------------------------------------------------------------------------------- #
#                                          helpers                                              #
# --------------------------------------------------------------------------------------------- #


def unique(prefix: str = "e2e") -> str:
    """A short unique tag, so runs against a shared PostgreSQL never collide."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def message_text(msg: EmailMessage) -> str:
    """All text/* parts of a captured message, transfer-decoded, joined."""
    parts = []
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            try:
                parts.append(part.get_content())
            except (LookupError, ValueError):  # unknown charset: keep the raw payload
                parts.append(part.get_payload(decode=True).decode("utf-8", "replace"))
    return "\n".join(parts)


def activation_code(msg: EmailMessage) -> str:
    m = re.search(r"Activation code:\s*([^\s<]+)", message_text(msg))
    assert m, f"no 'Activation code:' line in message {msg['Subject']!r}:\n{message_text(msg)[:2000]}"
    return m.group(1)


def addressed_to(address: str) -> Callable[[EmailMessage], bool]:
    address = address.lower()

    def predicate(msg: EmailMessage) -> bool:
        return any(address in str(v).lower() for v in (msg.get_all("To") or []))

    return predicate


@dataclass
class Account:
    id: int
    client_id: str
    client_secret: str


@dataclass
class Api:
    """A thin httpx client for the calls the SendPulse client libraries cannot make (see the tests)."""

    base_url: str
    account: Account
    _token: str | None = None
    _http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30.0))

    def token(self) -> str:
        if self._token is None:
            r = self._http.post(
                f"{self.base_url}/oauth/access_token",
                json={
                    "grant_type": "client_credentials",
                    "client_id": self.account.client_id,
                    "client_secret": self.account.client_secret,
                },
            )
            assert r.status_code == 200, (r.status_code, r.text)
            self._token = r.json()["access_token"]
        return self._token

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token()}", **kwargs.pop("headers", {})}
        return self._http.request(method, f"{self.base_url}{path}", headers=headers, **kwargs)

    def ok(self, method: str, path: str, **kwargs):
        """Request and assert the SendPulse success contract (HTTP 200, JSON, no is_error)."""
        r = self.request(method, path, **kwargs)
        assert r.status_code == 200, f"{method} {path} {kwargs!r} -> {r.status_code} {r.text}"
        body = r.json()
        assert not (isinstance(body, dict) and body.get("is_error")), f"{method} {path} -> {body}"
        return body

    def close(self) -> None:
        self._http.close()


@dataclass
class LiveServer:
    base_url: str
    port: int
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen
    log_dir: Path
    account: Account | None = None

    # the default account's credentials, as the brief's fixture contract promises
    @property
    def client_id(self) -> str:
        assert self.account is not None
        return self.account.client_id

    @property
    def client_secret(self) -> str:
        assert self.account is not None
        return self.account.client_secret

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    def server_output(self) -> str:
        out = []
        for name in ("stdout", "stderr"):
            p = self.log_dir / f"server.{name}"
            if p.exists():
                text = p.read_text("utf-8", "replace")
                out.append(f"--- server {name} (last 6000 chars) ---\n{text[-6000:]}")
        return "\n".join(out)

    def cli(self, *args: str, timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "pulsebox", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def create_account(self, name: str | None = None) -> Account:
        name = name or unique("acct")
        cp = self.cli("accounts", "create", name)
        assert cp.returncode == 0, f"accounts create failed ({cp.returncode}):\n{cp.stdout}\n{cp.stderr}"
        lines = [ln for ln in cp.stdout.splitlines() if ln.strip().startswith("{")]
        assert lines, f"accounts create printed no JSON line:\n{cp.stdout}\n{cp.stderr}"
        data = json.loads(lines[-1])
        return Account(id=int(data["id"]), client_id=str(data["client_id"]), client_secret=str(data["client_secret"]))

    def api(self, account: Account | None = None) -> Api:
        return Api(self.base_url, account or self.account)  # type: ignore[arg-type]

    # ---- captured mail ---------------------------------------------------------------------- #

    def mail_files(self) -> set[Path]:
        files: set[Path] = set()
        for sub in ("new", "cur"):
            d = self.mail_dir / sub
            if d.is_dir():
                files.update(p for p in d.iterdir() if p.is_file() and not p.name.startswith("."))
        return files

    def messages(self, exclude: set[Path] | frozenset[Path] = frozenset()) -> list[tuple[Path, EmailMessage]]:
        parser = BytesParser(policy=policy.default)
        out = []
        for path in sorted(self.mail_files() - set(exclude), key=lambda p: (p.stat().st_mtime, p.name)):
            try:
                out.append((path, parser.parsebytes(path.read_bytes())))
            except FileNotFoundError:  # moved new/ -> cur/ while we looked; seen next round
                continue
        return out

    def wait_for_message(
        self,
        predicate: Callable[[EmailMessage], bool],
        *,
        timeout: float = MAIL_TIMEOUT,
        exclude: set[Path] | frozenset[Path] = frozenset(),
    ) -> EmailMessage:
        """The newest captured message matching ``predicate`` (ignoring files in ``exclude``),
        polling until ``timeout``; fails listing what was captured."""
        deadline = time.monotonic() + timeout
        while True:
            matches = [m for _, m in self.messages(exclude) if predicate(m)]
            if matches:
                return matches[-1]
            if time.monotonic() > deadline:
                seen = [(str(m["To"]), str(m["Subject"])) for _, m in self.messages(exclude)]
                pytest.fail(
                    f"no captured message matched within {timeout}s in {self.mail_dir}; "
                    f"new messages seen (To, Subject): {seen}\n{self.server_output()}"
                )
            time.sleep(0.1)


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


# --------------------------------------------------------------------------------------------- #
#      servers of a test module's own: mail over real SMTP, restarts, kills (mail flow, crash)     #
# --------------------------------------------------------------------------------------------- #
#
# The session ``live_server`` (conftest.py) captures mail in a Maildir. The mail-flow and crash
# tests need more: a ``pulsebox serve`` relaying to an SMTP server the test runs (aiosmtpd, in
# process), the inbound bounce listener, a database of their own (so no other server's worker
# claims their mail), and processes they may SIGKILL and start again on the same data.

SERVE_STARTUP_TIMEOUT = 30.0  # seconds for /healthz to answer 200
E2E_RATE_LIMITS = "1000/second;100000/minute;1000000/day"
BACKENDS = [b.strip() for b in os.environ.get("PULSEBOX_TEST_BACKENDS", "sqlite,postgresql").split(",") if b.strip()]
PG_ADMIN_URL = os.environ.get("PULSEBOX_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BROWSER_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)


@contextlib.contextmanager
def own_database(backend: str) -> Iterator[str | None]:
    """A database nobody else uses: None for SQLite (serve makes ``<data_dir>/pulsebox.db``), or the
    URL of a PostgreSQL database created on ``PULSEBOX_TEST_PG_URL`` and dropped afterwards."""
    if backend == "sqlite":
        yield None
        return
    assert backend == "postgresql", f"unknown backend {backend!r} in PULSEBOX_TEST_BACKENDS"
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    name = f"pulsebox_e2e_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            admin.dispose()


def serve_env(data_dir: Path, database_url: str | None = None, **settings: str) -> dict[str, str]:
    """The environment of a ``pulsebox serve``: no inherited ``PULSEBOX_*`` setting, a data dir of
    its own, high API limits, and ``settings`` (``MAIL_URL="smtp://..."`` -> ``PULSEBOX_MAIL_URL``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSEBOX_")}
    env.update({"PULSEBOX_DATA_DIR": str(data_dir), "PULSEBOX_API_RATE_LIMITS": E2E_RATE_LIMITS, "PYTHONUNBUFFERED": "1"})
    if database_url:
        env["PULSEBOX_DATABASE_URL"] = database_url
    env.update({f"PULSEBOX_{k}": str(v) for k, v in settings.items()})
    return env


def spawn_serve(env: dict[str, str], log_dir: Path, *, role: str = "all", port: int | None = None) -> LiveServer:
    """Start ``pulsebox serve --role ROLE`` in its own process group and wait for /healthz. Its output is
    appended to ``log_dir/server.{stdout,stderr}`` (one file across restarts, each start marked)."""
    port = port or free_port()
    env = dict(env)
    env.setdefault("PULSEBOX_PUBLIC_URL", f"http://127.0.0.1:{port}")
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "server.stdout", "ab") as stdout, open(log_dir / "server.stderr", "ab") as stderr:
        for out in (stdout, stderr):
            out.write(f"\n===== pulsebox serve --role {role} on port {port} =====\n".encode())
            out.flush()
        proc = subprocess.Popen(
            [sys.executable, "-m", "pulsebox", "serve", "--host", "127.0.0.1", "--port", str(port), "--role", role],
            env=env,
            stdout=stdout,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: a kill reaches every process it forks
        )
    server = LiveServer(
        base_url=f"http://127.0.0.1:{port}",
        port=port,
        data_dir=Path(env["PULSEBOX_DATA_DIR"]),
        env=env,
        process=proc,
        log_dir=log_dir,
    )
    try:
        wait_healthy(server)
    except BaseException:
        kill_server(server)
        raise
    return server


def wait_healthy(server: LiveServer, timeout: float = SERVE_STARTUP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    last = "no attempt"
    while True:
        if server.process.poll() is not None:
            pytest.fail(f"pulsebox serve exited with {server.process.returncode} before /healthz\n{server.server_output()}")
        try:
            r = httpx.get(f"{server.base_url}/healthz", timeout=2.0)
            if r.status_code == 200:
                return
            last = f"HTTP {r.status_code}: {r.text[:200]}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        if time.monotonic() > deadline:
            pytest.fail(f"pulsebox serve: no /healthz within {timeout}s (last: {last})\n{server.server_output()}")
        time.sleep(0.1)


def kill_server(server: LiveServer, sig: int = signal.SIGKILL, timeout: float = 15.0) -> None:
    """Send ``sig`` to the server's whole process group and reap it; SIGKILL if it outlives ``timeout``."""
    proc = server.process
    for s in (sig, signal.SIGKILL):
        try:
            os.killpg(proc.pid, s)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            continue
        break
    # the group may outlive its leader (granian's worker process): make sure it is gone
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def stop_server(server: LiveServer) -> None:
    """Orderly stop (SIGTERM to the group), SIGKILL after 15 s."""
    if server.process.poll() is None:
        kill_server(server, signal.SIGTERM)
    else:
        kill_server(server, signal.SIGKILL, timeout=1.0)


def poll(what: str, probe: Callable[[], object], *, timeout: float = MAIL_TIMEOUT, every: float = 0.1,
         detail: Callable[[], str] | None = None):
    """``probe()``'s first truthy answer within ``timeout`` seconds; fails naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout}s" + (f"\n{detail()}" if detail else ""))
        time.sleep(every)


@dataclass
class Received:
    """One message an SMTP server accepted: the envelope and the parsed content."""

    mail_from: str
    rcpts: list[str]
    raw: bytes
    message: EmailMessage

    @property
    def html(self) -> str:
        part = self.message.get_body(("html",))
        return part.get_content() if part is not None else ""

    @property
    def text(self) -> str:
        return message_text(self.message)


class SmtpSink:
    """An aiosmtpd server on loopback around ``handler`` (tests/smtp_servers.py ``Recorder`` or a
    subclass: ``messages`` holds ``(mail_from, rcpts, original_content)``, guarded by ``lock``)."""

    def __init__(self, handler) -> None:  # noqa: ANN001
        from aiosmtpd.controller import Controller

        self.handler = handler
        self.controller = Controller(handler, hostname="127.0.0.1", port=free_port())
        self.controller.start()
        self.port: int = self.controller.port

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?tls=none"

    def received(self) -> list[Received]:
        with self.handler.lock:
            raw = list(self.handler.messages)
        parser = BytesParser(policy=policy.default)
        return [Received(f, list(r), data, parser.parsebytes(data)) for f, r, data in raw]

    def to(self, address: str) -> list[Received]:
        address = address.lower()
        return [m for m in self.received() if address in (r.lower() for r in m.rcpts)]

    def wait_for(self, address: str, *, count: int = 1, timeout: float = MAIL_TIMEOUT,
                 server: LiveServer | None = None) -> list[Received]:
        """The messages for ``address`` once there are at least ``count`` (bounded wait)."""

        def detail() -> str:
            seen = [(m.rcpts, str(m.message["Subject"])) for m in self.received()]
            return f"received so far (rcpts, Subject): {seen}\n" + (server.server_output() if server else "")

        def probe() -> list[Received] | None:
            got = self.to(address)
            return got if len(got) >= count else None

        return poll(f"{count} message(s) for {address} at the SMTP server", probe, timeout=timeout, detail=detail)

    def stop(self) -> None:
        self.controller.stop()


# ---- the Node client (tests/e2e/node) ----

NODE_DIR = Path(__file__).resolve().parent / "node"


def node_modules_ready(timeout: float = 300) -> Path:
    """``npm ci`` in tests/e2e/node once; skips the test when node/npm are missing."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node and npm are needed for the Node client e2e tests")
    installed = NODE_DIR / "node_modules" / "sendpulse-api" / "package.json"
    if installed.is_file():
        return NODE_DIR
    # one install at a time: test processes running side by side (pytest-xdist) share this folder
    lock = Path(tempfile.gettempdir()) / f"pulsebox-npm-{hashlib.sha256(str(NODE_DIR).encode()).hexdigest()[:16]}.lock"
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        if not installed.is_file():  # another process may have installed it meanwhile
            cmd = [npm, "ci" if (NODE_DIR / "package-lock.json").is_file() else "install", "--no-audit", "--no-fund"]
            cp = subprocess.run(cmd, cwd=NODE_DIR, capture_output=True, text=True, timeout=timeout)
            assert cp.returncode == 0, f"{' '.join(cmd)} failed ({cp.returncode}):\n{cp.stdout}\n{cp.stderr}"
    return NODE_DIR


def run_node_scenario(server: LiveServer, account: Account, token_dir: Path, mode: str, *,
                      extra_env: dict[str, str] | None = None, timeout: float = 90) -> dict:
    """Run ``node -r ./redirect.js scenario.js MODE`` against ``server``; its one JSON line, decoded."""
    env = {
        **server.env,
        "PULSEBOX_E2E_PORT": str(server.port),
        "PULSEBOX_CLIENT_ID": account.client_id,
        "PULSEBOX_CLIENT_SECRET": account.client_secret,
        "PULSEBOX_TOKEN_DIR": str(token_dir),
        "PULSEBOX_MAIL_DIR": str(server.mail_dir),
        "PULSEBOX_E2E_TAG": unique(""),
        **(extra_env or {}),
    }
    cmd = ["node", "-r", "./redirect.js", "scenario.js", mode]
    try:
        cp = subprocess.run(cmd, cwd=NODE_DIR, env=env, capture_output=True, text=True, encoding="utf-8", timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{' '.join(cmd)} did not finish within {timeout}s; stdout: {exc.stdout!r}")
    lines = [ln for ln in cp.stdout.splitlines() if ln.strip()]
    assert lines, f"scenario {mode} printed nothing (exit {cp.returncode}); stderr:\n{cp.stderr}"
    result = json.loads(lines[-1])
    assert cp.returncode == 0, (
        f"scenario {mode} exited {cp.returncode}: {result.get('timeout') or result.get('exception')}\n"
        f"results: {json.dumps(result, ensure_ascii=False)[:4000]}\nstderr:\n{cp.stderr[-3000:]}"
    )
    return result


# --------------------------------------------------------------------------------------------- #
#                    a server relaying to an SMTP server of the test's own                       #
# --------------------------------------------------------------------------------------------- #


def client_class(base_url: str) -> type[PySendPulse]:
    # Name-mangled private attribute: PySendPulse reads self._PySendPulse__api_url, which finds the
    # subclass attribute first. It must be set before construction (the constructor gets a token).
    return type("LocalPySendPulse", (PySendPulse,), {"_PySendPulse__api_url": base_url})


class FlowRecorder(Recorder):
    """An SMTP server that accepts everything except the recipients in ``refuse`` (address -> the
    reply to their RCPT), so one test can script a 5xx without touching the others' mail."""

    def __init__(self) -> None:
        super().__init__()
        self.refuse: dict[str, str] = {}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802, ANN001, ANN201
        if address.lower() in self.refuse:
            return self.refuse[address.lower()]
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


def activate_sender(sp: PySendPulse, sink: SmtpSink, server: LiveServer, email: str, name: str) -> str:
    """Add a sender, have its activation code mailed, activate it with the code; the message's code."""
    assert sp.add_sender(email, name) == {"result": True}
    requested = sp.send_sender_activation_email(email)
    assert isinstance(requested, dict) and requested.get("result") is True, requested
    [mail] = sink.wait_for(email, server=server)
    code = activation_code(mail.message)
    activated = sp.activate_sender(email, code)
    assert isinstance(activated, dict) and activated.get("result") is True, activated
    return code


@dataclass
class Relaying:
    """A live ``pulsebox serve`` relaying to ``sink`` (``PULSEBOX_MAIL_URL=smtp://...``), with its
    inbound listener, an account, an httpx client, a pysendpulse client and an active sender."""

    server: LiveServer
    sink: SmtpSink
    inbound_port: int
    account: Account
    api: Api
    sp: PySendPulse
    sender: str


@contextlib.contextmanager
def relaying_server(root: Path, backend: str, handler: FlowRecorder, **settings: str) -> Iterator[Relaying]:
    """Mail that leaves the machine needs an active sender (``verify_senders`` is strict for
    smtp://): one is activated with the code the server mails. ``settings``: more PULSEBOX_*."""
    with contextlib.ExitStack() as cleanup:
        sink = SmtpSink(handler)
        cleanup.callback(sink.stop)
        database_url = cleanup.enter_context(own_database(backend))
        port, inbound_port = free_port(), free_port()
        env = serve_env(root / "data", database_url, MAIL_URL=sink.url, INBOUND_SMTP=f"127.0.0.1:{inbound_port}",
                        PUBLIC_URL=f"http://127.0.0.1:{port}", **settings)
        server = spawn_serve(env, root / "logs", port=port)
        cleanup.callback(stop_server, server)
        account = server.create_account(unique("flow"))
        api = server.api(account)
        cleanup.callback(api.close)
        token_dir = root / "token"
        token_dir.mkdir()
        sp = client_class(server.base_url)(account.client_id, account.client_secret, token_file_path=f"{token_dir}/")
        sender = f"{unique('shop')}@e2e-shop.example.com"
        activate_sender(sp, sink, server, sender, "E2E Shop")
        yield Relaying(server, sink, inbound_port, account, api, sp, sender)
