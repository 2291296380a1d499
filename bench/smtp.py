"""Transactional throughput: accepted ``POST /smtp/emails`` per second, then delivered messages per
second from the outbox into postfix's ``smtp-sink`` on loopback.

    apt-get install -y wrk postfix     # wrk, and postfix only for its smtp-sink binary
    python bench/smtp.py [--duration 10] [--connections 32] [--workers 1] [--database-url URL]

1. ``smtp-sink`` listens on a free loopback port; ``pulsebox serve --role api`` (no worker in it)
   runs on a fresh data dir with ``PULSEBOX_MAIL_URL=smtp://127.0.0.1:<sink>?tls=none``.
2. **accepted/s**: wrk posts the same JSON message (2.8 KB html, base64, three links, one
   recipient) for ``--duration`` seconds after a warm-up; every answer must be 200 with an id
   (non-2xx fails the run). Each accepted request is a committed message + delivery.
3. The API server stops; ``--workers`` ``pulsebox worker`` processes start and drain the outbox.
   **delivered/s** = copies recorded ``sent`` / seconds, taken between 10 % and 90 % of the drain
   (process start-up excluded), and over the whole drain. Every copy is built for real: tracking
   pixel, signed click links, List-Unsubscribe, VERP return path.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import HIGH_LIMITS, PgDatabase, checked, free_port, log, request, wrk_run  # noqa: E402

HTML = ("<html><body><h1>Your order {{number}}</h1>"
        + "<p>Thank you for shopping with us. Here is what happens next with your parcel.</p>" * 30
        + '<p><a href="https://shop.example/orders/1">Order</a> <a href="https://shop.example/help">Help</a> '
          '<a href="https://shop.example/account?x=1&amp;y=2">Account</a></p></body></html>')


def start_sink() -> tuple[subprocess.Popen, int]:
    binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    if not Path(binary).exists():
        raise SystemExit("smtp-sink not found: apt-get install -y postfix")
    port = free_port()
    user = ["-u", "postfix"] if os.geteuid() == 0 else []  # smtp-sink refuses to keep root privileges
    sink = subprocess.Popen([binary, *user, f"127.0.0.1:{port}", "1024"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    for _ in range(50):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return sink, port
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"smtp-sink did not start: {sink.stderr.read().decode(errors='replace')}")


def setup(name: str, args: argparse.Namespace) -> tuple[subprocess.Popen, Path, PgDatabase | None, str, int, dict]:
    """smtp-sink, a fresh data dir and database, a free port, and the environment of every
    pulsebox process of the run: (sink, data dir, PostgreSQL or None, database URL, port, env)."""
    sink, sink_port = start_sink()
    data_dir, pg, database_url, port, env = fresh_run(name, args, {
        "PULSEBOX_SENDER_CHECK": "off",
        "PULSEBOX_MAIL_URL": f"smtp://127.0.0.1:{sink_port}?tls=none&pool={args.concurrency}"})
    return sink, data_dir, pg, database_url, port, env


def fresh_run(name: str, args: argparse.Namespace, settings: dict) -> tuple[Path, PgDatabase | None, str, int, dict]:
    """A fresh data dir and database (PostgreSQL with ``--database-url``), a free port, and the
    environment of every pulsebox process of the run, ``settings`` added."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"pulsebox-bench-{name}-"))
    pg = PgDatabase(args.database_url) if args.database_url else None
    database_url = pg.url if pg else f"sqlite:///{data_dir / 'pulsebox.db'}"
    if pg:
        pg.create()
    port = free_port()
    env = {**os.environ, "PULSEBOX_DATA_DIR": str(data_dir), "PULSEBOX_DATABASE_URL": database_url,
           "PULSEBOX_API_RATE_LIMITS": HIGH_LIMITS, "PULSEBOX_SEND_CONCURRENCY": str(args.concurrency),
           "PULSEBOX_LOG_LEVEL": "WARNING", "PULSEBOX_PUBLIC_URL": f"http://127.0.0.1:{port}", **settings}
    env.pop("PULSEBOX_REDIS_URL", None)
    return data_dir, pg, database_url, port, env


def teardown(processes: list, sink: subprocess.Popen | None, engine, pg: PgDatabase | None,  # noqa: ANN001
             data_dir: Path) -> None:
    """Stop every process group (SIGTERM, then SIGKILL after 15 s), the sink, the database and the folder."""
    for proc in processes:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    if sink is not None:
        sink.terminate()
    engine.dispose()
    if pg:
        pg.drop()
    shutil.rmtree(data_dir, ignore_errors=True)


def pulsebox(env: dict, *argv: str) -> str:
    done = subprocess.run([sys.executable, "-m", "pulsebox", *argv], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    if done.returncode:
        raise SystemExit(f"pulsebox {' '.join(argv)} failed:\n{done.stderr}")
    return done.stdout


def start_serve(env: dict, data_dir: Path, port: int, *role: str) -> subprocess.Popen:
    """``pulsebox serve`` (``role``: e.g. ``--role api``) in a process group of its own, its output in
    ``server.log``, answering ``/healthz`` before this returns."""
    server = subprocess.Popen([sys.executable, "-m", "pulsebox", "serve", *role, "--port", str(port)], env=env,
                              stdout=(data_dir / "server.log").open("w"), stderr=subprocess.STDOUT,
                              start_new_session=True)
    for _ in range(300):
        try:
            if request("GET", f"http://127.0.0.1:{port}/healthz", timeout=2)[0] == 200:
                break
        except OSError:
            time.sleep(0.2)
    return server


def access_token(base: str, account: dict) -> str:
    return checked("POST", base + "/oauth/access_token", {
        "grant_type": "client_credentials", "client_id": account["client_id"],
        "client_secret": account["client_secret"]})["access_token"]


def counts(engine) -> dict[str, int]:  # noqa: ANN001
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT status, count(*) FROM deliveries GROUP BY status")).all())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1, help="pulsebox worker processes for the drain")
    parser.add_argument("--concurrency", type=int, default=2, help="PULSEBOX_SEND_CONCURRENCY per worker")
    parser.add_argument("--database-url", help="PostgreSQL server (a database is created and dropped)")
    parser.add_argument("--max-seconds", type=float, default=600, help="bound on the drain")
    parser.add_argument("--json", help="also write the result here")
    args = parser.parse_args()

    sink, data_dir, pg, database_url, port, env = setup("smtp", args)
    server = workers = None
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        pulsebox(env, "migrate")
        account = json.loads(pulsebox(env, "accounts", "create", "bench", "--rate-limits", HIGH_LIMITS)
                             .strip().splitlines()[-1])
        server = start_serve(env, data_dir, port, "--role", "api")
        base = f"http://127.0.0.1:{port}"
        token = access_token(base, account)
        body = json.dumps({"email": {
            "subject": "Your order {{number}}", "from": {"name": "Shop", "email": "shop@example.com"},
            "to": [{"name": "Ann", "email": "ann@example.com"}], "variables": {"number": 1042},
            "html": base64.b64encode(HTML.encode()).decode()}}).encode()
        body_file = data_dir / "body.json"
        body_file.write_bytes(body)
        os.environ["PB_BODY_FILE"] = str(body_file)
        wrk_run(args, base + "/smtp/emails", token, args.warmup)
        accepted = wrk_run(args, base + "/smtp/emails", token, args.duration)
        if accepted["errors"]:
            raise SystemExit(f"wrk saw {accepted['errors']} errors: {accepted['raw']}")
        log(f"accepted: {accepted['rps']} req/s, p50 {accepted['p50_ms']} ms, p99 {accepted['p99_ms']} ms")
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
        server = None

        before = counts(engine)
        total = sum(before.values())
        assert before.get("queued") == total, before
        log(f"draining {total} queued copies with {args.workers} worker(s)")
        started = time.monotonic()
        workers = [subprocess.Popen([sys.executable, "-m", "pulsebox", "worker"], env=env,
                                    stdout=subprocess.DEVNULL, stderr=(data_dir / f"worker{i}.log").open("w"),
                                    start_new_session=True) for i in range(args.workers)]
        marks: dict[int, float] = {}
        while True:
            now = time.monotonic()
            done = counts(engine)
            sent = done.get("sent", 0)
            for pct in (10, 90):
                if pct not in marks and sent >= total * pct / 100:
                    marks[pct] = now
            if sum(v for k, v in done.items() if k in ("sent", "bounced", "failed", "suppressed")) >= total:
                break
            if now - started > args.max_seconds:
                raise SystemExit(f"drain not finished after {args.max_seconds} s: {done}")
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        if done.get("sent") != total:
            raise SystemExit(f"not every copy was sent: {done}")
        steady = total * 0.8 / (marks[90] - marks[10]) if marks[90] > marks[10] else float("nan")
        result = {"date": time.strftime("%Y-%m-%d"), "database": "postgresql" if pg else "sqlite",
                  "accepted_rps": accepted["rps"], "accepted_p50_ms": accepted["p50_ms"],
                  "accepted_p99_ms": accepted["p99_ms"], "connections": args.connections,
                  "messages": total, "workers": args.workers, "concurrency": args.concurrency,
                  "delivered_per_s_steady": round(steady, 1), "delivered_per_s_overall": round(total / elapsed, 1),
                  "drain_s": round(elapsed, 2)}
        print(json.dumps(result))
        print(f"| {result['date']} | {result['database']} | {result['accepted_rps']:,.0f} "
              f"(p99 {result['accepted_p99_ms']} ms, {args.connections} conn) | {total:,} | {args.workers} x "
              f"{args.concurrency} | {result['delivered_per_s_steady']:,.0f} | {result['delivered_per_s_overall']:,.0f} |")
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2))
    finally:
        teardown(([server] if server else []) + (workers or []), sink, engine, pg, data_dir)


if __name__ == "__main__":
    main()
