"""Campaign throughput: one campaign to N contacts, from ``POST /campaigns`` to the last copy
accepted by postfix's ``smtp-sink`` on loopback, with the peak memory of every Pulsebox process.

    apt-get install -y postfix         # for its smtp-sink binary
    python bench/campaign.py [--recipients 100000] [--workers 1] [--concurrency 4] [--database-url URL]
                             [--webhooks]

1. ``smtp-sink`` listens on a free loopback port; a fresh data dir and database; an account whose
   plan covers the send; a list of N contacts with two variables each, added through the API in
   batches of 10,000 (not timed).
2. ``pulsebox serve`` (API + its worker thread) and ``--workers`` extra ``pulsebox worker``
   processes start, with ``PULSEBOX_MAIL_URL=smtp://127.0.0.1:<sink>?pool=<concurrency>``.
3. ``POST /campaigns``: personalised subject and body (a 2.8 KB html with three links), tracking
   and List-Unsubscribe on. Timed until every copy is recorded sent: **msg/s** = N / seconds.
   Every pulsebox process's RSS is sampled every 50 ms: the peak of each and of their sum; and
   the CPU time all of them spent, per message (comparable when the machine is busy).
4. ``--webhooks``: a webhook with the ``delivered`` and ``open`` actions posts to a receiver in this
   process (loopback: ``PULSEBOX_WEBHOOKS_ALLOW_PRIVATE``); reported: when the last of the N
   ``delivered`` events arrived and the events/s from the first to the last.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import create_engine, text

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import HIGH_LIMITS, checked, descendants, free_port, log  # noqa: E402
from smtp import HTML, access_token, pulsebox, setup, start_serve, teardown  # noqa: E402

BODY = HTML.replace("Your order {{number}}", "Hello {{name}}, your order {{number}}")


class Receiver:
    """Counts the events posted to it (each event object has one ``"event"`` key) and when."""

    def __init__(self) -> None:
        self.events, self.first, self.last = 0, 0.0, 0.0
        lock, outer = threading.Lock(), self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with lock:
                    now = time.monotonic()
                    outer.first = outer.first or now
                    outer.events, outer.last = outer.events + body.count(b'"event"'), now
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """user + system CPU time of a process (its own and its reaped children's)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=1, help="pulsebox worker processes beside serve")
    parser.add_argument("--concurrency", type=int, default=4, help="PULSEBOX_SEND_CONCURRENCY (and pool) per process")
    parser.add_argument("--database-url", help="PostgreSQL server (a database is created and dropped)")
    parser.add_argument("--max-seconds", type=float, default=1800)
    parser.add_argument("--json", help="also write the result here")
    parser.add_argument("--webhooks", action="store_true", help="delivered and open webhooks to a local receiver")
    args = parser.parse_args()

    sink, data_dir, pg, database_url, port, env = setup("campaign", args)
    receiver = Receiver() if args.webhooks else None
    env["PULSEBOX_WEBHOOKS_ALLOW_PRIVATE"] = "true"
    processes: list[subprocess.Popen] = []
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        pulsebox(env, "migrate")
        account = json.loads(pulsebox(env, "accounts", "create", "bench", "--rate-limits", HIGH_LIMITS,
                                      "--email-quota", str(10 * args.recipients), "--max-subscribers",
                                      str(10 * args.recipients)).strip().splitlines()[-1])
        processes.append(start_serve(env, data_dir, port))
        base = f"http://127.0.0.1:{port}"
        token = access_token(base, account)
        book = checked("POST", base + "/addressbooks", {"bookName": "bench"}, token)["id"]
        if receiver:
            checked("POST", base + "/v2/email-service/webhook", {"url": receiver.url, "actions": ["delivered", "open"]},
                    token)
        started = time.monotonic()
        for first in range(0, args.recipients, 10_000):
            checked("POST", f"{base}/addressbooks/{book}/emails", {"emails": [
                {"email": f"r{i:07d}@example.com", "variables": {"name": f"Reader {i}", "number": i}}
                for i in range(first, min(first + 10_000, args.recipients))]}, token)
        log(f"{args.recipients} contacts added in {time.monotonic() - started:.1f} s")
        for i in range(args.workers):
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "pulsebox", "worker"], env=env, stdout=subprocess.DEVNULL,
                stderr=(data_dir / f"worker{i}.log").open("w"), start_new_session=True))
        time.sleep(1.5)  # the workers are up before the clock starts

        pids = [p.pid for p in processes]
        cpu_before = {pid: cpu_seconds(pid) for root in pids for pid in (root, *descendants(root))}
        sink_before = cpu_seconds(sink.pid)
        peaks: dict[int, int] = {}
        started = time.monotonic()
        campaign = checked("POST", base + "/campaigns", {
            "sender_name": "Shop", "sender_email": "shop@example.com", "subject": "Hello {{name}}",
            "body": base64.b64encode(BODY.encode()).decode(), "list_id": book, "name": "bench",
            "stats": {"opens": True, "clicks": True}}, token)
        peak_total = 0
        with engine.connect() as conn:
            # the campaign's own status (one row) says when it is done: counting its sent copies
            # every 50 ms cost the machine a good part of a core at 100,000 recipients
            while True:
                now = time.monotonic()
                every = {pid for root in pids for pid in (root, *descendants(root))}
                sizes = {pid: rss_kb(pid) for pid in every}
                for pid, kb in sizes.items():
                    peaks[pid] = max(peaks.get(pid, 0), kb)
                peak_total = max(peak_total, sum(sizes.values()))
                status, message_id = conn.execute(text("SELECT status, message_id FROM campaigns WHERE id = :i"),
                                                  {"i": campaign["id"]}).one()
                conn.commit()
                if status == 3:  # Sent: no copy left to send
                    break
                if now - started > args.max_seconds:
                    raise SystemExit(f"not finished after {args.max_seconds} s")
                time.sleep(0.05)
            elapsed = time.monotonic() - started
            sent = conn.execute(text("SELECT count(*) FROM deliveries WHERE message_id = :m AND status = 'sent'"),
                                {"m": message_id}).scalar()
            if sent != args.recipients:
                raise SystemExit(f"campaign Sent with {sent} of {args.recipients} copies sent")
        used = {pid: cpu_seconds(pid) - cpu_before.get(pid, 0.0) for pid in peaks}
        cpu = sum(used.values())
        if receiver:  # the events keep coming after the last copy: wait for all of them
            deadline = time.monotonic() + args.max_seconds
            while receiver.events < args.recipients and time.monotonic() < deadline:
                time.sleep(0.05)
        sink_cpu = cpu_seconds(sink.pid) - sink_before
        result = {"date": time.strftime("%Y-%m-%d"), "database": "postgresql" if pg else "sqlite",
                  "recipients": args.recipients, "workers": f"serve + {args.workers}", "concurrency": args.concurrency,
                  "seconds": round(elapsed, 2), "msg_per_s": round(args.recipients / elapsed, 1),
                  "cpu_us_per_msg": round(cpu / args.recipients * 1e6),
                  "cpu_us_per_msg_each": sorted((round(u / args.recipients * 1e6) for u in used.values()), reverse=True),
                  "sink_cpu_us_per_msg": round(sink_cpu / args.recipients * 1e6),
                  "peak_rss_mb_total": round(peak_total / 1024, 1),
                  "peak_rss_mb_each": sorted((round(kb / 1024, 1) for kb in peaks.values()), reverse=True)}
        if receiver:
            result |= {"webhook_events": receiver.events,
                       "events_done_s": round(receiver.last - started, 2),
                       "events_per_s": round(receiver.events / max(receiver.last - receiver.first, 1e-9), 1)}
        print(json.dumps(result))
        print(f"| {result['date']} | {result['database']} | {args.recipients:,} | serve + {args.workers} x "
              f"{args.concurrency} | {result['msg_per_s']:,.0f} | {result['cpu_us_per_msg']} | {result['peak_rss_mb_total']} MB "
              f"({', '.join(str(m) for m in result['peak_rss_mb_each'])}) |")
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2))
    finally:
        teardown(processes, sink, engine, pg, data_dir)


if __name__ == "__main__":
    main()
