"""Helpers shared by the live end-to-end tests (imported by conftest.py and the test modules)."""

from __future__ import annotations

import base64
import json
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import httpx
import pytest

CLI_TIMEOUT = 60.0  # seconds for one `pulsebox accounts ...` command
MAIL_TIMEOUT = 10.0  # seconds for the background worker to write a captured message


# --------------------------------------------------------------------------------------------- #
#                                          helpers                                              #
# --------------------------------------------------------------------------------------------- #


def unique(prefix: str = "e2e") -> str:
    """A short unique tag, so runs against a shared PostgreSQL never collide."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
