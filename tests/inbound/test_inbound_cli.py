"""``pulsebox inbound`` and ``pulsebox serve`` with PULSEBOX_INBOUND_SMTP, run as real processes."""

from __future__ import annotations

import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from datetime import timedelta

from pulsebox import links
from pulsebox.db import Database
from pulsebox.models import utcnow
from pulsebox.outbox import repository

from inbound_samples import postfix_dsn
from ports import free_port

KEY = "inbound-cli-test-key"


def _free_port() -> int:
    return free_port()


def _env(data_dir, **extra) -> dict:  # noqa: ANN001, ANN003
    env = {k: v for k, v in os.environ.items() if k not in ("PULSEBOX_DATABASE_URL", "PULSEBOX_INBOUND_SMTP")}
    return {**env, "PULSEBOX_DATA_DIR": str(data_dir), "PULSEBOX_SECRET_KEY": KEY, **extra}


def _run(data_dir, *args) -> subprocess.CompletedProcess:  # noqa: ANN001
    return subprocess.run([sys.executable, "-m", "pulsebox", *args], capture_output=True, text=True,
                          env=_env(data_dir), timeout=60)


def _wait_for_smtp(port: int, process: subprocess.Popen) -> None:
    deadline = time.time() + 30
    while True:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=2) as client:
                client.noop()
                return
        except OSError:
            assert process.poll() is None, process.stderr.read()
            assert time.time() < deadline, "the listener did not come up"
            time.sleep(0.2)


def test_inbound_command_records_a_bounce_and_stops_on_sigterm(tmp_dir):  # noqa: ANN001
    assert _run(tmp_dir, "inbound").returncode != 0  # no schema yet: `pulsebox migrate` first
    assert _run(tmp_dir, "migrate").returncode == 0
    account = json.loads(_run(tmp_dir, "accounts", "create", "shop").stdout)
    db = Database(f"sqlite:///{tmp_dir / 'pulsebox.db'}")
    with db.transaction() as conn:
        message_id = repository.insert_message(conn, {"public_id": "p" * 32, "account_id": account["id"],
                                                      "sender_email": "shop@shop.example", "content": {}})
        repository.insert_deliveries(conn, message_id, account["id"], ["gone@example.org"], utcnow())
        delivery_id = repository.deliveries_of(conn, account["id"], "smtp", "p" * 32)[0]["delivery_id"]
    refused = _run(tmp_dir, "inbound", "--listen", "localhost")
    assert refused.returncode != 0 and "host:port" in refused.stderr

    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "pulsebox", "inbound", "--listen", f"127.0.0.1:{port}"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(tmp_dir))
    try:
        assert process.stdout.readline().startswith(f"Pulsebox inbound SMTP listening on 127.0.0.1:{port}")
        address = links.return_path("pulsebox.localhost", KEY.encode(), delivery_id)
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            assert client.sendmail("", [address], postfix_dsn(address, "gone@example.org")) == {}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    with db.transaction(write=False) as conn:
        (bounce,) = repository.bounces_since(conn, account["id"], utcnow() - timedelta(hours=1), None, 10, 0)
    db.dispose()
    assert (bounce["delivery_id"], bounce["kind"], bounce["status"]) == (delivery_id, "hard", "5.1.1")


def test_serve_runs_the_listener_when_configured(tmp_dir):  # noqa: ANN001
    smtp_port, http_port = _free_port(), _free_port()
    server = subprocess.Popen([sys.executable, "-m", "pulsebox", "serve", "--port", str(http_port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=_env(tmp_dir, PULSEBOX_INBOUND_SMTP=f"127.0.0.1:{smtp_port}"))
    try:
        _wait_for_smtp(smtp_port, server)
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as client:
            client.ehlo()
            client.mail("")
            assert client.rcpt("someone@example.org") == (550, b"5.1.1 No such recipient")
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    with socket.socket() as probe:  # stopped with the server: the port is free again
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", smtp_port))
