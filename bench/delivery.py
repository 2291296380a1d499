"""Delivery throughput of the smtp:// relay transport into postfix's smtp-sink on loopback.

    apt-get install -y postfix        # only the smtp-sink binary is used; no mail server is started
    python bench/delivery.py [--messages 20000] [--threads 2] [--pool 2]

Each message is built with delivery/message.py inside the timed loop (html + text, personalised
subject), then handed to SmtpRelayTransport from --threads sender threads over --pool persistent
connections. Bounded by --messages and --max-seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import threading
import time

from pulsebox.delivery.message import Address, Mail, build
from pulsebox.delivery.transports.smtp import SmtpRelayTransport

HTML = "<html><body><p>Hello {name}, the news of the month.</p>" + "<p>lorem ipsum dolor sit amet</p>" * 40 + "</body></html>"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--pool", type=int, default=2)
    parser.add_argument("--max-seconds", type=float, default=120)
    args = parser.parse_args()
    sink_binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    port = free_port()
    user = ["-u", "postfix"] if os.geteuid() == 0 else []  # smtp-sink refuses to keep root privileges
    sink = subprocess.Popen([sink_binary, *user, f"127.0.0.1:{port}", "1024"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit(f"smtp-sink did not start: {sink.stderr.read().decode(errors='replace')}")
        transport = SmtpRelayTransport(f"smtp://127.0.0.1:{port}?tls=none&pool={args.pool}")
        counter = iter(range(args.messages))
        lock = threading.Lock()
        sent = errors = 0
        first_error: list[str] = []
        deadline = time.monotonic() + args.max_seconds

        def sender() -> None:
            nonlocal sent, errors
            while time.monotonic() < deadline:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                rcpt = f"user{n}@example.com"
                raw = build(Mail(Address("news@shop.example", "Shop"), [Address(rcpt, f"User {n}")],
                                 f"News for user {n}", html=HTML.format(name=f"User {n}")))
                try:
                    transport.send("bounce@shop.example", [rcpt], raw)
                    with lock:
                        sent += 1
                except Exception as exc:  # noqa: BLE001 - counted, reported
                    with lock:
                        errors += 1
                        first_error[:] = first_error or [repr(exc)]

        start = time.perf_counter()
        threads = [threading.Thread(target=sender) for _ in range(args.threads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
        transport.close()
    finally:
        sink.terminate()
        sink.wait(5)
    result = {"messages": sent, "errors": errors, "seconds": round(elapsed, 2), "per_second": round(sent / elapsed),
              "threads": args.threads, "pool": args.pool, "connections_opened": transport.connections_opened,
              "first_error": first_error[0] if first_error else None}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
