#!/usr/bin/env python3
"""Pulsebox benchmark: one server process, real load generator, real HTTP.

    python bench/run.py                                  # SQLite, 1,000,000 contacts
    python bench/run.py --contacts 100000                # smaller
    python bench/run.py --database-url postgresql://postgres@127.0.0.1:5432/postgres

What it does (see bench/README.md):
  1. starts ``python -m pulsebox serve --port P`` with a fresh temporary PULSEBOX_DATA_DIR (SQLite) or
     a database it creates on the given PostgreSQL server (and drops at the end), API rate limits
     raised out of the way, one account made with ``pulsebox accounts create bench``, a token;
  2. GET /addressbooks/{id} with wrk (Lua script bench/wrk_report.lua): warm-up, then the measured run;
  3. POST /addressbooks/{id}/emails, N contacts with variables in requests of --batch, from
     --clients threads over persistent connections, bodies pre-built; checks .../emails/total == N;
  4. the GET benchmark again, on the now big list.
Prints a JSON summary and a Markdown table row. Needs wrk (``apt-get install -y wrk``).
Every load is bounded: wrk by --duration, the contact load by --max-seconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
LUA = HERE / "wrk_report.lua"
HIGH_LIMITS = "1000000/second;100000000/minute;1000000000/day"

try:
    import orjson

    def dumps(value: object) -> bytes:
        return orjson.dumps(value)
except ImportError:  # pragma: no cover - pulsebox depends on orjson; plain json still works
    def dumps(value: object) -> bytes:
        return json.dumps(value, separators=(",", ":")).encode()


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- machine and processes

def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu or platform.processor(), "python": platform.python_version(),
            "kernel": platform.release()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> list[int]:
    """pid's children, grandchildren, ... (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes (all their threads), in seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / tick


def system_busy_seconds() -> float:
    """Busy CPU seconds of the whole machine so far (all cores; /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def own_and_children_cpu() -> float:
    """CPU seconds of this process (client threads) and its waited-for children (wrk)."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class Meter:
    """CPU seconds used during a phase by the server, by us (client, wrk) and by everything else
    on the machine: 'other' well above zero means the figures were taken on a busy machine."""

    def __init__(self, server: Server, pg: PgDatabase | None = None) -> None:
        self.pids = server.pids()
        self.pg = pg
        self.db_start = self._db_cpu()
        self.start = (cpu_seconds(self.pids), own_and_children_cpu(), system_busy_seconds(), time.monotonic())

    def _db_cpu(self) -> dict[int, float]:
        return {pid: cpu_seconds([pid]) for pid in self.pg.backend_pids()} if self.pg else {}

    def stop(self) -> dict:
        server, own, busy, wall = (cpu_seconds(self.pids), own_and_children_cpu(), system_busy_seconds(),
                                   time.monotonic())
        server, own, busy, wall = (server - self.start[0], own - self.start[1], busy - self.start[2],
                                   wall - self.start[3])
        db = sum(cpu - self.db_start.get(pid, 0.0) for pid, cpu in self._db_cpu().items())
        out = {"server_cpu_s": round(server, 2), "client_cpu_s": round(own, 2)}
        if self.pg:
            out["postgres_cpu_s"] = round(db, 2)  # the backends serving the server's connections
        out.update({"other_cpu_s": round(max(0.0, busy - server - own - db), 2),
                    "machine_busy_pct": round(100 * busy / (wall * (os.cpu_count() or 1)), 1)})
        return out


class Server:
    """``python -m pulsebox serve`` in its own session, with its own data dir and database."""

    def __init__(self, args: argparse.Namespace, database_url: str | None) -> None:
        self.args = args
        self.port = args.port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data_dir = Path(tempfile.mkdtemp(prefix="pulsebox-bench-"))
        self.env = {**os.environ,
                    "PULSEBOX_DATA_DIR": str(self.data_dir),
                    "PULSEBOX_API_RATE_LIMITS": HIGH_LIMITS,
                    "PULSEBOX_MAX_SUBSCRIBERS": str(10 * max(args.contacts, 1000)),
                    "PULSEBOX_MAIL_URL": "capture://",
                    "PULSEBOX_LOG_LEVEL": "WARNING"}
        self.env.pop("PULSEBOX_REDIS_URL", None)
        if database_url:
            self.env["PULSEBOX_DATABASE_URL"] = database_url
        else:
            self.env.pop("PULSEBOX_DATABASE_URL", None)
        self.proc: subprocess.Popen | None = None
        self.log_path = self.data_dir / "server.log"

    def pulsebox(self, *argv: str) -> str:
        done = subprocess.run([sys.executable, "-m", "pulsebox", *argv], env=self.env, capture_output=True,
                              text=True, timeout=120, check=False)
        if done.returncode:
            raise SystemExit(f"pulsebox {' '.join(argv)} failed:\n{done.stderr}")
        return done.stdout

    def create_account(self) -> dict:
        out = self.pulsebox("accounts", "create", "bench", "--rate-limits", HIGH_LIMITS,
                            "--max-subscribers", str(10 * max(self.args.contacts, 1000)))
        return json.loads(out.strip().splitlines()[-1])

    def start(self) -> None:
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen([sys.executable, "-m", "pulsebox", "serve", "--port", str(self.port)],
                                     env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited ({self.proc.returncode}):\n{self.log_path.read_text()}")
            try:
                status, _ = request("GET", self.base + "/healthz", timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit("the server did not answer /healthz within 60 s")

    def pids(self) -> list[int]:
        return [self.proc.pid, *descendants(self.proc.pid)] if self.proc else []

    def worker_pid(self) -> int:
        """The process that runs the ASGI app (granian's worker; the serve process itself if none)."""
        for pid in descendants(self.proc.pid):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"python" in cmd or b"granian" in cmd or b"pulsebox" in cmd:
                return pid
        return self.proc.pid

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # our own session, started above
                self.proc.wait(timeout=10)
        if self.proc:
            self._log.close()
        if not self.args.keep:
            shutil.rmtree(self.data_dir, ignore_errors=True)


# ---------------------------------------------------------------- PostgreSQL database of our own

class PgDatabase:
    def __init__(self, admin_url: str) -> None:
        import psycopg

        self.psycopg = psycopg
        self.admin_url = admin_url
        self.name = f"pulsebox_bench_{os.getpid()}_{int(time.time())}"
        parsed = urllib.parse.urlsplit(admin_url)
        self.url = urllib.parse.urlunsplit(parsed._replace(path="/" + self.name))

    def _admin(self):
        return self.psycopg.connect(self.admin_url.replace("postgresql+psycopg://", "postgresql://"),
                                    autocommit=True)

    def create(self) -> None:
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')

    def size(self) -> int:
        with self._admin() as conn:
            return conn.execute("SELECT pg_database_size(%s)", (self.name,)).fetchone()[0]

    def analyze(self) -> None:
        with self.psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("ANALYZE")

    def backend_pids(self) -> list[int]:
        with self._admin() as conn:
            return [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.name,))]

    def setting(self, name: str) -> str:
        with self._admin() as conn:
            return conn.execute(f"SHOW {name}").fetchone()[0]

    def drop(self) -> None:
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


# ---------------------------------------------------------------- HTTP helpers

def request(method: str, url: str, body: bytes | None = None, token: str | None = None,
            timeout: float = 60) -> tuple[int, object]:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        try:
            return resp.status, json.loads(data) if data else None
        except ValueError:
            return resp.status, data[:200]
    finally:
        conn.close()


def checked(method: str, url: str, body: object = None, token: str | None = None) -> object:
    status, data = request(method, url, dumps(body) if body is not None else None, token)
    if status != 200:
        raise SystemExit(f"{method} {url} -> {status} {data!r}")
    return data


# ---------------------------------------------------------------- GET benchmark (wrk)

def wrk_run(args: argparse.Namespace, url: str, token: str, duration: float) -> dict:
    cmd = ["wrk", f"-t{args.wrk_threads}", f"-c{args.connections}", f"-d{duration:g}s", "--timeout", "10s",
           "-s", str(LUA), url]
    done = subprocess.run(cmd, env={**os.environ, "PB_TOKEN": token}, capture_output=True, text=True,
                          timeout=duration + 60, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if done.returncode or line is None:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    raw = json.loads(line[len("WRKJSON "):])
    seconds = raw["duration_us"] / 1e6
    errors = sum(raw[k] for k in ("errors_connect", "errors_read", "errors_write", "errors_status",
                                  "errors_timeout"))
    return {"requests": raw["requests"], "seconds": round(seconds, 2),
            "rps": round(raw["requests"] / seconds, 1), "errors": errors,
            "p50_ms": raw["p50_us"] / 1000, "p90_ms": raw["p90_us"] / 1000, "p99_ms": raw["p99_us"] / 1000,
            "p999_ms": raw["p999_us"] / 1000, "max_ms": raw["lat_max_us"] / 1000, "raw": raw}


class Profiler:
    """Optional ``py-spy record`` of the server worker around a phase (--profile DIR)."""

    def __init__(self, args: argparse.Namespace, server: Server, name: str, seconds: float) -> None:
        self.proc = None
        if not args.profile:
            return
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(spy).exists():
            raise SystemExit("--profile needs py-spy: pip install py-spy")
        out = Path(args.profile)
        out.mkdir(parents=True, exist_ok=True)
        pid = server.worker_pid()
        self.files = [out / f"{name}.txt", out / f"{name}.svg"]
        # Collapsed stacks (raw) for bench/profile_summary.py; render an SVG from them afterwards.
        self.proc = subprocess.Popen([spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "200",
                                      "--duration", str(int(seconds)), "--threads", "--nonblocking",
                                      "-o", str(self.files[0])],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait(self) -> None:
        if self.proc:
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGINT)
                self.proc.wait(timeout=30)


def get_benchmark(args: argparse.Namespace, server: Server, book_id: int, token: str, label: str,
                  pg: PgDatabase | None = None) -> dict:
    url = f"{server.base}/addressbooks/{book_id}"
    answer = checked("GET", url, token=token)
    assert isinstance(answer, list) and answer[0]["id"] == book_id, answer
    if args.warmup > 0:
        wrk_run(args, url, token, args.warmup)
    runs = []
    for i in range(args.repeat):
        meter = Meter(server, pg)
        spy = Profiler(args, server, f"get-{label}" + (f"-{i}" if i else ""), args.duration)
        run = wrk_run(args, url, token, args.duration)
        spy.wait()
        run.update(meter.stop())
        runs.append(run)
        log(f"GET {label}: {run['rps']:,.0f} req/s, p50 {run['p50_ms']:.2f} ms, p99 {run['p99_ms']:.2f} ms, "
            f"errors {run['errors']}, CPU s: server {run['server_cpu_s']} client+wrk {run['client_cpu_s']} "
            f"postgres {run.get('postgres_cpu_s', '-')} other {run['other_cpu_s']}")
    result = dict(sorted(runs, key=lambda r: r["rps"])[len(runs) // 2])  # the median run
    if len(runs) > 1:
        result["all_rps"] = [r["rps"] for r in runs]
    if result["errors"]:
        raise SystemExit(f"wrk saw {result['errors']} errors: {result['raw']}")
    return result


# ---------------------------------------------------------------- contact load

def build_bodies(total: int, batch: int) -> list[bytes]:
    epoch = dt.date(1950, 1, 1)
    bodies = []
    for start in range(0, total, batch):
        emails = []
        for i in range(start, min(start + batch, total)):
            emails.append({"email": f"user{i:07d}@d{i % 97}.bench.example.com",
                           "variables": {"name": f"User {i}", "age": 18 + i % 70,
                                         "birthday": (epoch + dt.timedelta(days=i % 20000)).isoformat()}})
        bodies.append(dumps({"emails": emails}))
    return bodies


def load_contacts(args: argparse.Namespace, server: Server, book_id: int, token: str,
                  pg: PgDatabase | None = None) -> dict:
    t0 = time.perf_counter()
    bodies = build_bodies(args.contacts, args.batch)
    log(f"built {len(bodies)} bodies ({sum(map(len, bodies)) / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f} s")
    path = f"/addressbooks/{book_id}/emails"
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    lock = threading.Lock()
    state = {"next": 0, "done": 0, "errors": [], "latencies": []}
    deadline = time.monotonic() + args.max_seconds

    def take() -> int | None:
        with lock:
            if state["errors"] or state["next"] >= len(bodies) or time.monotonic() > deadline:
                return None
            state["next"] += 1
            return state["next"] - 1

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
        try:
            while (index := take()) is not None:
                started = time.perf_counter()
                try:
                    conn.request("POST", path, body=bodies[index], headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                except (OSError, http.client.HTTPException) as exc:
                    with lock:
                        state["errors"].append(f"batch {index}: {exc!r}")
                    return
                elapsed = time.perf_counter() - started
                with lock:
                    if resp.status != 200 or b'"result":true' not in data.replace(b" ", b""):
                        state["errors"].append(f"batch {index}: {resp.status} {data[:200]!r}")
                        return
                    state["done"] += 1
                    state["latencies"].append(elapsed)
        finally:
            conn.close()

    meter = Meter(server, pg)
    spy = Profiler(args, server, "add-contacts", min(args.max_seconds, args.profile_seconds))
    threads = [threading.Thread(target=client, daemon=True) for _ in range(args.clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    last, progress, analyzed = 0.0, [], None
    while any(t.is_alive() for t in threads):
        for t in threads:
            t.join(timeout=1)
        with lock:
            done = min(state["done"] * args.batch, args.contacts)
        if pg and args.pg_analyze_after and analyzed is None and done >= args.pg_analyze_after:
            started = time.perf_counter()
            pg.analyze()  # what autovacuum's auto-analyze would have done by now
            analyzed = {"after_contacts": done, "seconds": round(time.perf_counter() - started, 2)}
            log(f"  ANALYZE after {done:,} contacts took {analyzed['seconds']} s")
        if time.perf_counter() - last >= 10:
            last = time.perf_counter()
            progress.append([round(last - t0), done])
            log(f"  {done:,} contacts after {last - t0:.0f} s")
    seconds = time.perf_counter() - t0
    spy.wait()
    cpu = meter.stop()
    if state["errors"]:
        raise SystemExit("contact load failed: " + "; ".join(state["errors"][:5]))
    loaded = min(state["done"] * args.batch, args.contacts)
    completed = state["done"] == len(bodies)
    if not completed:
        log(f"contact load stopped by --max-seconds {args.max_seconds}: {loaded:,} of {args.contacts:,} contacts")
    total = checked("GET", f"{server.base}/addressbooks/{book_id}/emails/total", token=token)
    ok = isinstance(total, dict) and total.get("total") == loaded
    lat = sorted(state["latencies"])
    result = {"contacts": loaded, "requested": args.contacts, "completed": completed, "batch": args.batch,
              "clients": args.clients, "seconds": round(seconds, 2), "contacts_per_s": round(loaded / seconds),
              "progress": progress, "analyze": analyzed,
              "request_p50_ms": round(lat[len(lat) // 2] * 1000, 1),
              "request_p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 1),
              **cpu, "total_reported": total, "total_ok": ok}
    log(f"contacts: {loaded:,} in {seconds:.1f} s = {result['contacts_per_s']:,}/s, "
        f"CPU s: server {cpu['server_cpu_s']} client {cpu['client_cpu_s']} "
        f"postgres {cpu.get('postgres_cpu_s', '-')} other {cpu['other_cpu_s']}, total {total}")
    if not ok:
        raise SystemExit(f"/emails/total answered {total!r}, expected {loaded}")
    # One contact read back, to see the variables were stored typed.
    sample = checked("GET", f"{server.base}/addressbooks/{book_id}/emails/user0000007%40d7.bench.example.com",
                     token=token)
    result["sample_contact"] = sample
    return result


# ---------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database-url", help="PostgreSQL admin URL, e.g. postgresql://postgres@127.0.0.1:5432/postgres; "
                                          "a database is created there and dropped afterwards (default: SQLite)")
    p.add_argument("--port", type=int, default=0, help="server port (default: a free one)")
    p.add_argument("--duration", type=float, default=10, help="seconds of each measured wrk run")
    p.add_argument("--warmup", type=float, default=2, help="seconds of wrk warm-up before each measured run")
    p.add_argument("--repeat", type=int, default=1, help="measured wrk runs per GET benchmark (the median is kept)")
    p.add_argument("--connections", type=int, default=64, help="wrk connections")
    p.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (1 leaves the other core to the server)")
    p.add_argument("--contacts", type=int, default=1_000_000, help="contacts to add (0: skip the load)")
    p.add_argument("--batch", type=int, default=1000, help="contacts per POST")
    p.add_argument("--clients", type=int, default=4, help="concurrent connections adding contacts")
    p.add_argument("--max-seconds", type=float, default=1800, help="give up the contact load after this long")
    p.add_argument("--pg-analyze-after", type=int, default=0, metavar="N",
                   help="PostgreSQL: run ANALYZE once N contacts are in (stands in for autovacuum's auto-analyze)")
    p.add_argument("--profile", metavar="DIR", help="py-spy record the server worker during each phase into DIR")
    p.add_argument("--profile-seconds", type=float, default=60, help="py-spy duration for the contact load")
    p.add_argument("--json", metavar="FILE", help="also write the JSON summary to FILE")
    p.add_argument("--keep", action="store_true", help="keep the temporary data dir (and print it)")
    args = p.parse_args(argv)

    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install -y wrk")

    pg = PgDatabase(args.database_url) if args.database_url else None
    if pg:
        pg.create()
        summary_pg = {"autovacuum": pg.setting("autovacuum"), "server_version": pg.setting("server_version"),
                      "synchronous_commit": pg.setting("synchronous_commit"),
                      "analyze_after": args.pg_analyze_after}
        if summary_pg["autovacuum"] != "on":
            log("note: this PostgreSQL runs with autovacuum off, so the planner never learns the table grew; "
                "see --pg-analyze-after")
    server = Server(args, pg.url if pg else None)
    summary: dict = {"date": dt.datetime.now().isoformat(timespec="seconds"), "machine": machine(),
                     "backend": "postgresql" if pg else "sqlite",
                     "wrk": {"threads": args.wrk_threads, "connections": args.connections,
                             "duration_s": args.duration, "warmup_s": args.warmup}}
    if pg:
        summary["postgresql"] = summary_pg
    busy0, t0 = system_busy_seconds(), time.monotonic()
    time.sleep(2)
    summary["machine_busy_pct_before"] = round(
        100 * (system_busy_seconds() - busy0) / ((time.monotonic() - t0) * (os.cpu_count() or 1)), 1)
    if summary["machine_busy_pct_before"] > 10:
        log(f"warning: the machine is {summary['machine_busy_pct_before']}% busy before the run; "
            "figures will be low and noisy")
    try:
        account = server.create_account()
        server.start()
        summary["server_pids"] = server.pids()
        log(f"server {server.base} pids {summary['server_pids']} data {server.data_dir}")
        token = checked("POST", server.base + "/oauth/access_token",
                        {"grant_type": "client_credentials", "client_id": account["client_id"],
                         "client_secret": account["client_secret"]})["access_token"]
        book_id = checked("POST", server.base + "/addressbooks", {"bookName": "bench"}, token)["id"]

        summary["get_empty_list"] = get_benchmark(args, server, book_id, token, "empty", pg)
        if args.contacts > 0:
            summary["add_contacts"] = load_contacts(args, server, book_id, token, pg)
            summary["get_big_list"] = get_benchmark(args, server, book_id, token, "big", pg)
        if pg:
            summary["database_bytes"] = pg.size()
        else:
            db = server.data_dir / "pulsebox.db"
            summary["database_bytes"] = sum(f.stat().st_size for f in db.parent.glob("pulsebox.db*"))
    finally:
        server.stop()
        if pg:
            pg.drop()
        if args.keep:
            log(f"kept {server.data_dir}")

    print(json.dumps(summary, indent=2, default=str))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2, default=str))
    print()
    print(markdown_row(summary))
    return 0


def markdown_row(summary: dict) -> str:
    g0, add, g1 = summary["get_empty_list"], summary.get("add_contacts"), summary.get("get_big_list")
    lat = lambda g: f"{g['p50_ms']:.2f} / {g['p99_ms']:.2f}" if g else "-"
    head = ("| date | backend | GET req/s (empty list) | p50 / p99 ms | contacts | load s | contacts/s "
            "| GET req/s (big list) | p50 / p99 ms |\n|---|---|---|---|---|---|---|---|---|\n")
    return head + (f"| {summary['date'][:10]} | {summary['backend']} | {g0['rps']:,.0f} | {lat(g0)} "
                   f"| {add['contacts'] if add else 0:,}{'' if not add or add['completed'] else ' (stopped)'} "
                   f"| {add['seconds'] if add else '-'} "
                   f"| {add['contacts_per_s'] if add else 0:,} | {g1['rps'] if g1 else 0:,.0f} | {lat(g1)} |")


if __name__ == "__main__":
    sys.exit(main())
