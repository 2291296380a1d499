"""The operator's command line, run as a real process: migrate, accounts, serve's schema checks."""

import json
import os
import subprocess
import sys

from sqlalchemy import text

from pulsebox.db import Database


def pulsebox(data_dir, *args, env=None, timeout=60):
    environment = {**os.environ, "PULSEBOX_DATA_DIR": str(data_dir), **(env or {})}
    environment.pop("PULSEBOX_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "pulsebox", *args], capture_output=True, text=True,
                          env=environment, timeout=timeout)


def test_migrate_is_idempotent(tmp_dir):
    first = pulsebox(tmp_dir, "migrate")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"from": None, "to": "0005"}
    again = pulsebox(tmp_dir, "migrate")
    assert json.loads(again.stdout) == {"from": "0005", "to": "0005"}


def test_accounts_create_list_set_rotate(tmp_dir):
    created = pulsebox(tmp_dir, "accounts", "create", "shop", "--rate-limits", "5/second;100/minute",
                       "--email-quota", "1000", "--campaigns-per-hour", "2", "--same-list-interval", "60")
    assert created.returncode == 0, created.stderr
    account = json.loads(created.stdout)
    assert set(account) == {"id", "client_id", "client_secret"}
    listed = [json.loads(line) for line in pulsebox(tmp_dir, "accounts", "list").stdout.splitlines()]
    assert listed[0]["name"] == "shop" and listed[0]["rate_limits"] == "5/second;100/minute"
    assert listed[0]["email_quota"] == 1000 and "client_secret" not in listed[0]
    assert pulsebox(tmp_dir, "accounts", "create", "shop").returncode != 0
    assert pulsebox(tmp_dir, "accounts", "create", "bad", "--rate-limits", "lots").returncode != 0
    rotated = json.loads(pulsebox(tmp_dir, "accounts", "rotate-secret", "shop").stdout)
    assert rotated["client_id"] == account["client_id"] and rotated["client_secret"] != account["client_secret"]
    changed = json.loads(pulsebox(tmp_dir, "accounts", "set", account["client_id"], "--tariff-name", "Pro").stdout)
    assert changed["tariff_name"] == "Pro"


def test_serve_refuses_an_out_of_date_schema(tmp_dir):
    assert pulsebox(tmp_dir, "migrate").returncode == 0
    db = Database(f"sqlite:///{tmp_dir / 'pulsebox.db'}")
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    db.dispose()
    refused = pulsebox(tmp_dir, "serve", "--port", "1")
    assert refused.returncode != 0 and "pulsebox migrate" in refused.stderr


def test_first_start_prints_default_credentials_and_serves(tmp_dir):
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
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
