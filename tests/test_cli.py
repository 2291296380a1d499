"""The operator's command line: migrate and accounts, serve's schema and folder checks.

``serve`` runs as a real process (``python -m pulsebox``); ``migrate`` and ``accounts`` run in this
process through ``cli.main`` (what ``python -m pulsebox`` calls), with the same environment, argument
parsing, exit status and output, and the servers' scrypt cost: a second of interpreter start-up
each spared.
"""

import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass

import pytest
from ports import free_port
from sqlalchemy import text

from pulsebox import cli
from pulsebox.accounts import service as accounts
from pulsebox.context import Context
from pulsebox.db import Database, migrate


def pulsebox(data_dir, *args, env=None, timeout=60):
    environment = {**os.environ, "PULSEBOX_DATA_DIR": str(data_dir), **(env or {})}
    environment.pop("PULSEBOX_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "pulsebox", *args], capture_output=True, text=True,
                          env=environment, timeout=timeout)


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """``run_cli(data_dir, *args)``: ``pulsebox ARGS`` in this process, as ``pulsebox`` above runs it
    (``PULSEBOX_DATA_DIR`` set, no ``PULSEBOX_DATABASE_URL``; ``data_dir=None`` leaves the environment
    as it is), with the exit status Python would give it. The servers' scrypt cost, not the tests'
    cheap one; every database the command opened is closed after it."""
    monkeypatch.setattr(accounts, "SCRYPT_N", 2**14)
    opened = []

    def context(settings):
        opened.append(Context.create(settings))
        return opened[-1]

    monkeypatch.setattr(cli, "_context", context)

    def run(data_dir, *args) -> Run:
        if data_dir is not None:
            monkeypatch.setenv("PULSEBOX_DATA_DIR", str(data_dir))
            monkeypatch.delenv("PULSEBOX_DATABASE_URL", raising=False)
        capsys.readouterr()
        code, message = 0, ""
        try:
            cli.main(list(args))
        except SystemExit as exc:  # as the interpreter reports it: a message goes to stderr, status 1
            code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
            message = "" if exc.code is None or isinstance(exc.code, int) else f"{exc.code}\n"
        finally:
            while opened:
                opened.pop().db.dispose()
        out, err = capsys.readouterr()
        return Run(code, out, err + message)

    return run


def test_migrate_is_idempotent(tmp_dir, run_cli):
    first = run_cli(tmp_dir, "migrate")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"from": None, "to": migrate.head()}
    again = run_cli(tmp_dir, "migrate")
    assert json.loads(again.stdout) == {"from": migrate.head(), "to": migrate.head()}


def test_accounts_create_list_set_rotate(tmp_dir, run_cli):
    created = run_cli(tmp_dir, "accounts", "create", "shop", "--rate-limits", "5/second;100/minute",
                      "--email-quota", "1000", "--campaigns-per-hour", "2", "--same-list-interval", "60")
    assert created.returncode == 0, created.stderr
    account = json.loads(created.stdout)
    assert set(account) == {"id", "client_id", "client_secret"}
    listed = [json.loads(line) for line in run_cli(tmp_dir, "accounts", "list").stdout.splitlines()]
    assert listed[0]["name"] == "shop" and listed[0]["rate_limits"] == "5/second;100/minute"
    assert listed[0]["email_quota"] == 1000 and "client_secret" not in listed[0]
    duplicate = run_cli(tmp_dir, "accounts", "create", "shop")
    assert duplicate.returncode != 0 and duplicate.stderr.startswith("pulsebox accounts create: "), duplicate
    assert run_cli(tmp_dir, "accounts", "create", "bad", "--rate-limits", "lots").returncode != 0
    rotated = json.loads(run_cli(tmp_dir, "accounts", "rotate-secret", "shop").stdout)
    assert rotated["client_id"] == account["client_id"] and rotated["client_secret"] != account["client_secret"]
    changed = json.loads(run_cli(tmp_dir, "accounts", "set", account["client_id"], "--tariff-name", "Pro").stdout)
    assert changed["tariff_name"] == "Pro"


def test_accounts_set_password_reads_standard_input_never_an_argument(tmp_dir, run_cli, monkeypatch):
    assert run_cli(tmp_dir, "accounts", "create", "shop").returncode == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    done = run_cli(tmp_dir, "accounts", "set-password", "shop")
    assert done.returncode == 0 and json.loads(done.stdout)["ui_password"] == "set", done.stderr
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    refused = run_cli(tmp_dir, "accounts", "set-password", "shop")
    assert refused.returncode != 0 and "10 to 1000 characters" in refused.stderr
    assert run_cli(tmp_dir, "accounts", "set-password", "shop", "--password", "x").returncode != 0


def test_serve_refuses_an_out_of_date_schema(tmp_dir, run_cli):
    assert run_cli(tmp_dir, "migrate").returncode == 0
    db = Database(f"sqlite:///{tmp_dir / 'pulsebox.db'}")
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    db.dispose()
    refused = pulsebox(tmp_dir, "serve", "--port", "1")
    assert refused.returncode != 0 and "pulsebox migrate" in refused.stderr


def test_first_start_prints_default_credentials_and_serves(tmp_dir):
    import time
    import urllib.request

    port = _free_port()
    env = {**os.environ, "PULSEBOX_DATA_DIR": str(tmp_dir)}
    env.pop("PULSEBOX_DATABASE_URL", None)
    server = subprocess.Popen([sys.executable, "-m", "pulsebox", "serve", "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        first_line = server.stdout.readline()
        credentials = json.loads(server.stdout.readline())
        assert "default account" in first_line and set(credentials) == {"id", "client_id", "client_secret"}
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                    assert json.load(answer) == {"status": "ok"}
                    break
            except OSError:
                assert time.time() < deadline, "server did not come up"
                time.sleep(0.2)
        body = json.dumps({"grant_type": "client_credentials", **{k: credentials[k] for k in ("client_id", "client_secret")}})
        request = urllib.request.Request(f"http://127.0.0.1:{port}/oauth/access_token", data=body.encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert json.load(answer)["token_type"] == "Bearer"
    finally:
        server.terminate()
        server.wait(timeout=20)


def _free_port():
    return free_port()


def _call(port, method, path, body=None, token=None):
    import urllib.request

    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


def test_serve_makes_every_folder_it_writes_with_its_parents(tmp_dir, run_cli, monkeypatch):
    """Started in an empty folder with no data dir, its database in another folder that does not
    exist yet: the SQLite folder, the data dir, the signing key and the capture Maildir are all made
    (the Maildir with its parents), and a message sent through the API is captured."""
    import base64
    import time

    cwd = tmp_dir / "empty"
    cwd.mkdir()
    database = tmp_dir / "elsewhere" / "deeper" / "x.db"
    env = {key: value for key, value in os.environ.items() if not key.startswith("PULSEBOX_")}
    env["PULSEBOX_DATABASE_URL"] = f"sqlite:///{database}"
    for key in list(os.environ):  # the in-process command sees what the server will see: env, folder
        if key.startswith("PULSEBOX_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("PULSEBOX_DATABASE_URL", env["PULSEBOX_DATABASE_URL"])
    monkeypatch.chdir(cwd)
    created = run_cli(None, "accounts", "create", "shop")
    assert created.returncode == 0, created.stderr
    account = json.loads(created.stdout)
    assert database.is_file()
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "pulsebox", "serve", "--port", str(port)], cwd=cwd, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 30
        while True:
            try:
                assert _call(port, "GET", "/healthz") == {"status": "ok"}
                break
            except OSError:
                assert server.poll() is None, f"serve died: {server.stderr.read()[-3000:]}"
                assert time.time() < deadline, "server did not come up"
                time.sleep(0.2)
        token = _call(port, "POST", "/oauth/access_token", {
            "grant_type": "client_credentials", "client_id": account["client_id"],
            "client_secret": account["client_secret"]})["access_token"]
        sent = _call(port, "POST", "/smtp/emails", {"email": {
            "subject": "Made its folders", "html": base64.b64encode(b"<p>Hi</p>").decode(),
            "from": {"name": "Shop", "email": "shop@example.com"}, "to": [{"email": "ann@example.com"}]}},
            token)
        assert sent["result"] is True
        deadline = time.time() + 20
        while not (captured := _call(port, "GET", "/capture/messages", token=token)):
            assert server.poll() is None, f"serve died: {server.stderr.read()[-3000:]}"
            assert time.time() < deadline, "the message was not captured"
            time.sleep(0.2)
        assert [(m["message_id"], m["to"], m["subject"]) for m in captured] == \
            [(sent["id"], "ann@example.com", "Made its folders")]
        data_dir = cwd / ".pulsebox"
        assert (data_dir / "secret.key").is_file()
        assert len(list((data_dir / "mail" / "new").iterdir())) == 1
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_an_unwritable_data_dir_is_refused_at_start_in_one_line(tmp_dir):
    blocker = tmp_dir / "a-file"
    blocker.write_text("not a folder")
    for data_dir in (blocker / "data", blocker):
        refused = pulsebox(data_dir, "serve", "--port", str(_free_port()), timeout=30)
        assert refused.returncode != 0
        assert refused.stderr.strip().splitlines() == [refused.stderr.strip()], refused.stderr
        assert refused.stderr.startswith(f"pulsebox: cannot write to {data_dir} (PULSEBOX_DATA_DIR")
        assert "Traceback" not in refused.stderr
    maildir = pulsebox(tmp_dir / "data", "serve", "--port", str(_free_port()),
                       env={"PULSEBOX_MAIL_URL": f"capture://{blocker}/mail"}, timeout=30)
    assert maildir.returncode != 0 and maildir.stderr.strip().splitlines() == [
        f"pulsebox: cannot write to the Maildir {blocker}/mail (PULSEBOX_MAIL_URL, PULSEBOX_DATA_DIR): Not a directory"]
