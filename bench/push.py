"""Web push throughput: one push task to N subscribers, from ``POST /push/tasks`` to the last push
accepted by a local push service on loopback, with the CPU and peak memory of every process.

    python bench/push.py [--subscribers 100000] [--workers 1] [--concurrency 4] [--database-url URL]
                         [--profile DIR]

1. A light push service starts in a process of its own (its CPU is not Pulsebox's): an HTTP/1.1
   keep-alive server on 127.0.0.1 (asyncio, a minimal parser, Content-Length bodies) that takes
   ``POST /wpush/<n>``, checks every push's ``TTL``, ``Content-Encoding: aes128gcm`` and
   ``Authorization: vapid t=..., k=...``, answers ``201 Created`` with a ``Location`` and counts each
   subscriber's pushes. A sample (the first ``--verify-first`` and one in ``--verify-every``) is
   verified in full: the body decrypted with the subscriber's key (``http_ece``), its title and body
   compared, the VAPID JWT's ES256 signature checked against ``k`` with its ``aud``, ``exp``, ``sub``.
   Verifying every push would cost the receiver more than the sender.
2. Not timed: a fresh data dir and database, ``pulsebox serve`` (API + its worker thread) and
   ``--workers`` extra ``pulsebox worker`` processes with ``PULSEBOX_PUSH_ALLOW_PRIVATE=true`` and
   ``PULSEBOX_PUSH_TASK_INTERVAL=0``; an account, a website (``POST /push/websites``) and N
   subscribers with endpoints ``http://127.0.0.1:<port>/wpush/<n>``. The first ``--via-route`` come
   through ``POST /push/subscribe`` (as a browser's snippet posts them); the rest are inserted into
   ``push_subscriptions`` directly, in batches, like the first one's row. Keys are P-256 pairs with a
   16-byte auth secret, one pair per ``--per-key`` subscribers (derived from a seed, so the push
   service knows them too): encrypting costs the same whichever key a row holds.
3. Timed: ``POST /push/tasks`` (``ttl`` 3600, ``stretch_time`` 0) until ``GET /push/tasks/{id}`` says
   the task is sent with ``send`` = N (asked every 0.2 s once the push service has counted N, every
   2 s before: the count reads every send of the task). **pushes/s** = N / seconds. Reported: CPU µs
   a push of each Pulsebox process, of the push service (and of PostgreSQL's backends), peak RSS of
   each Pulsebox process (sampled every 50 ms) and of their sum, and the CPU seconds everything else
   on the machine used meanwhile (this script's polling is a few: well above that, a busy run).
   Then every subscriber must have had exactly one push, every sampled push verified (signed with the
   website's VAPID key), every send recorded ``sent``; else the run fails.

Prints one JSON line and one Markdown row: | date | database | subscribers | processes x send threads
| pushes/s | Pulsebox CPU µs/push (each process) | push service CPU µs/push | peak RSS (each) | other CPU s |
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import http.client
import json
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from campaign import rss_kb  # noqa: E402
from run import (HIGH_LIMITS, checked, cpu_seconds, descendants, free_port, log, request,  # noqa: E402
                 system_busy_seconds)
from smtp import access_token, fresh_run, pulsebox, start_serve, teardown  # noqa: E402

SITE = "https://shop.example.com"
TITLE, BODY = "Summer sale", "Half price on everything until Sunday: come and see what is new in the shop."
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def subscriber_key(seed: str, group: int):  # noqa: ANN201 - (EllipticCurvePrivateKey, auth bytes)
    """The P-256 key pair and 16-byte auth secret of subscribers ``group * per_key ...``: derived
    from ``seed``, so the bench (which stores the public key) and the push service (which decrypts)
    agree without passing keys around."""
    from cryptography.hazmat.primitives.asymmetric import ec

    digest = hashlib.sha256(f"{seed}/key/{group}".encode()).digest()
    key = ec.derive_private_key(int.from_bytes(digest, "big") % (P256_ORDER - 1) + 1, ec.SECP256R1())
    return key, hashlib.sha256(f"{seed}/auth/{group}".encode()).digest()[:16]


def public_b64url(key) -> str:  # noqa: ANN001
    from cryptography.hazmat.primitives import serialization

    return b64url(key.public_key().public_bytes(serialization.Encoding.X962,
                                                serialization.PublicFormat.UncompressedPoint))


# ---------------------------------------------------------------- the push service (its own process)

class PushService:
    """What the push service counts and checks (one asyncio thread: no locks)."""

    def __init__(self, args: argparse.Namespace, port: int) -> None:
        self.args = args
        self.origin = f"http://127.0.0.1:{port}"
        self.seen = bytearray(args.subscribers)  # pushes per subscriber (saturates at 255)
        self.count = self.checked = self.rejected = self.verified = self.duplicates = self.unknown = 0
        self.connections = 0
        self.first = self.last = 0.0
        self.failures: list[str] = []  # the first reasons a push was refused or a sample failed
        self.keys: set[str] = set()  # the VAPID k= of the verified pushes
        self._subscriber_keys: dict[int, tuple] = {}

    def stats(self) -> bytes:
        return json.dumps({"count": self.count, "checked": self.checked, "rejected": self.rejected,
                           "verified": self.verified, "duplicates": self.duplicates, "unknown": self.unknown,
                           "reached": len(self.seen) - self.seen.count(0), "connections": self.connections,
                           "first": self.first, "last": self.last, "failures": self.failures,
                           "keys": sorted(self.keys)}).encode()

    def _refuse(self, status: int, why: str) -> tuple[int, bytes]:
        self.rejected += 1
        if len(self.failures) < 20:
            self.failures.append(f"{status} {why}")
        return status, why.encode()

    def push(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        """(status, body) of the answer to ``POST path``; a 201 is sent with a Location."""
        token = path[7:] if path.startswith("/wpush/") else ""
        if not token.isdigit() or int(token) >= len(self.seen):
            self.unknown += 1
            return self._refuse(404, f"no such subscription {path!r}")
        ttl = headers.get("ttl", "")
        if not ttl.isdigit():
            return self._refuse(400, f"TTL {ttl!r} is not a number of seconds (RFC 8030 section 5.2)")
        if headers.get("content-encoding", "").lower() != "aes128gcm":
            return self._refuse(415, f"Content-Encoding {headers.get('content-encoding')!r}, not aes128gcm")
        authorization = headers.get("authorization", "")
        if not authorization.lower().startswith("vapid ") or "t=" not in authorization or "k=" not in authorization:
            return self._refuse(401, f"Authorization {authorization[:40]!r} is not vapid t=..., k=...")
        if len(body) > 4096:
            return self._refuse(413, f"body of {len(body)} octets")
        n = int(token)
        self.checked += 1  # the pushes whose header fields passed: the sample is taken among them
        if self.checked <= self.args.verify_first or self.checked % self.args.verify_every == 0:
            why = self._verify(n, authorization, body)
            if why:
                return self._refuse(400, f"/wpush/{n}: {why}")
            self.verified += 1
        self.count += 1
        if self.seen[n]:
            self.duplicates += 1
        self.seen[n] = min(self.seen[n] + 1, 255)
        now = time.monotonic()
        self.first = self.first or now
        self.last = now
        return 201, b""

    def _verify(self, n: int, authorization: str, body: bytes) -> str | None:
        """Why the push is not a real one (None: it is): the payload decrypts with the subscriber's
        key to the task's notification, and the VAPID JWT verifies (RFC 8291, RFC 8292)."""
        import http_ece
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

        group = n // self.args.per_key
        if group not in self._subscriber_keys:
            self._subscriber_keys[group] = subscriber_key(self.args.seed, group)
        key, auth = self._subscriber_keys[group]
        try:
            payload = json.loads(http_ece.decrypt(body, private_key=key, auth_secret=auth, version="aes128gcm"))
        except Exception as error:  # noqa: BLE001 - http_ece raises several kinds
            return f"cannot decrypt: {error!r}"
        if payload.get("title") != TITLE or payload.get("body") != BODY or not payload.get("delivered"):
            return f"unexpected payload {payload!r}"
        params = dict(part.strip().partition("=")[::2] for part in authorization.split(" ", 1)[1].split(","))
        try:
            k = b64url_decode(params["k"])
            public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), k)
            head, claims, signature = params["t"].split(".")
            header, claims_json = json.loads(b64url_decode(head)), json.loads(b64url_decode(claims))
            raw = b64url_decode(signature)
            der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
            public.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
        except (KeyError, ValueError, InvalidSignature) as error:
            return f"VAPID: {error!r}"
        if header.get("alg") != "ES256" or claims_json.get("aud") != self.origin:
            return f"VAPID header {header} claims {claims_json}"
        if not time.time() < claims_json.get("exp", 0) <= time.time() + 86400:
            return f"VAPID exp {claims_json.get('exp')}"
        if not re.match(r"(mailto:|https:).+", str(claims_json.get("sub"))):
            return f"VAPID sub {claims_json.get('sub')!r}"
        self.keys.add(params["k"])
        return None


class Connection(asyncio.Protocol):
    """One keep-alive connection: requests parsed as they come (Content-Length bodies only)."""

    def __init__(self, service: PushService) -> None:
        self.service = service
        self.buffer = bytearray()
        self.head: tuple[str, str, dict[str, str], int] | None = None  # a request whose body is awaited
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.pushed = False  # counted in ``connections`` at its first push (not the bench's GET /stats)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.head is None:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    if len(self.buffer) > 65536:
                        self._answer(431, b"header too large", close=True)
                    return
                lines = self.buffer[:end].decode("latin-1").split("\r\n")
                del self.buffer[:end + 4]
                method, path, _ = (lines[0].split(" ", 2) + ["", ""])[:3]
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                if "transfer-encoding" in headers:
                    self._answer(411, b"Content-Length only", close=True)
                    return
                length = headers.get("content-length", "0")
                if not length.isdigit() or int(length) > 1 << 20:
                    self._answer(413, b"bad Content-Length", close=True)
                    return
                self.head = (method, path, headers, int(length))
            method, path, headers, length = self.head
            if len(self.buffer) < length:
                return
            body = bytes(self.buffer[:length])
            del self.buffer[:length]
            self.head = None
            close = headers.get("connection", "").lower() == "close"
            if method == "POST":
                if not self.pushed:
                    self.pushed = True
                    self.service.connections += 1
                status, text = self.service.push(path, headers, body)
            elif method == "GET" and path == "/stats":
                status, text = 200, self.service.stats()
            else:
                status, text = 405, b""
            self._answer(status, text, close=close,
                         location=f"/m/{self.service.count}" if status == 201 else None)
            if close:
                return

    def _answer(self, status: int, body: bytes, *, close: bool = False, location: str | None = None) -> None:
        reason = {200: "OK", 201: "Created"}.get(status, "Error")
        head = f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(body)}\r\n"
        if location:
            head += f"Location: {location}\r\n"
        if close:
            head += "Connection: close\r\n"
        self.transport.write(head.encode() + b"\r\n" + body)
        if close:
            self.transport.close()


def serve_push(args: argparse.Namespace) -> None:
    """The push service's process: listens on ``--port`` until killed; prints "ready" once it does."""
    async def main() -> None:
        service = PushService(args, args.port)
        server = await asyncio.get_running_loop().create_server(lambda: Connection(service), "127.0.0.1",
                                                                args.port, backlog=1024)
        print("ready", flush=True)
        async with server:
            await server.serve_forever()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    asyncio.run(main())


def start_push_service(args: argparse.Namespace, data_dir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve-push", "--port", str(port), "--seed", args.seed,
                             "--subscribers", str(args.subscribers), "--per-key", str(args.per_key),
                             "--verify-first", str(args.verify_first), "--verify-every", str(args.verify_every)],
                            stdout=subprocess.PIPE, stderr=(data_dir / "push-service.log").open("w"), text=True,
                            start_new_session=True)
    if proc.stdout.readline().strip() != "ready":
        raise SystemExit(f"the push service did not start: {(data_dir / 'push-service.log').read_text()}")
    return proc, f"http://127.0.0.1:{port}"


# ---------------------------------------------------------------- measuring processes

def labelled(roots: list[tuple[str, int]]) -> dict[int, str]:
    """Every Pulsebox process by pid: ``serve`` (granian's supervisor), ``serve/app`` (the server
    process it started, with the worker thread), ``worker1``, ..."""
    out = {}
    for name, pid in roots:
        out[pid] = name
        for i, child in enumerate(descendants(pid)):
            out[child] = f"{name}/app" if i == 0 else f"{name}/app{i + 1}"
    return out


# ---------------------------------------------------------------- the run

def add_subscribers(args: argparse.Namespace, base: str, endpoint_base: str, site: dict, engine) -> None:  # noqa: ANN001
    """The first ``--via-route`` through ``POST /push/subscribe``; the rest straight into the table,
    each row like the first one the route made (but its endpoint and keys)."""
    from sqlalchemy import func, insert, select

    from pulsebox.models import PushSubscription

    table = PushSubscription.__table__
    keys: dict[int, tuple[str, str]] = {}

    def keys_of(n: int) -> tuple[str, str]:
        group = n // args.per_key
        if group not in keys:
            key, auth = subscriber_key(args.seed, group)
            keys[group] = (public_b64url(key), b64url(auth))
        return keys[group]

    via_route = min(args.via_route, args.subscribers)
    for n in range(via_route):
        p256dh, auth = keys_of(n)
        status, answer = request("POST", base + "/push/subscribe", json.dumps({
            "appkey": site["appkey"], "subscription": {"endpoint": f"{endpoint_base}/wpush/{n}", "expirationTime": None,
                                                       "keys": {"p256dh": p256dh, "auth": auth}},
            "lang": "en", "browser": "Firefox", "os": "Linux", "url": f"{SITE}/"}).encode())
        if status != 200 or not answer.get("result"):
            raise SystemExit(f"POST /push/subscribe -> {status} {answer!r}")
    with engine.connect() as conn:
        template = dict(conn.execute(select(table).order_by(table.c.id).limit(1)).mappings().one())
    for name in ("id", "endpoint", "p256dh", "auth"):
        template.pop(name)
    batch = 10_000
    with engine.begin() as conn:
        for first in range(via_route, args.subscribers, batch):
            rows = []
            for n in range(first, min(first + batch, args.subscribers)):
                p256dh, auth = keys_of(n)
                rows.append({**template, "endpoint": f"{endpoint_base}/wpush/{n}", "p256dh": p256dh, "auth": auth})
            conn.execute(insert(table), rows)
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(table)
                             .where(table.c.website_id == site["id"], table.c.status == 1)).scalar()
    if total != args.subscribers:
        raise SystemExit(f"{total} active subscribers, not {args.subscribers}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=1, help="pulsebox worker processes beside serve")
    parser.add_argument("--concurrency", type=int, default=4, help="PULSEBOX_SEND_CONCURRENCY per process")
    parser.add_argument("--database-url", help="PostgreSQL server (a database is created and dropped)")
    parser.add_argument("--per-key", type=int, default=1000, help="subscribers sharing one P-256 key pair")
    parser.add_argument("--via-route", type=int, default=5, help="subscribers made through POST /push/subscribe")
    parser.add_argument("--verify-first", type=int, default=20, help="pushes the service verifies in full first")
    parser.add_argument("--verify-every", type=int, default=1000, help="then one push in this many")
    parser.add_argument("--max-seconds", type=float, default=1800)
    parser.add_argument("--profile", help="py-spy record of the first worker process (or serve's) into this folder")
    parser.add_argument("--profile-seconds", type=float, default=10)
    parser.add_argument("--json", help="also write the result here")
    parser.add_argument("--serve-push", action="store_true", help=argparse.SUPPRESS)  # the push service's process
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seed", default=secrets.token_hex(8), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_push:
        serve_push(args)
        return

    from sqlalchemy import create_engine, text

    data_dir, pg, database_url, port, env = fresh_run("push", args, {"PULSEBOX_PUSH_ALLOW_PRIVATE": "true",
                                                                     "PULSEBOX_PUSH_TASK_INTERVAL": "0"})
    processes: list[subprocess.Popen] = []
    service = profiler = None
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        service, service_url = start_push_service(args, data_dir)
        pulsebox(env, "migrate")
        account = json.loads(pulsebox(env, "accounts", "create", "bench", "--rate-limits", HIGH_LIMITS)
                             .strip().splitlines()[-1])
        processes.append(start_serve(env, data_dir, port))
        base = f"http://127.0.0.1:{port}"
        token = access_token(base, account)
        site = checked("POST", base + "/push/websites", {"url": SITE}, token)
        started = time.monotonic()
        add_subscribers(args, base, service_url, site, engine)
        info = checked("GET", f"{base}/push/websites/info/{site['id']}", None, token)
        if info["active_subscribers"] != args.subscribers:
            raise SystemExit(f"the website counts {info['active_subscribers']} active subscribers")
        log(f"{args.subscribers} subscribers added in {time.monotonic() - started:.1f} s "
            f"({min(args.via_route, args.subscribers)} through POST /push/subscribe)")
        for i in range(args.workers):
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "pulsebox", "worker"], env=env,
                stdout=(data_dir / f"worker{i + 1}.out").open("w"), stderr=(data_dir / f"worker{i + 1}.log").open("w"),
                start_new_session=True))
        # the workers are up (imports done, loop started) before the clock starts: on a busy machine
        # a fixed sleep was not enough
        deadline = time.monotonic() + 120
        while not all("worker running" in (data_dir / f"worker{i + 1}.out").read_text() for i in range(args.workers)):
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise SystemExit(f"the workers did not start: {(data_dir / 'worker1.log').read_text()}")
            time.sleep(0.1)
        time.sleep(0.5)

        names = labelled([("serve", processes[0].pid)]
                         + [(f"worker{i}", p.pid) for i, p in enumerate(processes[1:], 1)])
        stats_line = http.client.HTTPConnection("127.0.0.1", int(service_url.rpartition(":")[2]), timeout=10)

        def service_stats() -> dict:
            """What the push service counted so far (over one kept-alive connection)."""
            stats_line.request("GET", "/stats")
            return json.loads(stats_line.getresponse().read())

        cpu_before = {pid: cpu_seconds([pid]) for pid in names}
        service_before, busy_before = cpu_seconds([service.pid]), system_busy_seconds()
        pg_before = {pid: cpu_seconds([pid]) for pid in pg.backend_pids()} if pg else {}
        peaks: dict[int, int] = {}
        peak_total, asked, task = 0, 0.0, None
        started = time.monotonic()
        task_id = checked("POST", base + "/push/tasks", {"title": TITLE, "website_id": site["id"], "body": BODY,
                                                         "ttl": 3600, "stretch_time": 0}, token)["id"]
        while True:
            now = time.monotonic()
            sizes = {pid: rss_kb(pid) for pid in names}
            for pid, kb in sizes.items():
                peaks[pid] = max(peaks.get(pid, 0), kb)
            peak_total = max(peak_total, sum(sizes.values()))
            counted = service_stats()
            if args.profile and profiler is None and counted["count"]:  # from the first push: the pumps at work
                target = processes[1].pid if args.workers else next(p for p, n in names.items() if n == "serve/app")
                Path(args.profile).mkdir(parents=True, exist_ok=True)
                out = Path(args.profile) / f"push-{'worker1' if args.workers else 'serve'}.txt"
                profiler = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "-p", str(target),
                                             "-d", str(int(args.profile_seconds)), "-r", "200", "--gil", "-f", "raw",
                                             "-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            # GET /push/tasks/{id} counts every send of the task: asked often only at the end
            if now - asked >= (0.2 if counted["count"] >= args.subscribers else 2.0):
                asked = now
                task = checked("GET", f"{base}/push/tasks/{task_id}", None, token)
                if task["status"] == 3:
                    break
            if now - started > args.max_seconds:
                raise SystemExit(f"not finished after {args.max_seconds} s: {task}, push service {counted}")
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        used = {pid: cpu_seconds([pid]) - cpu_before[pid] for pid in names}
        service_cpu = cpu_seconds([service.pid]) - service_before
        # PostgreSQL's backends (on these two cores too); one opened during the run counts whole
        pg_cpu = sum(cpu_seconds([pid]) - pg_before.get(pid, 0.0) for pid in pg.backend_pids()) if pg else 0.0
        other_cpu = system_busy_seconds() - busy_before - sum(used.values()) - service_cpu - pg_cpu
        stats = service_stats()
        with engine.connect() as conn:
            outcomes = dict(conn.execute(text("SELECT status, count(*) FROM push_sends WHERE task_id = :t "
                                              "GROUP BY status"), {"t": task_id}).all())
        problems = []
        if int(task["send"]) != args.subscribers or outcomes != {"sent": args.subscribers}:
            problems.append(f"task {task}, sends {outcomes}")
        if stats["reached"] != args.subscribers or stats["duplicates"] or stats["rejected"] or stats["failures"]:
            problems.append(f"push service {stats}")
        expected_verified = min(args.verify_first, args.subscribers) + max(
            0, args.subscribers // args.verify_every - args.verify_first // args.verify_every)
        if stats["verified"] != expected_verified or stats["keys"] != [site["vapid_public_key"]]:
            problems.append(f"verified {stats['verified']} of {expected_verified} sampled pushes, VAPID keys "
                            f"{stats['keys']} (the website's: {site['vapid_public_key']})")
        if problems:
            raise SystemExit("the run is not valid: " + "; ".join(problems))
        n = args.subscribers
        per_push = {names[pid]: round(u / n * 1e6) for pid, u in sorted(used.items(), key=lambda kv: names[kv[0]])}
        result = {"date": time.strftime("%Y-%m-%d"), "database": "postgresql" if pg else "sqlite",
                  "subscribers": n, "workers": f"serve + {args.workers}", "concurrency": args.concurrency,
                  "seconds": round(elapsed, 2), "pushes_per_s": round(n / elapsed, 1),
                  "first_push_s": round(stats["first"] - started, 3), "last_push_s": round(stats["last"] - started, 2),
                  "cpu_us_per_push": round(sum(used.values()) / n * 1e6), "cpu_us_per_push_each": per_push,
                  "push_service_cpu_us_per_push": round(service_cpu / n * 1e6),
                  **({"postgresql_cpu_us_per_push": round(pg_cpu / n * 1e6)} if pg else {}),
                  "push_service_connections": stats["connections"], "verified_pushes": stats["verified"],
                  "other_cpu_s": round(other_cpu, 1),
                  "peak_rss_mb_total": round(peak_total / 1024, 1),
                  "peak_rss_mb_each": {names[pid]: round(kb / 1024, 1) for pid, kb in
                                       sorted(peaks.items(), key=lambda kv: names[kv[0]])}}
        if profiler is not None:
            profiler.wait(timeout=args.profile_seconds + 60)
            result["profile"] = str(out)
        print(json.dumps(result))
        print(f"| {result['date']} | {result['database']} | {n:,} | serve + {args.workers} x {args.concurrency} | "
              f"{result['pushes_per_s']:,.0f} | {result['cpu_us_per_push']} "
              f"({', '.join(f'{k} {v}' for k, v in per_push.items())}) | {result['push_service_cpu_us_per_push']} | "
              f"{result['peak_rss_mb_total']} MB ({', '.join(str(v) for v in result['peak_rss_mb_each'].values())}) | "
              f"{result['other_cpu_s']} |")
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2))
    finally:
        if profiler is not None and profiler.poll() is None:
            profiler.wait(timeout=args.profile_seconds + 60)
        teardown(processes + ([service] if service else []), None, engine, pg, data_dir)


if __name__ == "__main__":
    main()
