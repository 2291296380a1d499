"""Admin UI page times on a 1,000,000-contact account: every GET page of ``/ui``, timed over loopback
against a real ``pulsebox serve`` process (issue 12: under 200 ms at the median, no page above 1 s).

    python bench/ui.py [--contacts 1000000] [--copies 100000] [--transactional 20000] [--runs 20]
                       [--cache DIR] [--database-url URL] [--only SUBSTRING] [--profile FILE] [--json FILE]

1. Seeding (minutes; ``--cache DIR`` keeps the seeded data dir, and on PostgreSQL the seeded database,
   and reuses them while the sizes asked are the same: each run then starts from a copy). One account;
   rows first made through the API (so they are what the code writes), then, where there are many,
   cloned in bulk with ``INSERT ... SELECT`` from the first one:
   - lists: "Everyone" (``--contacts``, with ``name``, ``age``, ``city`` and ``birthday`` variables,
     2 % unsubscribed), "Customers" (``--copies`` contacts, the first addresses of Everyone's), "VIP" (50)
     and "Trial" (500) through the API, "Imported" (1,000 rows of a CSV through the UI's own import);
     a segment of Everyone (age > 60 and city Kyiv);
   - campaigns: one to Customers sent for real by the worker (``capture://``: every copy stored, as the
     inbox shows them), then dated 8 days back, with opens (30 %), clicks (8 %), hard bounces (1 %),
     complaints (0.1 %) and unsubscribes (0.5 %) spread over the days after it; one to VIP (sent), one
     scheduled to Everyone next week, one scheduled to the segment, a draft;
   - ``--transactional`` messages through ``POST /smtp/emails`` (one to three copies each), sent;
   - webhooks (``delivered`` and ``open`` of the email service, one of the SMTP service) posting to a
     receiver in this process: the campaign's delivered events give their log;
   - 5 senders, 30 templates, 10,000 blacklisted and 5,000 unsubscribed addresses; a web push website
     with 50,000 subscribers (the first through ``POST /push/subscribe``) and a push task scheduled.
   On PostgreSQL an ``ANALYZE`` follows, and each run's copy gets a ``VACUUM ANALYZE`` after its migrations
   (what autovacuum, off on this server, does to a database at rest); SQLite gets none (Pulsebox runs none).
2. ``pulsebox migrate`` (a cached database gets the migrations added since), ``pulsebox serve`` (API and
   its worker, ``capture://``), a sign-in through the form (its CSRF token), then every GET route of
   ``pulsebox.app.ROUTES`` under ``/ui`` (static files aside), its path parameters filled from the seeded
   rows (``FILLERS``: a route whose parameter has no filler is printed "skipped: no filler for <path>"),
   plus the query variants that matter (``VARIANTS``). Each page once to warm up, then ``--runs`` times
   one after another on one kept-alive connection: the time from sending the request to the last byte
   of the answer read (a download's to its first byte, the whole beside). Prints a Markdown table
   (median, p95, max in ms, status, bytes) and a JSON line.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import http.client
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import DateTime, bindparam, create_engine, text

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from campaign import Receiver  # noqa: E402
from push import b64url, public_b64url, subscriber_key  # noqa: E402
from run import HIGH_LIMITS, checked, descendants, free_port, log, request  # noqa: E402
from smtp import HTML, access_token, pulsebox, start_serve  # noqa: E402

from pulsebox.models.books import value_block, value_keys  # noqa: E402

SEED_VERSION = 3  # bump when the seed changes: a cache of another version is seeded again
CITIES = ("Kyiv", "Lviv", "Odesa", "Dnipro", "Kharkiv", "Warsaw", "Berlin", "Paris")
DOMAINS = ("example.com", "mail.example", "post.example", "inbox.example", "corp.example")
COUNTRIES = ("Ukraine", "Poland", "Germany", "France", "United States", "")


# ---------------------------------------------------------------- SQL that both backends run

def pg(engine) -> bool:  # noqa: ANN001
    return engine.dialect.name == "postgresql"


def series(engine, first: int, last: int) -> str:  # noqa: ANN001
    """A FROM item of the integers first..last as ``n.i``."""
    if pg(engine):
        return f"generate_series({first}, {last}) AS n(i)"
    return (f"(WITH RECURSIVE s(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM s WHERE i < {last}) "
            f"SELECT i FROM s) AS n")


def as_json(engine, expr: str) -> str:  # noqa: ANN001
    return f"CAST({expr} AS JSON)" if pg(engine) else expr


def txt(expr: str) -> str:
    return f"CAST({expr} AS VARCHAR(40))"


def case(expr: str, values: tuple[str, ...]) -> str:
    whens = " ".join(f"WHEN {i} THEN '{v}'" for i, v in enumerate(values))
    return f"(CASE ({expr}) % {len(values)} {whens} END)"


def email_of(i: str) -> str:
    """Contact i's address: reader<i>@<one of DOMAINS> (reader0@example.com is the first, made by the API)."""
    return f"'reader' || {txt(i)} || '@' || {case(i, DOMAINS)}"


def variables_of(i: str) -> str:
    """Contact i's variables as compact JSON, as the API stores them."""
    return ("'{\"name\":\"Reader ' || " + txt(i) + " || '\",\"age\":' || " + txt(f"18 + ({i} * 7) % 70")
            + " || ',\"city\":\"' || " + case(i, CITIES) + " || '\",\"birthday\":\"' || "
            + txt(f"1950 + {i} % 50") + " || '-0' || " + txt(f"1 + {i} % 9") + " || '-' || "
            + txt(f"10 + {i} % 19") + " || '\"}'")


def first_variables(i: int) -> dict:
    """The same variables, for the contact the API adds (it declares the variables' types)."""
    return {"name": f"Reader {i}", "age": 18 + (i * 7) % 70, "city": CITIES[i % len(CITIES)],
            "birthday": f"{1950 + i % 50}-0{1 + i % 9}-{10 + i % 19}"}


def clone_contacts(engine, template_id: int, book_id: int, first: int, last: int) -> None:  # noqa: ANN001
    """Contacts first..last of the book, each like the template row (made by the API) but its address and
    variables; 2 % Unsubscribed (4), 1 % New (0). Then the book's counters, as the code keeps them."""
    step = 200_000
    for start in range(first, last + 1, step):
        with engine.begin() as conn:
            conn.execute(text(
                f"INSERT INTO contacts (account_id, book_id, email, status, phone, variables, source, added_at) "
                f"SELECT t.account_id, t.book_id, {email_of('n.i')}, "
                f"CASE WHEN n.i % 50 = 7 THEN 4 WHEN n.i % 100 = 3 THEN 0 ELSE t.status END, t.phone, "
                f"{as_json(engine, variables_of('n.i'))}, t.source, t.added_at "
                f"FROM {series(engine, start, min(last, start + step - 1))}, contacts t WHERE t.id = :template"),
                {"template": template_id})
    add_value_keys(engine, book_id)
    with engine.begin() as conn:
        conn.execute(text(
            "UPDATE books SET all_email_qty = (SELECT count(*) FROM contacts c WHERE c.book_id = books.id), "
            "active_email_qty = (SELECT count(*) FROM contacts c WHERE c.book_id = books.id AND c.status IN (0, 1)) "
            "WHERE id = :book"), {"book": book_id})


def add_value_keys(engine, book_id: int) -> None:  # noqa: ANN001
    """The value keys of the book's contacts cloned by SQL (the code writes them with each contact),
    computed as the code computes them; the API's first contact has its keys already."""
    after = 0
    while True:
        with engine.begin() as conn:
            batch = conn.execute(text("SELECT id, variables FROM contacts WHERE book_id = :b AND id > :after "
                                      "ORDER BY id LIMIT 50000"), {"b": book_id, "after": after}).all()
            if not batch:
                return
            rows = [{"b": book_id, "k": key, "c": cid, "block": value_block(cid)} for cid, variables in batch
                    for key in value_keys(json.loads(variables) if isinstance(variables, str) else variables)]
            conn.execute(text("INSERT INTO contact_values (book_id, block, key, contact_id) "
                              "VALUES (:b, :block, :k, :c) ON CONFLICT DO NOTHING"), rows)
            after = batch[-1][0]


# ---------------------------------------------------------------- the API and the UI as a client

class Api:
    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token

    def __call__(self, method: str, path: str, body: object = None) -> object:
        return checked(method, self.base + path, body, self.token)


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


class Browser:
    """A signed-in browser on one kept-alive connection: cookies kept, forms posted with their CSRF token."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookies: dict[str, str] = {}
        self.first_byte_ms = 0.0  # of the last request

    def send(self, method: str, path: str, body: bytes | None = None,
             content_type: str = "application/x-www-form-urlencoded") -> tuple[int, bytes, dict]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        if body is not None:
            headers["Content-Type"] = content_type
        for attempt in range(2):
            try:
                started = time.perf_counter()
                self.conn.request(method, path, body=body, headers=headers)
                answer = self.conn.getresponse()  # the status line and headers: the answer's first bytes
                self.first_byte_ms = (time.perf_counter() - started) * 1000
                data = answer.read()
                break
            except (http.client.HTTPException, ConnectionError):
                if attempt:
                    raise
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        for name, value in answer.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                cookie = rest.split(";", 1)[0]
                if cookie in ('""', "") or "max-age=0" in value.lower():
                    self.cookies.pop(key, None)
                else:
                    self.cookies[key] = cookie
        return answer.status, data, dict(answer.getheaders())

    @staticmethod
    def csrf(page: bytes) -> str:
        found = re.search(rb'name="csrf" value="([^"]+)"', page)
        if not found:
            raise SystemExit("no CSRF token on the page")
        return found[1].decode()

    def sign_in(self, who: str, secret: str) -> None:
        status, page, _ = self.send("GET", "/ui/signin")
        form = urllib.parse.urlencode({"csrf": self.csrf(page), "account": who, "secret": secret}).encode()
        status, _, _ = self.send("POST", "/ui/signin", form)
        if status != 303 or "pulsebox_ui" not in self.cookies:
            raise SystemExit(f"sign-in failed: {status}")

    def upload(self, path: str, fields: dict[str, str], filename: str, data: bytes) -> tuple[int, dict]:
        boundary = uuid.uuid4().hex
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                 for k, v in fields.items()]
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                     f"Content-Type: text/csv\r\n\r\n".encode() + data + b"\r\n")
        status, _, headers = self.send("POST", path, b"".join(parts) + f"--{boundary}--\r\n".encode(),
                                       f"multipart/form-data; boundary={boundary}")
        return status, headers


# ---------------------------------------------------------------- seeding

def wait_for(what: str, done, seconds: float = 1800) -> None:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: not done after {seconds} s")
        time.sleep(0.5)


def one(engine, sql: str, **params) -> object:  # noqa: ANN001, ANN003
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def seed(args: argparse.Namespace, env: dict, data_dir: Path, engine) -> dict:  # noqa: ANN001, C901
    """Everything the pages show (see the module's docstring); the ids the pages are filled with."""
    started = time.monotonic()
    pulsebox(env, "migrate")
    account = json.loads(pulsebox(env, "accounts", "create", "bench-ui", "--rate-limits", HIGH_LIMITS,
                                  "--email-quota", "100000000", "--max-subscribers", "100000000",
                                  "--campaigns-per-hour", "1000", "--same-list-interval", "0",
                                  "--send-rate", "off").strip().splitlines()[-1])
    receiver = Receiver()
    port = free_port()
    env = {**env, "PULSEBOX_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    server = start_serve(env, data_dir, port)
    try:
        base = f"http://127.0.0.1:{port}"
        api = Api(base, access_token(base, account))
        ids: dict = {"account": account}
        # lists: the first contact of each big one through the API (declaring the variables), the rest cloned
        for key, name in (("everyone", "Everyone"), ("customers", "Customers"), ("vip", "VIP"), ("trial", "Trial"),
                          ("imported", "Imported")):
            ids[key] = api("POST", "/addressbooks", {"bookName": name})["id"]
        for key, size in (("everyone", args.contacts), ("customers", args.copies)):
            api("POST", f"/addressbooks/{ids[key]}/emails",
                {"emails": [{"email": "reader0@example.com", "variables": first_variables(0)}]})
            template = one(engine, "SELECT id FROM contacts WHERE book_id = :b", b=ids[key])
            clone_contacts(engine, template, ids[key], 1, size - 1)
            log(f"{key}: {size:,} contacts ({time.monotonic() - started:.0f} s)")
        for key, first, size in (("vip", 5_000_000, 50), ("trial", 6_000_000, 500)):
            api("POST", f"/addressbooks/{ids[key]}/emails", {"emails": [
                {"email": f"reader{i}@example.com", "variables": first_variables(i)} for i in range(first, first + size)]})
        ids["segment"] = api("POST", f"/addressbooks/{ids['everyone']}/segments", {
            "name": "Kyiv, over 60", "operator": "and", "filters": [
                {"variable_name": "age", "operator": "and", "conditions": [{"condition": "greaterthan", "value": 60}]},
                {"variable_name": "city", "operator": "and", "conditions": [{"condition": "equal", "value": "Kyiv"}]}]
        })["id"]
        # what an account has around its lists
        for i in range(5):
            api("POST", "/senders", {"email": f"shop{i}@shop.example", "name": f"Shop {i}"})
        ids["templates"] = [api("POST", "/template", {"name": f"Template {i}", "lang": "en",
                                                      "body": b64(HTML.replace("Your order", f"Template {i}"))})["real_id"]
                            for i in range(30)]
        for first in range(0, 10_000, 1000):
            api("POST", "/blacklist", {"emails": b64(",".join(f"black{i}@spam.example"
                                                               for i in range(first, first + 1000))), "comment": "bench"})
        for first in range(0, 5_000, 1000):
            api("POST", "/smtp/unsubscribe", {"emails": [{"email": f"gone{i}@example.com", "comment": "bench"}
                                                         for i in range(first, first + 1000)]})
        hooks = api("POST", "/v2/email-service/webhook", {"url": receiver.url, "actions": ["delivered", "open"]})
        ids["webhook"] = hooks["data"][0]["id"]
        api("POST", "/v2/email-service/webhook", {"url": receiver.url, "actions": ["delivered"], "service": "smtp"})
        seed_push(api, base, engine, ids)
        log(f"lists, segment, senders, templates, blacklist, unsubscribes, webhooks, push "
            f"({time.monotonic() - started:.0f} s)")

        # campaigns: the big one sent for real (every copy captured), then its history
        body = b64(HTML.replace("Your order {{number}}", "Hello {{name}}"))
        ids["campaign"] = api("POST", "/campaigns", {"sender_name": "Shop", "sender_email": "shop0@shop.example",
                                                     "subject": "Autumn sale, {{name}}", "body": body,
                                                     "list_id": ids["customers"], "name": "Autumn sale"})["id"]
        wait_for("the big campaign", lambda: one(engine, "SELECT status FROM campaigns WHERE id = :c",
                                                 c=ids["campaign"]) == 3)
        log(f"campaign of {args.copies:,} copies sent ({time.monotonic() - started:.0f} s)")
        history(engine, ids["campaign"])
        ids["small_campaign"] = api("POST", "/campaigns", {
            "sender_name": "Shop", "sender_email": "shop0@shop.example", "subject": "VIP news", "body": body,
            "list_id": ids["vip"], "name": "VIP news"})["id"]
        next_week = (dt.datetime.now(dt.UTC) + dt.timedelta(days=7)).strftime("%Y-%m-%d %H:%M:%S")
        ids["scheduled_campaign"] = api("POST", "/campaigns", {
            "sender_name": "Shop", "sender_email": "shop0@shop.example", "subject": "Next week", "body": body,
            "list_id": ids["everyone"], "name": "Next week", "send_date": next_week})["id"]
        api("POST", "/campaigns", {"sender_name": "Shop", "sender_email": "shop0@shop.example", "subject": "Kyiv",
                                   "body": body, "list_id": ids["everyone"], "segment_id": ids["segment"],
                                   "name": "Kyiv seniors", "send_date": next_week})
        ids["draft_campaign"] = api("POST", "/campaigns", {
            "sender_name": "Shop", "sender_email": "shop0@shop.example", "subject": "Draft", "body": body,
            "list_id": ids["trial"], "type": "draft", "name": "Draft"})["id"]
        ids["attached"] = seed_transactional(args, api, engine)
        log(f"{args.transactional:,} transactional messages sent ({time.monotonic() - started:.0f} s)")
        wait_for("the VIP campaign", lambda: one(engine, "SELECT status FROM campaigns WHERE id = :c",
                                                 c=ids["small_campaign"]) == 3)
        wait_for("the webhooks' events", lambda: receiver.events >= args.copies, 600)
        seed_import(port, account, ids)
        ids.update(pick(engine, ids))
    finally:
        server.terminate()
        server.wait(timeout=30)
        receiver.server.shutdown()
    if pg(engine):
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    log(f"seeded in {time.monotonic() - started:.0f} s")
    return ids


def seed_push(api: Api, base: str, engine, ids: dict) -> None:  # noqa: ANN001
    """A website, 50,000 subscribers (the first through the browsers' route, the rest like it), a task."""
    site = api("POST", "/push/websites", {"url": "https://shop.example"})
    ids["website"] = site["id"]
    appkey = one(engine, "SELECT appkey FROM push_websites WHERE id = :w", w=site["id"])
    private, auth = subscriber_key("bench-ui", 0)
    status, answer = request("POST", base + "/push/subscribe", json.dumps({
        "appkey": appkey, "subscription": {"endpoint": "https://push.example/wpush/0", "expirationTime": None,
                                           "keys": {"p256dh": public_b64url(private), "auth": b64url(auth)}},
        "lang": "en", "browser": "Firefox", "os": "Linux", "url": "https://shop.example/"}).encode())
    if status != 200:
        raise SystemExit(f"POST /push/subscribe -> {status} {answer!r}")
    columns = [c for c in column_names(engine, "push_subscriptions") if c not in ("id", "endpoint")]
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO push_subscriptions (endpoint, {', '.join(columns)}) "
                          f"SELECT 'https://push.example/wpush/' || {txt('n.i')}, {', '.join('t.' + c for c in columns)} "
                          f"FROM {series(engine, 1, 49_999)}, push_subscriptions t WHERE t.website_id = :w"),
                     {"w": site["id"]})
    ids["push_task"] = api("POST", "/push/tasks", {"title": "Sale", "website_id": site["id"], "body": "Half price",
                                                   "ttl": 3600, "send_date": "2099-01-01 00:00:00"})["id"]


def column_names(engine, table: str) -> list[str]:  # noqa: ANN001
    with engine.connect() as conn:
        return list(conn.execute(text(f"SELECT * FROM {table} LIMIT 1")).keys())


def history(engine, campaign_id: int) -> None:  # noqa: ANN001
    """The big campaign as if sent 8 days ago, and what came back since: opens, clicks, bounces,
    complaints, unsubscribes, rows like the code writes (``outbox.repository.add_event``, ``add_bounce``)."""
    with engine.connect() as conn:
        message_id = conn.execute(text("SELECT message_id FROM campaigns WHERE id = :c"), {"c": campaign_id}).scalar()
        account_id, copies = conn.execute(text("SELECT account_id, count(*) FROM deliveries WHERE message_id = :m "
                                               "GROUP BY account_id"), {"m": message_id}).one()
        rows = conn.execute(text("SELECT id, email FROM deliveries WHERE message_id = :m ORDER BY id"),
                            {"m": message_id}).all()
    sent = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=8)
    stamp = bindparam("t", type_=DateTime())
    rnd = random.Random(12)
    events, bounces, opened, clicked, bounced, complained = [], [], [], [], [], []
    links = ["https://shop.example/orders/1", "https://shop.example/help", "https://shop.example/account?x=1&y=2"]
    for n, (delivery_id, email) in enumerate(rows):
        at = sent + dt.timedelta(minutes=5 + rnd.random() * 60 * 24 * 7.5)
        base = {"account_id": account_id, "delivery_id": delivery_id, "ip": f"203.0.113.{n % 250}",
                "country": COUNTRIES[n % len(COUNTRIES)], "browser": "Firefox 120", "os": "Linux", "created_at": at}
        if n % 10 < 3:
            events.append({**base, "kind": "open", "link": 0, "url": None})
            opened.append(delivery_id)
        if n % 100 < 8:
            link = n % 3
            events.append({**base, "kind": "click", "link": link, "url": links[link],
                           "created_at": at + dt.timedelta(seconds=30)})
            clicked.append(delivery_id)
        if n % 200 == 11:
            events.append({**base, "kind": "unsubscribe", "link": 0, "url": None,
                           "created_at": at + dt.timedelta(seconds=60)})
        if n % 100 == 57:
            bounced.append(delivery_id)
            bounces.append({"account_id": account_id, "delivery_id": delivery_id, "email": email, "kind": "hard",
                            "status": "5.1.1", "smtp_code": 550, "diagnostic": "550 5.1.1 No such user",
                            "source": "dsn", "created_at": sent + dt.timedelta(minutes=n % 600)})
        elif n % 1000 == 93:
            complained.append(delivery_id)
            bounces.append({"account_id": account_id, "delivery_id": delivery_id, "email": email, "kind": "complaint",
                            "status": "", "smtp_code": None, "diagnostic": "abuse report", "source": "arf",
                            "created_at": at})
    with engine.begin() as conn:
        conn.execute(text("UPDATE deliveries SET sent_at = :t, updated_at = :t WHERE message_id = :m")
                     .bindparams(stamp), {"t": sent, "m": message_id})
        conn.execute(text("UPDATE outbox_messages SET created_at = :t WHERE id = :m").bindparams(stamp),
                     {"t": sent, "m": message_id})
        conn.execute(text("UPDATE campaigns SET created_at = :t, send_date = :t, finished_at = :t WHERE id = :c")
                     .bindparams(stamp), {"t": sent, "c": campaign_id})
        insert_rows(conn, "tracking_events", events)
        insert_rows(conn, "bounces", bounces)
        for ids, sql in ((opened, "UPDATE deliveries SET opens = 1 WHERE id IN ({})"),
                         (clicked, "UPDATE deliveries SET clicks = clicks + 1 WHERE id IN ({})"),
                         (bounced, "UPDATE deliveries SET status = 'bounced', reason = 'bounce 5.1.1' WHERE id IN ({})"),
                         (complained, ("UPDATE deliveries SET status = 'complained', reason = 'spam complaint' "
                                       "WHERE id IN ({})"))):
            for i in range(0, len(ids), 500):
                conn.execute(text(sql.format(", ".join(str(x) for x in ids[i:i + 500]))))
    log(f"history of {copies:,} copies: {len(opened):,} opened, {len(clicked):,} clicked, {len(bounced):,} bounced, "
        f"{len(complained):,} complaints")


def insert_rows(conn, table: str, rows: list[dict]) -> None:  # noqa: ANN001
    if rows:
        names = list(rows[0])
        params = [bindparam(k, type_=DateTime()) if k == "created_at" else bindparam(k) for k in names]
        sql = text(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(':' + k for k in names)})")
        for i in range(0, len(rows), 10_000):
            conn.execute(sql.bindparams(*params), rows[i:i + 10_000])


def seed_transactional(args: argparse.Namespace, api: Api, engine) -> str:  # noqa: ANN001
    """Messages through ``POST /smtp/emails`` from 8 threads, one to three recipients each, and one with an
    attachment (its id is returned); until all are sent."""
    def send(n: int) -> None:
        recipients = [{"name": f"Reader {n + k}", "email": f"reader{n + k}@example.com"} for k in range(1 + n % 3)]
        api("POST", "/smtp/emails", {"email": {
            "subject": f"Your order {n}", "from": {"name": "Shop", "email": "shop0@shop.example"}, "to": recipients,
            "variables": {"number": n}, "html": b64(HTML)}})

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(send, range(args.transactional)))
    attached = api("POST", "/smtp/emails", {"email": {  # the last one, with an attachment
        "subject": "Your invoice", "from": {"name": "Shop", "email": "shop0@shop.example"},
        "to": [{"name": "Reader 1", "email": "reader1@mail.example"}], "html": b64(HTML),
        "attachments_binary": {"invoice.pdf": b64("%PDF-1.4 a small invoice")}}})
    wait_for("the transactional copies", lambda: one(
        engine, "SELECT count(*) FROM deliveries WHERE status IN ('queued', 'deferred', 'sending')") == 0)
    return attached["id"]


def seed_import(port: int, account: dict, ids: dict) -> None:
    """1,000 rows of a CSV into "Imported" through the UI's own upload and column mapping."""
    browser = Browser(port)
    browser.sign_in(account["client_id"], account["client_secret"])
    _, page, _ = browser.send("GET", f"/ui/lists/{ids['imported']}")
    rows = "\n".join(f"imported{i}@example.com,Imported {i},{20 + i % 50}" for i in range(1000))
    status, headers = browser.upload(f"/ui/lists/{ids['imported']}/import", {"csrf": browser.csrf(page)}, "people.csv",
                                     ("email,name,age\n" + rows + "\n").encode())
    location = headers.get("location") or headers.get("Location") or ""
    if status != 303 or not location.startswith("/ui/imports/"):
        raise SystemExit(f"import upload: {status} {headers}")
    ids["import"] = int(location.rsplit("/", 1)[1])
    _, page, _ = browser.send("GET", location)
    form = {"csrf": browser.csrf(page), "kind_0": "email", "name_0": "", "kind_1": "variable", "name_1": "name",
            "kind_2": "variable", "name_2": "age"}
    status, _, _ = browser.send("POST", location, urllib.parse.urlencode(form).encode())
    if status != 303:
        raise SystemExit(f"import mapping: {status}")

    def finished() -> bool:
        _, data, _ = browser.send("GET", location + "/progress")
        return json.loads(data)["status"] in ("done", "failed")

    wait_for("the import", finished, 300)


def pick(engine, ids: dict) -> dict:  # noqa: ANN001
    """Rows the pages are filled with: a captured copy, a contact deep in the big list, addresses."""
    with engine.connect() as conn:
        q = lambda sql, **p: conn.execute(text(sql), p).scalar()  # noqa: E731
        everyone = ids["everyone"]
        count = q("SELECT count(*) FROM contacts WHERE book_id = :b", b=everyone)
        deep = q("SELECT id FROM contacts WHERE book_id = :b ORDER BY id DESC LIMIT 1 OFFSET :o", b=everyone,
                 o=max(0, min(1000, count - 1)))
        middle = q("SELECT id FROM contacts WHERE book_id = :b ORDER BY id LIMIT 1 OFFSET :o", b=everyone,
                   o=count // 2)
        return {
            "deep_after": deep, "contact_id": middle,
            "email": q("SELECT email FROM contacts WHERE id = :i", i=middle),
            "unique_name": json.loads(q("SELECT variables FROM contacts WHERE id = :i", i=middle))["name"]
            if not pg(engine) else q("SELECT variables->>'name' FROM contacts WHERE id = :i", i=middle),
            "captured": q("SELECT max(d.id) FROM deliveries d JOIN outbox_messages m ON m.id = d.message_id "
                          "WHERE m.public_id = :p AND d.capture_key IS NOT NULL", p=ids["attached"]),
            "attachment": 0,
            "smtp_message": q("SELECT max(public_id) FROM outbox_messages WHERE kind = 'smtp'"),
            "smtp_message_id": q("SELECT max(id) FROM outbox_messages WHERE kind = 'smtp'"),
            "smtp_deep": q("SELECT min(id) + 100 FROM outbox_messages WHERE kind = 'smtp'"),
            "campaign_copy": q("SELECT min(d.id) FROM deliveries d JOIN campaigns c ON c.message_id = d.message_id "
                               "WHERE c.id = :c", c=ids["campaign"]),
            "campaign_copy_deep": q("SELECT max(d.id) - 1000 FROM deliveries d JOIN campaigns c "
                                    "ON c.message_id = d.message_id WHERE c.id = :c", c=ids["campaign"]),
            "recipient": q("SELECT min(d.email) FROM deliveries d JOIN campaigns c ON c.message_id = d.message_id "
                           "WHERE c.id = :c", c=ids["campaign"]),
            "template": ids["templates"][0],
            "template_uid": q("SELECT uid FROM templates WHERE id = :i", i=ids["templates"][0]),
            "sender": "shop0@shop.example", "black": "black5000@spam.example", "unsubscribed": "gone2500@example.com",
            "subscription": q("SELECT max(id) FROM push_subscriptions WHERE website_id = :w", w=ids["website"]),
        }


# ---------------------------------------------------------------- where the data lives, cached or not

class Place:
    """The run's data dir and database: fresh, or a copy of the cache (seeding the cache first)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.dir = Path(tempfile.mkdtemp(prefix="pulsebox-bench-ui-"))
        self.admin = args.database_url
        self.name = f"pulsebox_bench_ui_{os.getpid()}" if self.admin else None
        self.url = self._url(self.name) if self.admin else f"sqlite:///{self.dir / 'pulsebox.db'}"

    def _url(self, name: str) -> str:
        parts = urllib.parse.urlsplit(self.admin)
        return urllib.parse.urlunsplit(parts._replace(path="/" + name))

    def _pg(self, sql: str) -> None:
        self.pg_run(self.admin, sql)

    @staticmethod
    def pg_run(url: str, sql: str) -> None:
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
            conn.execute(sql)

    def env(self) -> dict:
        env = {**os.environ, "PULSEBOX_DATA_DIR": str(self.dir), "PULSEBOX_DATABASE_URL": self.url,
               "PULSEBOX_API_RATE_LIMITS": HIGH_LIMITS, "PULSEBOX_LOG_LEVEL": "WARNING",
               "PULSEBOX_SENDER_CHECK": "off", "PULSEBOX_WEBHOOKS_ALLOW_PRIVATE": "true"}
        for name in ("PULSEBOX_REDIS_URL", "PULSEBOX_MAIL_URL"):
            env.pop(name, None)
        return env

    def key(self) -> dict:
        a = self.args
        return {"version": SEED_VERSION, "contacts": a.contacts, "copies": a.copies, "transactional": a.transactional,
                "backend": "postgresql" if self.admin else "sqlite"}

    def prepare(self) -> dict:
        """The seeded ids, the data in place for this run."""
        if self.admin:
            self._pg(f'CREATE DATABASE "{self.name}"')
        cache = Path(self.args.cache) if self.args.cache else None
        saved = cache / "seeded.json" if cache else None
        if saved and saved.exists() and json.loads(saved.read_text()).get("key") == self.key():
            found = json.loads(saved.read_text())
            log(f"reusing the seeded data in {cache}")
            self._restore(cache, found)
            return found["ids"]
        engine = create_engine(self.url.replace("postgresql://", "postgresql+psycopg://", 1))
        try:
            ids = seed(self.args, self.env(), self.dir, engine)
        finally:
            engine.dispose()
        if cache:
            self._save(cache, ids)
        return ids

    def _save(self, cache: Path, ids: dict) -> None:
        saved = cache / "seeded.json"
        old = json.loads(saved.read_text()).get("database") if saved.exists() else None
        if old and self.admin:  # the database the cache held before: no longer anyone's template
            self._pg(f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)')
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True)
        found: dict = {"key": self.key(), "ids": ids}
        if self.admin:  # the seeded database stays, as the template of each run's copy
            found["database"] = f"pulsebox_bench_ui_seed_{os.getpid()}"
            self._pg(f'CREATE DATABASE "{found["database"]}" TEMPLATE "{self.name}"')
        shutil.copytree(self.dir, cache / "data", symlinks=True)
        (cache / "seeded.json").write_text(json.dumps(found, indent=1))
        log(f"seeded data kept in {cache}")

    def _restore(self, cache: Path, found: dict) -> None:
        """The database file copied (the run writes to it: sessions), everything else hard-linked."""
        shutil.rmtree(self.dir)
        shutil.copytree(cache / "data", self.dir, symlinks=True, copy_function=os.link)
        for path in self.dir.glob("pulsebox.db*"):
            path.unlink()  # a hard link to the cache's file: the run writes to its own copy
            shutil.copyfile(cache / "data" / path.name, path)
        if self.admin:
            self._pg(f'DROP DATABASE IF EXISTS "{self.name}"')
            self._pg(f'CREATE DATABASE "{self.name}" TEMPLATE "{found["database"]}"')

    def close(self) -> None:
        if self.admin:
            self._pg(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------- the pages

# {param} of a path -> the seeded row it is filled with, by the path before it (the longest prefix wins)
FILLERS: list[tuple[str, str, str]] = [
    ("/ui/lists/", "id", "everyone"),
    ("/ui/imports/", "id", "import"),
    ("/ui/inbox/", "id", "captured"),
    ("/ui/webhooks/", "id", "webhook"),
    ("/ui/campaigns/", "id", "campaign"),
    ("/ui/inbox/", "index", "attachment"),
    ("/ui/log/", "id", "smtp_message_id"),
    ("/ui/templates/", "id", "template"),
    ("/ui/push/websites/", "id", "website"),
    ("/ui/push/tasks/", "id", "push_task"),
    ("/ui/", "segment_id", "segment"),
    ("/ui/", "email", "email"),
]

# path of a route -> its pages: (label, path parameters given other seeded rows, query)
VARIANTS: dict[str, list[tuple[str, dict, str]]] = {
    "/ui": [("dashboard", {}, "")],
    "/ui/inbox": [("newest", {}, ""), ("search by subject", {}, "?q=order 77"),
                  ("search by address", {}, "?q={email}")],
    "/ui/inbox/messages.json": [("newest", {}, "")],
    "/ui/lists/{id}": [("1M list, first page", {}, ""), ("1M list, keyset page near the end", {}, "?after={deep_after}"),
                       ("1M list, search by address", {}, "?email={email}"),
                       ("1M list, search by variable (one match)", {}, "?variable=name&value={unique_name}"),
                       ("1M list, search by variable (age = 32: a tenth)", {}, "?variable=age&value=32"),
                       ("small list", {"id": "vip"}, "")],
    "/ui/lists/{id}/segments/count": [
        ("1M list, one part (50,000 contacts): age > 60 and city Kyiv", {},
         "?join=and&var_0=age&cond_0=greaterthan&value_0=60&var_1=city&cond_1=equal&value_1=Kyiv"),
        ("1M list, one part: name contains 77", {}, "?join=and&var_0=name&cond_0=likewith&value_0=77")],
    "/ui/campaigns/{id}": [("100k-copy campaign", {}, ""), ("small campaign", {"id": "small_campaign"}, ""),
                           ("scheduled campaign", {"id": "scheduled_campaign"}, "")],
    "/ui/campaigns/{id}/recipients": [
        ("100k: opened, first page", {}, "?figure=opened"), ("100k: clicked", {}, "?figure=clicked"),
        ("100k: delivered (2), a page near the end", {}, "?figure=2&after={campaign_copy_deep}"),
        ("100k: no such email (6)", {}, "?figure=6"), ("100k: clicked a link", {}, "?figure=link:https://shop.example/help"),
        ("100k: opened in a country", {}, "?figure=country:Ukraine")],
    "/ui/contacts/{email:path}": [("a contact of the 1M list", {}, ""),
                                  ("a campaign recipient", {"email": "recipient"}, "")],
    "/ui/lists/{id}/export.csv": [("1M list: a download of every contact", {}, ""),
                                  ("1M list's segment: a download", {}, "?segment_id={segment}"),
                                  ("small list", {"id": "vip"}, "")],
    "/ui/log": [("newest", {}, ""), ("a page deep in the log", {}, "?before={smtp_deep}"),
                ("by recipient", {}, "?recipient=reader1@mail.example"), ("by words", {}, "?q=order 777")],
    "/ui/unsubscribes": [("newest", {}, ""), ("search by address", {}, "?email={unsubscribed}")],
}

PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def ui_routes() -> list[str]:
    from pulsebox.app import ROUTES

    out = []
    for route in ROUTES:
        if (route.path.startswith("/ui") and "GET" in (route.methods or ()) and not route.path.startswith("/ui/static")
                and route.path not in out):
            out.append(route.path)
    return out


def filler(path: str, start: int, name: str) -> str | None:
    before = path[:start]
    found = [(len(prefix), key) for prefix, param, key in FILLERS if param == name and before.startswith(prefix)]
    return max(found)[1] if found else None


def pages(ids: dict) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(route, label, URL) of every page to time, and the routes skipped for want of a filler."""
    out, skipped = [], []
    for path in ui_routes():
        for label, given, query in VARIANTS.get(path, [("", {}, "")]):
            url, missing = path, None
            for match in reversed(list(PARAM.finditer(path))):
                key = given.get(match[1]) or filler(path, match.start(), match[1])
                if key is None or ids.get(key) is None:
                    missing = match[1]
                    break
                url = url[:match.start()] + urllib.parse.quote(str(ids[key]), safe="@") + url[match.end():]
            if missing:
                skipped.append(path)
                break
            out.append((path, label, url + query.format(**{k: urllib.parse.quote(str(v), safe="@")
                                                           for k, v in ids.items()}).replace(" ", "+")))
    return out, skipped


def measure(browser: Browser, url: str, runs: int) -> dict:
    """``runs`` timed requests after one not counted (5 when that one took over 2 s: a bounded run). A
    download (``Content-Disposition: attachment``) is judged by its first byte, when the browser starts
    saving it; the whole of it is reported beside, with its rate."""
    started = time.perf_counter()
    browser.send("GET", url)
    if time.perf_counter() - started > 2:
        runs = min(runs, 5)
    times, firsts, status, size, download = [], [], 0, 0, False
    for _ in range(runs):
        started = time.perf_counter()
        status, data, headers = browser.send("GET", url)
        times.append((time.perf_counter() - started) * 1000)
        firsts.append(browser.first_byte_ms)
        size = len(data)
        download = "attachment" in headers.get("content-disposition", "")
    figures = {"status": status, "bytes": size, "runs": runs, **_spread(times)}
    if download:
        whole = figures
        figures = {"status": status, "bytes": size, "runs": runs, **_spread(firsts),
                   "download_median_ms": whole["median_ms"], "download_max_ms": whole["max_ms"],
                   "download_mb_s": round(size / 1e6 / (whole["median_ms"] / 1000), 1)}
    return figures


def _spread(times: list[float]) -> dict:
    times = sorted(times)
    p95 = times[max(0, round(0.95 * len(times)) - 1)]
    return {"median_ms": round(statistics.median(times), 1), "p95_ms": round(p95, 1), "max_ms": round(times[-1], 1)}


def time_pages(args: argparse.Namespace, place: Place, ids: dict) -> tuple[list[dict], list[str]]:
    env = place.env()
    pulsebox(env, "migrate")
    if place.admin:  # what autovacuum does to a database at rest (off on this server): the visibility map
        # that index-only scans need, and the statistics of the indexes the migrations just made
        place.pg_run(place.url, "VACUUM ANALYZE")
    port = free_port()
    env["PULSEBOX_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    server = start_serve(env, place.dir, port)
    spy = None
    try:
        browser = Browser(port)
        browser.sign_in(ids["account"]["client_id"], ids["account"]["client_secret"])
        todo, skipped = pages(ids)
        if args.only:
            todo = [p for p in todo if args.only in p[0] or args.only in p[1]]
        if args.profile:
            spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--format", "raw",
                                    "-o", args.profile, "--subprocesses", "-p", str(server.pid), "-r", "200"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
        results = []
        for path, label, url in todo:
            figures = {"route": path, "page": label, "url": url, **measure(browser, url, args.runs)}
            results.append(figures)
            log(f"{figures['median_ms']:8.1f} {figures['p95_ms']:8.1f} {figures['max_ms']:8.1f}  "
                f"{figures['status']}  {path} {label}")
        return results, skipped
    finally:
        if spy is not None:
            spy.send_signal(2)
            spy.wait(timeout=60)
        for pid in [server.pid, *descendants(server.pid)]:
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                pass
        server.wait(timeout=30)


def report(args: argparse.Namespace, results: list[dict], skipped: list[str]) -> None:
    backend = "postgresql" if args.database_url else "sqlite"
    print("\n| page | what | status | median ms | p95 ms | max ms | bytes |\n|---|---|---|---|---|---|---|")
    for r in results:
        flag = " **over**" if r["median_ms"] > 200 or r["max_ms"] > 1000 else ""
        whole = (f" (first byte; the whole: {r['download_median_ms']:,.0f} ms, {r['download_mb_s']} MB/s)"
                 if "download_median_ms" in r else "")
        print(f"| `{r['route']}` | {r['page']}{whole} | {r['status']} | {r['median_ms']:,.1f}{flag} | "
              f"{r['p95_ms']:,.1f} | {r['max_ms']:,.1f} | {r['bytes']:,} |")
    for path in skipped:
        print(f"skipped: no filler for {path}")
    medians = [r["median_ms"] for r in results]
    summary = {"date": time.strftime("%Y-%m-%d"), "database": backend, "contacts": args.contacts,
               "copies": args.copies, "runs": args.runs, "pages": len(results),
               "worst_median_ms": max(medians, default=0), "worst_max_ms": max((r["max_ms"] for r in results), default=0),
               "over_target": [f"{r['route']} {r['page']}".strip() for r in results
                               if r["median_ms"] > 200 or r["max_ms"] > 1000],
               "skipped": skipped}
    print(json.dumps(summary))
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "pages": results}, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=1_000_000, help="contacts of the big list")
    parser.add_argument("--copies", type=int, default=100_000, help="copies of the big campaign (its list's size)")
    parser.add_argument("--transactional", type=int, default=20_000, help="messages through POST /smtp/emails")
    parser.add_argument("--runs", type=int, default=20, help="timed requests a page (after one warm-up)")
    parser.add_argument("--cache", help="keep the seeded data here and reuse it while the sizes are the same")
    parser.add_argument("--database-url", help="PostgreSQL server (databases are created and dropped)")
    parser.add_argument("--only", help="time only the pages whose route or label holds this")
    parser.add_argument("--profile", help="py-spy record (raw) of the server while the pages are timed, to this file")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--seed-only", action="store_true", help="seed (the cache) and stop")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped: the servers and copies go too (finally)
    place = Place(args)
    try:
        ids = place.prepare()
        if args.seed_only:
            return
        results, skipped = time_pages(args, place, ids)
        report(args, results, skipped)
    finally:
        place.close()


if __name__ == "__main__":
    main()
