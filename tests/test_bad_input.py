"""Bad input, route by route: every answer is SendPulse's error object with a 4xx status, never a
500, and nothing is written (the account's rows are read back from the database and compared).

Error codes are the catalogue's (docs/sendpulse-rules.md, document 003's table) where the
documents define one; elsewhere only the 4xx status and the error shape are asserted.
"""

from __future__ import annotations

import dataclasses
import re
import time
from dataclasses import dataclass

import pytest
from conftest import Api, b64, make_account
from sqlalchemy import func, select, update
from starlette.routing import Route
from starlette.testclient import TestClient

from pulsebox.api import endpoint
from pulsebox.app import ROUTES, build
from pulsebox.context import Context
from pulsebox.models import (
    AccessToken,
    Account,
    BlacklistEntry,
    Book,
    Contact,
    LedgerEntry,
    PushSubscription,
    PushTask,
    PushWebsite,
    Sender,
    Template,
    Variable,
    Webhook,
)
from pulsebox.models.campaigns import Campaign
from pulsebox.models.outbox import Bounce, Delivery, OutboxMessage, SendingDomain, SmtpUnsubscribe, TrackingEvent

OUTBOX = [t.__table__ for t in (OutboxMessage, Delivery, TrackingEvent, SmtpUnsubscribe, Bounce, SendingDomain,
                                 Campaign, Webhook, PushWebsite, PushSubscription, PushTask)]

JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}
LONG = 100_000
NEVER_BOOK = 2_000_000_000  # inside PostgreSQL's integer range, never reached by the sequence
NEVER_TEMPLATE = 2_000_000_001


# ---------------------------------------------------------------- helpers

@pytest.fixture
def backend(database_url) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


def mark_bug(request, backend: str, bug: tuple[str, str] | None) -> None:
    """``bug`` = (backends, reason): a known server bug on those backends ("all" or one name)."""
    if bug and bug[0] in ("all", backend):
        request.applymarker(pytest.mark.xfail(strict=True, reason=f"server bug: {bug[1]}"))


def _rows(conn, query) -> list[tuple]:
    return [tuple(row) for row in conn.execute(query)]


def db_state(ctx: Context, *account_ids: int) -> dict:
    """Every row an account owns (and the shared system templates), for before/after."""
    B, V, C = Book.__table__, Variable.__table__, Contact.__table__
    BL, S, T, L = BlacklistEntry.__table__, Sender.__table__, Template.__table__, LedgerEntry.__table__
    A, AT = Account.__table__, AccessToken.__table__
    state: dict = {}
    with ctx.db.transaction(write=False) as conn:
        for acc in account_ids:
            book_ids = [r[0] for r in conn.execute(select(B.c.id).where(B.c.account_id == acc))]
            state[acc] = {
                "account": _rows(conn, select(A).where(A.c.id == acc)),
                "books": _rows(conn, select(B).where(B.c.account_id == acc).order_by(B.c.id)),
                "variables": _rows(conn, select(V).where(V.c.book_id.in_(book_ids or [-1]))
                                   .order_by(V.c.book_id, V.c.name)),
                "contacts": _rows(conn, select(C).where(C.c.account_id == acc).order_by(C.c.id)),
                "blacklist": _rows(conn, select(BL).where(BL.c.account_id == acc).order_by(BL.c.email)),
                "senders": _rows(conn, select(S).where(S.c.account_id == acc).order_by(S.c.id)),
                "templates": _rows(conn, select(T).where(T.c.account_id == acc).order_by(T.c.id)),
                "ledger": _rows(conn, select(L).where(L.c.account_id == acc).order_by(L.c.id)),
                "tokens": conn.execute(select(func.count()).select_from(AT).where(AT.c.account_id == acc)).scalar(),
                **{table.name: _rows(conn, select(table).where(table.c.account_id == acc).order_by(*table.primary_key))
                   for table in OUTBOX},
            }
        state["system_templates"] = _rows(conn, select(T).where(T.c.account_id.is_(None)).order_by(T.c.id))
    return state


def assert_error(answer, code: int | None = None, status: int | None = None) -> None:
    """SendPulse's error object with a 4xx status (and the exact code/status when given)."""
    body = answer.json
    assert 400 <= answer.status < 500, (answer.status, body)
    assert isinstance(body, dict) and body.get("is_error") is True, body
    assert isinstance(body.get("message"), str) and body["message"], body
    assert type(body.get("error_code")) is int, body
    if code is not None:
        assert body["error_code"] == code, body
    if status is not None:
        assert answer.status == status, (answer.status, body)


@dataclass
class World:
    book: int
    book2: int
    email: str
    email2: str
    sender: str
    black: str
    real_id: int
    uid: str
    slug: str
    system_id: int
    smtp_id: str
    domain_email: str
    capture_id: int
    campaign: int  # a draft (it sends nothing, and stays editable)
    segment: int  # a segment of ``book``
    webhook: int  # a webhook (to a public address: nothing is posted in a test)
    push_site: int  # a web push website
    push_task: int  # a push task of it, scheduled far ahead (it sends nothing)

    def fmt(self, value):
        """Fill ``{book}``-style placeholders (World fields only) in strings, recursively."""
        if isinstance(value, str):
            return _PLACEHOLDER.sub(lambda m: str(getattr(self, m[1])) if m[1] in _FIELDS else m[0], value)
        if isinstance(value, dict):
            return {self.fmt(k): self.fmt(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.fmt(v) for v in value]
        return value


_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_FIELDS = {f.name for f in dataclasses.fields(World)}


def populate(api: Api) -> World:
    book = api.new_book("Alpha")
    book2 = api.new_book("Beta")
    assert api.add_contacts(book, [
        {"email": "ann@example.com",
         "variables": {"name": "Ann", "age": 30, "birthday": "1990-05-01", "Phone": "+380501234567"}},
        "bob@example.com",
    ]).json == {"result": True}
    assert api.add_contacts(book2, ["carl@example.com"]).json == {"result": True}
    assert api.post("/blacklist", json={"emails": b64("black@example.com"), "comment": "spam"}).json == {"result": True}
    assert api.post("/senders", json={"email": "me@example.com", "name": "Me"}).json == {"result": True}
    real_id = api.post("/template", json={"name": "Mine", "body": b64("<p>mine</p>"), "lang": "en"}).json["real_id"]
    info = api.get(f"/template/{real_id}").json
    system_id = api.get("/templates", params={"owner": "sendpulse"}).json[0]["real_id"]
    smtp_id = api.post("/smtp/emails", json={"email": {"subject": "s", "from": {"email": "me@example.com"},
                                                       "to": [{"email": "ann@example.com"}], "text": "t"}}).json["id"]
    assert api.post("/smtp/domains", json={"email": "admin@mine.example"}).json == {"result": True}
    assert api.post("/smtp/unsubscribe", json={"emails": [{"email": "gone@example.com", "comment": "c"}]}).json[
        "result"] is True
    campaign = api.post("/campaigns", json={"sender_name": "Me", "sender_email": "me@example.com", "subject": "S",
                                            "body": b64("<p>x</p>"), "list_id": book, "type": "draft"}).json["id"]
    segment = api.post(f"/addressbooks/{book}/segments", json={"name": "Adults", "filter": {
        "variable_name": "age", "operator": "and", "conditions": [{"condition": "greaterthan", "value": 17}]}}).json["id"]
    webhook = api.post("/v2/email-service/webhook", json={"url": "https://93.184.215.14/hook",
                                                         "actions": ["open"]}).json["data"][0]["id"]
    push_site = api.post("/push/websites", json={"url": "https://shop.example.com"}).json["id"]
    push_task = api.post("/push/tasks", json={"title": "T", "website_id": push_site, "body": "B", "ttl": 60,
                                              "send_date": "2099-01-01 00:00:00"}).json["id"]
    return World(book=book, book2=book2, email="ann@example.com", email2="bob@example.com", sender="me@example.com",
                 black="black@example.com", real_id=real_id, uid=info["id"], slug=info["name_slug"],
                 system_id=system_id, smtp_id=smtp_id, domain_email="admin@mine.example", capture_id=NEVER_BOOK,
                 campaign=campaign, segment=segment, webhook=webhook, push_site=push_site, push_task=push_task)


@pytest.fixture
def world(api) -> World:
    return populate(api)


@pytest.fixture(scope="module")
def _shared_world(ctx):
    """The module's shared account and World (see ``quiet``), made on first use."""
    with TestClient(build(ctx), raise_server_exceptions=False) as test_client:
        yield {"client": test_client}


@pytest.fixture
def quiet(request, ctx, _shared_world) -> tuple[Api, World]:
    """An account and its World shared by the tests of this module (and backend) that only send
    requests which must be refused: each of them still reads the account's rows back before and after
    its own requests and asserts they are unchanged, so nothing a test sees depends on the world being
    fresh; populating one per test was a third of this module's time. The one SMTP copy the world
    queued is set aside by ``_queue_left_empty`` after the first test: none of these tests needs it,
    nor anything else a shared world would queue. A test that failed may have written (or left the
    world half made): the next test gets a new world."""
    holder = _shared_world
    if "world" not in holder:
        holder["api"] = Api(holder["client"], make_account(ctx))
        holder["world"] = populate(holder["api"])
    failed = request.session.testsfailed
    yield holder["api"], holder["world"]
    if request.session.testsfailed != failed:
        del holder["world"]


def call(api: Api, world: World, method: str, path: str, kwargs: dict):
    kw = {k: (world.fmt(v) if k in ("json", "params") else v) for k, v in kwargs.items()}
    return api.call(method, world.fmt(path), **kw)


def refused(api: Api, ctx: Context, world: World, method: str, path: str, kwargs: dict,
            code: int | None = None, status: int | None = None, known: dict | None = None):
    """Send a bad request: an error object, 4xx, and every row of the account unchanged.

    ``known``: a dict carried across a series of refused requests of one test; each one's "after"
    (just shown equal to its "before") is the next one's "before" instead of a second read of the same
    rows. Dropped whenever the comparison is not reached (a failure), so it never goes stale."""
    before = known.pop("state", None) if known is not None else None
    if before is None:
        before = db_state(ctx, api.id)
    answer = call(api, world, method, path, kwargs)
    assert_error(answer, code, status)
    after = db_state(ctx, api.id)
    assert after == before, f"{method} {path} changed state"
    if known is not None:
        known["state"] = after
    return answer


# ---------------------------------------------------------------- the route table, concretely

# the SendPulse-style API: every route wrapped by api.endpoint (not /healthz, not the public
# tracking links, which answer browsers and mail clients, not API clients: tests/tracking)
API_ROUTES = [(r.path, m) for r in ROUTES if isinstance(r, Route) and isinstance(r.endpoint, endpoint)
              for m in sorted(r.methods - {"HEAD"})]
ROUTE_IDS = [f"{m} {p}" for p, m in API_ROUTES]


def concrete(path: str) -> str:
    """A route template with ``World`` placeholders (real ids) in place of its parameters."""
    def fill(match: re.Match) -> str:
        name = match[1].split(":")[0]
        if name == "id":
            return ("{book}" if path.startswith("/addressbooks") else "{smtp_id}" if path.startswith("/smtp")
                    else "{capture_id}" if path.startswith("/capture") else "{campaign}" if path.startswith("/campaigns")
                    else "{webhook}" if path.startswith("/v2/email-service/webhook")
                    else "{push_task}" if path.startswith("/push/tasks")
                    else "{push_site}" if path.startswith("/push/websites") else "{real_id}")
        if name == "email":
            return ("{sender}" if path.startswith("/senders") else "{domain_email}" if path.startswith("/smtp")
                    else "{email}")
        fixed = {"name": "name", "value": "Ann", "slug": "{slug}", "lang": "en", "currency": "USD",
                 "segment_id": "{segment}"}
        assert name in fixed, f"no concrete value for {{{name}}} in {path}: extend concrete()"
        return fixed[name]
    return re.sub(r"\{([^}]+)\}", fill, path)


def allowed_methods(concrete_path: str) -> set[str]:
    methods: set[str] = set()
    for r in ROUTES:
        if isinstance(r, Route) and r.path_regex.match(concrete_path):
            methods |= r.methods
    return methods


# ---------------------------------------------------------------- 1. malformed bodies, every route

MALFORMED = [
    ("truncated JSON", {"content": b'{"bookName": "x", "emails": [', "headers": JSON}),
    ("unquoted JSON keys", {"content": b"{bookName: x}", "headers": JSON}),
    ("JSON scalar", {"content": b"42", "headers": JSON}),
    ("JSON string holding bad JSON", {"content": b'"{\\"bookName\\": 1"', "headers": JSON}),
    ("non-UTF-8 JSON", {"content": b'{"bookName": "\xff\xfe"}', "headers": JSON}),
    ("non-UTF-8 form", {"content": b"bookName=\xff\xfe&emails=a%40example.com", "headers": FORM}),
    ("percent-encoded non-UTF-8 form", {"content": b"bookName=%FF%FE", "headers": FORM}),
    ("non-UTF-8 multipart field", {"content": b'--x\r\nContent-Disposition: form-data; name="bookName"\r\n\r\n'
                                   b"\xff\xfe\r\n--x--\r\n",
                                   "headers": {"content-type": "multipart/form-data; boundary=x"}}),
    ("garbage multipart", {"content": b"garbage", "headers": {"content-type": "multipart/form-data; boundary=q"}}),
    ("structured field with bad JSON", {"json": {"emails": "[bad", "variables": "{bad"}}),
    ("structured field with bad PHP serialize()", {"json": {"emails": 'a:1:{i:0;s:99:"x";}'}}),
    ("nested 40 deep", {"content": b'{"a":' * 40 + b"1" + b"}" * 40, "headers": JSON}),
    ("non-UTF-8 query string", {"params": None, "query": "?limit=%FF%FE"}),
    ("query that is broken JSON", {"params": None, "query": "?%7B%22limit%22%3A"}),
]


@pytest.mark.parametrize(("path", "method"), API_ROUTES, ids=ROUTE_IDS)
def test_malformed_body_every_route(ctx, quiet, path, method):
    api, world = quiet
    target = concrete(path)
    before = db_state(ctx, api.id)
    for label, kwargs in MALFORMED:
        kwargs = dict(kwargs)
        query = kwargs.pop("query", "")
        kwargs.pop("params", None)
        answer = api.call(method, world.fmt(target) + query, **kwargs)
        assert answer.status != 500, (label, answer.json)
        assert_error(answer, 8, 400)
        after = db_state(ctx, api.id)
        assert after == before, label
        before = after  # equal: the next request's "before", without reading the same rows again


def test_every_api_route_is_covered():
    assert len(API_ROUTES) >= 45
    for path, _ in API_ROUTES:
        concrete(path)


# ---------------------------------------------------------------- 2. bearer tokens, every route

def _expired_token(ctx, client, account) -> str:
    token = client.post("/oauth/access_token", json={"grant_type": "client_credentials",
                                                     "client_id": account["client_id"],
                                                     "client_secret": account["client_secret"]}).json()["access_token"]
    with ctx.db.transaction() as conn:
        conn.execute(update(AccessToken.__table__).values(expires_at=int(time.time()) - 1)
                     .where(AccessToken.__table__.c.account_id == account["id"]))
    return token


# A body that would change something if it were accepted.
WRITE_BODY = {"bookName": "Smuggled", "name": "Smuggled", "emails": ["new@example.com"], "email": "new@example.com",
              "variables": {"name": "Smuggled"}, "phone": "123456789", "body": b64("<p>x</p>"), "lang": "en",
              "code": "abc", "id": "{book}"}


@pytest.mark.parametrize(("path", "method"), [r for r in API_ROUTES if r[0] != "/oauth/access_token"],
                         ids=[i for i in ROUTE_IDS if "/oauth/" not in i])
def test_missing_garbage_or_expired_bearer_is_401_every_route(ctx, quiet, path, method):
    api, world = quiet
    client = api.client
    stale = make_account(ctx)
    expired = _expired_token(ctx, client, stale)
    headers_list = [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer garbage"},
        {"Authorization": f"Bearer b'{api.token}'"},  # pysendpulse's bytes repr: just an unknown token
        {"Authorization": f"Basic {api.token}"},
        {"Authorization": f"{api.token}"},
        {"Authorization": f"Bearer {api.token}x"},
        {"Authorization": f"Bearer {expired}"},
        {"Authorization": "Bearer " + "x" * 10_000},
    ]
    target = world.fmt(concrete(path))
    # the rows of both accounts read once before the requests and once after them all: a request that
    # wrote anything would show there (no request here undoes another's write)
    before = db_state(ctx, api.id, stale["id"])
    for headers in headers_list:
        response = client.request(method, target, headers=headers, json=world.fmt(WRITE_BODY))
        assert response.headers["content-type"].startswith("application/json"), response.text
        body = response.json()
        assert response.status_code == 401, (headers, response.status_code, body)
        assert body["is_error"] is True and body["error_code"] == 401 and body["message"], body
    assert db_state(ctx, api.id, stale["id"]) == before, \
        f"one of these requests wrote: {[h.get('Authorization', '(none)')[:60] for h in headers_list]}"


# ---------------------------------------------------------------- 3. oversized bodies, every route

@pytest.fixture(scope="module")
def small_client(ctx):
    small = Context(settings=dataclasses.replace(ctx.settings, max_body_bytes=1024), db=ctx.db, limiter=ctx.limiter)
    with TestClient(build(small), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize(("path", "method"), API_ROUTES, ids=ROUTE_IDS)
def test_oversized_body_is_413_every_route(ctx, quiet, small_client, path, method):
    api, world = quiet
    small = Api.__new__(Api)
    small.client, small.account, small.id, small.token, small.headers = \
        small_client, api.account, api.id, api.token, api.headers
    target = world.fmt(concrete(path))
    padded = {**world.fmt(WRITE_BODY), "comment": "x" * 2048}
    before = db_state(ctx, api.id)
    for kwargs in ({"json": padded},
                   {"content": b"bookName=" + b"y" * 4096, "headers": FORM},
                   # no Content-Length: the limit holds while streaming, too
                   {"content": iter([b'{"bookName": "', b"z" * 800, b"z" * 800, b'"}']), "headers": JSON}):
        answer = small.call(method, target, **kwargs)
        assert_error(answer, 413, 413)
        after = db_state(ctx, api.id)
        assert after == before, kwargs.get("headers")
        before = after  # equal: the next request's "before"
    # requests within the limit are still served by the same app
    assert small.get("/balance").status == 200


def test_oversized_token_request_is_413(ctx, small_client):
    account = make_account(ctx)
    before = db_state(ctx, account["id"])
    response = small_client.post("/oauth/access_token", json={
        "grant_type": "client_credentials", "client_id": account["client_id"],
        "client_secret": account["client_secret"], "pad": "x" * 2048})
    assert response.status_code == 413 and response.json()["is_error"] is True
    assert response.json()["error_code"] == 413
    assert db_state(ctx, account["id"]) == before


# ---------------------------------------------------------------- 4. unknown routes and wrong methods

@pytest.mark.parametrize("path", ["/nope", "/addressbooks/{book}/nope", "/v2/email-service/nope", "/smtp/nope",
                                  "/addressbooks/{book}/emails/{email}/extra", "/senders/x/y/z",
                                  "/%FF%FE", "/" + "a" * 5000])
def test_unknown_route_is_json_404(ctx, quiet, path):
    api, world = quiet
    target = world.fmt(path)
    known: dict = {}
    for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
        refused(api, ctx, world, method, target, {"json": {"bookName": "x"}}, 404, 404, known=known)
    for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
        anonymous = api.client.request(method, target)
        assert anonymous.status_code == 404 and anonymous.json()["is_error"] is True
    assert db_state(ctx, api.id) == known["state"], "an anonymous request changed state"


@pytest.mark.parametrize("path", sorted({p for p, _ in API_ROUTES}))
def test_wrong_method_is_json_405(ctx, quiet, path):
    api, world = quiet
    target = world.fmt(concrete(path))
    allowed = allowed_methods(target)
    wrong = [m for m in ("GET", "POST", "PUT", "DELETE", "PATCH") if m not in allowed]
    assert wrong
    known: dict = {}
    for method in wrong:
        refused(api, ctx, world, method, target, {"json": world.fmt(WRITE_BODY)}, 405, 405, known=known)


# ---------------------------------------------------------------- 5. handler-level bad input

def _many(n: int) -> list[str]:
    return [f"bulk{i}@example.com" for i in range(n)]


SEGMENT_FILTER = {"variable_name": "age", "operator": "and", "conditions": [{"condition": "equal", "value": 1}]}
CAMPAIGN = {"sender_name": "Me", "sender_email": "me@example.com", "subject": "S", "body": b64("<p>x</p>"),
            "list_id": "{book}"}

# (id, method, path, request kwargs, expected error code, bug or None)
CASES = [
    # ---- POST /addressbooks
    ("create: no body", "POST", "/addressbooks", {}, 201, None),
    ("create: empty name", "POST", "/addressbooks", {"json": {"bookName": ""}}, 201, None),
    ("create: blank name", "POST", "/addressbooks", {"json": {"bookName": " \t "}}, 201, None),
    ("create: null name", "POST", "/addressbooks", {"json": {"bookName": None}}, 201, None),
    ("create: name object", "POST", "/addressbooks", {"json": {"bookName": {"a": "b"}}}, 201, None),
    ("create: name list", "POST", "/addressbooks", {"json": {"bookName": ["Gamma"]}}, 201, None),
    ("create: name bool", "POST", "/addressbooks", {"json": {"bookName": True}}, 201, None),
    ("create: empty form name", "POST", "/addressbooks", {"content": b"bookName=", "headers": FORM}, 201, None),
    ("create: duplicate", "POST", "/addressbooks", {"json": {"bookName": "Alpha"}}, 203, None),
    ("create: duplicate with spaces", "POST", "/addressbooks", {"json": {"bookName": "  Beta "}}, 203, None),
    ("create: duplicate via legacy name", "POST", "/addressbooks", {"json": {"name": "Alpha"}}, 203, None),
    ("create: 100k name", "POST", "/addressbooks", {"json": {"bookName": "n" * LONG}}, 800, None),
    ("create: 256 name", "POST", "/addressbooks", {"json": {"bookName": "n" * 256}}, 800, None),
    ("create: CRLF name", "POST", "/addressbooks", {"json": {"bookName": "Gamma\r\nX-Injected: 1"}}, 800, None),
    ("create: LF name", "POST", "/addressbooks", {"json": {"bookName": "Gamma\nDelta"}}, 800, None),
    ("create: NUL name", "POST", "/addressbooks", {"json": {"bookName": "Gamma\x00"}}, 8, None),  # wire refuses NUL
    # ---- GET /addressbooks
    ("list: limit abc", "GET", "/addressbooks", {"params": {"limit": "abc"}}, 8, None),
    ("list: limit float", "GET", "/addressbooks", {"params": {"limit": "1.5"}}, 8, None),
    ("list: negative limit", "GET", "/addressbooks", {"params": {"limit": -1}}, 8, None),
    ("list: negative offset", "GET", "/addressbooks", {"params": {"offset": -1}}, 8, None),
    ("list: offset abc", "GET", "/addressbooks", {"params": {"offset": "abc"}}, 8, None),
    ("list: limit 19 digits", "GET", "/addressbooks", {"params": {"limit": "9" * 19}}, 8, None),
    ("list: limit object in body", "GET", "/addressbooks", {"json": {"limit": {"a": 1}}}, 8, None),
    ("list: limit list in body", "GET", "/addressbooks", {"json": {"limit": [10]}}, 8, None),
    ("list: limit bool in body", "GET", "/addressbooks", {"json": {"limit": True}}, 8, None),
    ("list: JSON query limit abc", "GET", "/addressbooks?%7B%22limit%22%3A%22abc%22%7D", {}, 8, None),
    # ---- DELETE /addressbooks (document 002)
    ("legacy delete: no id", "DELETE", "/addressbooks", {}, 722, None),
    ("legacy delete: empty id", "DELETE", "/addressbooks", {"json": {"id": ""}}, 722, None),
    ("legacy delete: id abc", "DELETE", "/addressbooks", {"json": {"id": "abc"}}, 213, None),
    ("legacy delete: id object", "DELETE", "/addressbooks", {"json": {"id": {"a": 1}}}, 213, None),
    ("legacy delete: unknown id", "DELETE", "/addressbooks", {"json": {"id": NEVER_BOOK}}, 213, None),
    ("legacy delete: id past int4", "DELETE", "/addressbooks", {"json": {"id": 2 ** 31}}, 213, None),
    ("legacy delete: one bad email", "DELETE", "/addressbooks",
     {"json": {"id": "{book}", "emails": ["ann@example.com", "not-an-address"]}}, 906, None),
    ("legacy delete: emails of unknown book", "DELETE", "/addressbooks",
     {"json": {"id": NEVER_BOOK, "emails": ["ann@example.com"]}}, 213, None),
    # ---- /addressbooks/{id}
    ("get book: unknown", "GET", f"/addressbooks/{NEVER_BOOK}", {}, 213, None),
    ("get book: abc", "GET", "/addressbooks/abc", {}, 213, None),
    ("get book: negative", "GET", "/addressbooks/-1", {}, 213, None),
    ("get book: zero", "GET", "/addressbooks/0", {}, 213, None),
    ("get book: float", "GET", "/addressbooks/1.5", {}, 213, None),
    ("get book: 19 digits", "GET", "/addressbooks/" + "9" * 19, {}, 213, None),
    ("get book: past int4", "GET", f"/addressbooks/{2 ** 31}", {}, 213, None),
    ("get book: non-UTF-8 id", "GET", "/addressbooks/%FF%FE", {}, 213, None),
    ("rename: no name", "PUT", "/addressbooks/{book}", {}, 201, None),
    ("rename: empty name", "PUT", "/addressbooks/{book}", {"json": {"name": ""}}, 201, None),
    ("rename: name object", "PUT", "/addressbooks/{book}", {"json": {"name": {"x": 1}}}, 201, None),
    ("rename: duplicate", "PUT", "/addressbooks/{book}", {"json": {"name": "Beta"}}, 203, None),
    ("rename: 100k name", "PUT", "/addressbooks/{book}", {"json": {"name": "n" * LONG}}, 800, None),
    ("rename: CRLF name", "PUT", "/addressbooks/{book}", {"json": {"name": "A\r\nB"}}, 800, None),
    ("rename: unknown", "PUT", f"/addressbooks/{NEVER_BOOK}", {"json": {"name": "Gamma"}}, 213, None),
    ("rename: abc", "PUT", "/addressbooks/abc", {"json": {"name": "Gamma"}}, 213, None),
    ("rename: past int4", "PUT", f"/addressbooks/{2 ** 31}", {"json": {"name": "Gamma"}}, 213, None),
    ("delete book: unknown", "DELETE", f"/addressbooks/{NEVER_BOOK}", {}, 213, None),
    ("delete book: abc", "DELETE", "/addressbooks/abc", {}, 213, None),
    ("delete book: past int4", "DELETE", f"/addressbooks/{2 ** 31}", {}, 213, None),
    # ---- variables
    ("variables: unknown book", "GET", f"/addressbooks/{NEVER_BOOK}/variables", {}, 213, None),
    ("variables: abc", "GET", "/addressbooks/abc/variables", {}, 213, None),
    ("find by variable: unknown book", "GET", f"/addressbooks/{NEVER_BOOK}/variables/name/Ann", {}, 213, None),
    ("find by variable: CR in name", "GET", "/addressbooks/{book}/variables/na%0D%0Ame/Ann", {}, 800, None),
    ("find by variable: 300-char name", "GET", "/addressbooks/{book}/variables/" + "n" * 300 + "/Ann", {}, 800, None),
    ("find by variable: limit abc", "GET", "/addressbooks/{book}/variables/name/Ann", {"params": {"limit": "abc"}},
     8, None),
    ("find by variable: negative offset", "GET", "/addressbooks/{book}/variables/name/Ann",
     {"params": {"offset": -5}}, 8, None),
    ("find by variable: no value", "GET", "/addressbooks/{book}/variables/name", {}, 8, None),
    # ---- contacts list / total / info
    ("contacts: unknown book", "GET", f"/addressbooks/{NEVER_BOOK}/emails", {}, 213, None),
    ("contacts: limit abc", "GET", "/addressbooks/{book}/emails", {"params": {"limit": "abc"}}, 8, None),
    ("contacts: negative offset", "GET", "/addressbooks/{book}/emails", {"params": {"offset": -1}}, 8, None),
    ("total: unknown book", "GET", f"/addressbooks/{NEVER_BOOK}/emails/total", {}, 213, None),
    ("total: abc", "GET", "/addressbooks/abc/emails/total", {}, 213, None),
    ("contact: unknown address", "GET", "/addressbooks/{book}/emails/nobody@example.com", {}, 17, None),
    ("contact: address of the other book", "GET", "/addressbooks/{book}/emails/carl@example.com", {}, 17, None),
    ("contact: unknown book", "GET", f"/addressbooks/{NEVER_BOOK}/emails/ann@example.com", {}, 213, None),
    ("contact: bad address", "GET", "/addressbooks/{book}/emails/not-an-address", {}, 906, None),
    ("contact: 10k address", "GET", "/addressbooks/{book}/emails/" + "a" * 10_000 + "@example.com", {}, 906, None),
    ("contact: NUL address", "GET", "/addressbooks/{book}/emails/a%00n@example.com", {}, 404, None),  # NUL path
    # ---- POST /addressbooks/{id}/emails
    ("add: no emails", "POST", "/addressbooks/{book}/emails", {}, 8, None),
    ("add: empty list", "POST", "/addressbooks/{book}/emails", {"json": {"emails": []}}, 8, None),
    ("add: emails number", "POST", "/addressbooks/{book}/emails", {"json": {"emails": 5}}, 906, None),
    ("add: emails plain text", "POST", "/addressbooks/{book}/emails", {"json": {"emails": "notjson"}}, 906, None),
    ("add: unknown book", "POST", f"/addressbooks/{NEVER_BOOK}/emails", {"json": {"emails": ["new@example.com"]}},
     213, None),
    ("add: past int4 book", "POST", f"/addressbooks/{2 ** 31}/emails", {"json": {"emails": ["new@example.com"]}},
     213, None),
    ("add: one bad address in a batch", "POST", "/addressbooks/{book}/emails",
     {"json": {"emails": [{"email": "new1@example.com", "variables": {"fresh": "x"}}, "new2@example.com",
                          "not-an-address", "new3@example.com"]}}, 906, None),
    ("add: address with CRLF", "POST", "/addressbooks/{book}/emails",
     {"json": {"emails": ["new@example.com\r\nBcc: victim@example.com"]}}, 906, None),
    ("add: address with NUL", "POST", "/addressbooks/{book}/emails", {"json": {"emails": ["ne\x00w@example.com"]}},
     8, None),  # the decoding layer refuses NUL anywhere
    ("add: address with \\x01", "POST", "/addressbooks/{book}/emails", {"json": {"emails": ["ne\x01w@example.com"]}},
     906, None),
    ("add: item without email", "POST", "/addressbooks/{book}/emails",
     {"json": {"emails": [{"variables": {"name": "X"}}]}}, 1101, None),
    ("add: item email null", "POST", "/addressbooks/{book}/emails", {"json": {"emails": [{"email": None}]}},
     1101, None),
    ("add: item is a number", "POST", "/addressbooks/{book}/emails", {"json": {"emails": [12345]}}, 906, None),
    ("add: item is a list", "POST", "/addressbooks/{book}/emails", {"json": {"emails": [["a@example.com"]]}},
     906, None),
    ("add: variables not JSON", "POST", "/addressbooks/{book}/emails",
     {"json": {"emails": [{"email": "new@example.com", "variables": "notjson"}]}}, 800, None),
    ("add: variables a list of scalars", "POST", "/addressbooks/{book}/emails",
     {"json": {"emails": [{"email": "new@example.com", "variables": [1, 2]}]}}, 800, None),
    ("add: 100k variable name", "POST", "/addressbooks/{book}/emails",
     {"json": {"emails": [{"email": "new@example.com", "variables": {"v" * LONG: "x"}}]}}, 800, None),
    ("add: 100k variable value", "POST", "/addressbooks/{book}/emails",
     {"json": {"emails": [{"email": "new@example.com", "variables": {"note": "v" * LONG}}]}}, 800, None),
    ("add: CRLF variable name", "POST", "/addressbooks/{book}/emails",
     {"json": {"emails": [{"email": "new@example.com", "variables": {"a\r\nb": "x"}}]}}, 800, None),
    ("add: empty variable name", "POST", "/addressbooks/{book}/emails",
     {"json": {"emails": [{"email": "new@example.com", "variables": {"": "x"}}]}}, 800, None),
    ("add: object variable value", "POST", "/addressbooks/{book}/emails",
     {"json": {"emails": [{"email": "new@example.com", "variables": {"note": {"a": 1}}}]}}, 800, None),
    ("add: number variable gets text", "POST", "/addressbooks/{book}/emails",
     {"json": {"emails": ["new@example.com", {"email": "ann@example.com", "variables": {"age": "thirty"}}]}}, 800, None),
    ("add: number variable gets a list", "POST", "/addressbooks/{book}/emails",
     {"json": {"emails": [{"email": "new@example.com", "variables": {"age": [1]}}]}}, 800, None),
    ("add: date variable gets 2017-1-1", "POST", "/addressbooks/{book}/emails",
     {"json": {"emails": [{"email": "new@example.com", "variables": {"birthday": "2017-1-1"}}]}}, 800, None),
    ("add: date variable gets 2017-02-30", "POST", "/addressbooks/{book}/emails",
     {"json": {"emails": [{"email": "new@example.com", "variables": {"birthday": "2017-02-30"}}]}}, 800, None),
    ("add: date variable gets a number", "POST", "/addressbooks/{book}/emails",
     {"json": {"emails": [{"email": "new@example.com", "variables": {"birthday": 20170101}}]}}, 800, None),
    ("add: date variable gets 01.02.2017", "POST", "/addressbooks/{book}/emails",
     {"json": {"emails": [{"email": "new@example.com", "variables": {"birthday": "01.02.2017"}}]}}, 800, None),
    ("add: type declared in the same batch, then violated", "POST", "/addressbooks/{book}/emails",
     {"json": {"emails": [{"email": "new1@example.com", "variables": {"score": 5}},
                          {"email": "new2@example.com", "variables": {"score": "five"}}]}}, 800, None),
    ("add: bad Phone variable", "POST", "/addressbooks/{book}/emails",
     {"json": {"emails": [{"email": "new@example.com", "variables": {"Phone": "call me"}}]}}, 800, None),
    ("add: double opt-in without sender", "POST", "/addressbooks/{book}/emails",
     {"json": {"emails": ["new@example.com"], "confirmation": "force", "message_lang": "en"}}, 10, None),
    ("add: double opt-in unknown sender", "POST", "/addressbooks/{book}/emails",
     {"json": {"emails": ["new@example.com"], "confirmation": "force", "sender_email": "nobody@example.com",
               "message_lang": "en"}}, 1003, None),
    ("add: double opt-in inactive sender", "POST", "/addressbooks/{book}/emails",
     {"json": {"emails": ["new@example.com"], "confirmation": "force", "sender_email": "me@example.com",
               "message_lang": "en"}}, 800, None),
    ("add: double opt-in bad sender address", "POST", "/addressbooks/{book}/emails",
     {"json": {"emails": ["new@example.com"], "confirmation": "force", "sender_email": "me-at-example",
               "message_lang": "en"}}, 906, None),
    ("add: confirmation not force", "POST", "/addressbooks/{book}/emails",
     {"json": {"emails": ["new@example.com"], "confirmation": "maybe"}}, 800, None),
    ("add: double opt-in bad language", "POST", "/addressbooks/{book}/emails",
     {"json": {"emails": ["new@example.com"], "confirmation": "force", "sender_email": "me@example.com",
               "message_lang": "xx"}}, 800, None),
    # ---- DELETE /addressbooks/{id}/emails
    ("delete contacts: no emails", "DELETE", "/addressbooks/{book}/emails", {}, 8, None),
    ("delete contacts: one bad address", "DELETE", "/addressbooks/{book}/emails",
     {"json": {"emails": ["ann@example.com", "bad@", "bob@example.com"]}}, 906, None),
    ("delete contacts: more than 100", "DELETE", "/addressbooks/{book}/emails",
     {"json": {"emails": ["ann@example.com", *_many(100)]}}, 800, None),
    ("delete contacts: unknown book", "DELETE", f"/addressbooks/{NEVER_BOOK}/emails",
     {"json": {"emails": ["ann@example.com"]}}, 213, None),
    # ---- change a variable (document 004: number only numbers, date only YYYY-MM-DD)
    *[(f"variable {verb}: {label}", verb, "/addressbooks/{book}/emails/variable", kw, code, bug)
      for verb in ("POST", "PUT")
      for label, kw, code, bug in [
          ("no body", {}, 1101, None),
          ("no email", {"json": {"variables": [{"name": "name", "value": "X"}]}}, 1101, None),
          ("bad email", {"json": {"email": "ann-at-example.com", "variables": {"name": "X"}}}, 906, None),
          ("email as a list", {"json": {"email": ["ann@example.com"], "variables": {"name": "X"}}}, 906, None),
          ("no variables", {"json": {"email": "ann@example.com"}}, 8, None),
          ("empty variables", {"json": {"email": "ann@example.com", "variables": []}}, 8, None),
          ("variables not JSON", {"json": {"email": "ann@example.com", "variables": "notjson"}}, 800, None),
          ("variables a number", {"json": {"email": "ann@example.com", "variables": 7}}, 800, None),
          ("unknown contact", {"json": {"email": "nobody@example.com", "variables": {"name": "X"}}}, 17, None),
          ("number gets text", {"json": {"email": "ann@example.com",
                                         "variables": [{"name": "age", "value": "abc"}]}}, 800, None),
          ("number gets NaN", {"json": {"email": "ann@example.com", "variables": {"age": "NaN"}}}, 800, None),
          ("number gets Infinity", {"json": {"email": "ann@example.com", "variables": {"age": "Infinity"}}},
           800, None),
          ("number gets 1,5", {"json": {"email": "ann@example.com", "variables": {"age": "1,5"}}}, 800, None),
          ("number gets a date", {"json": {"email": "ann@example.com", "variables": {"age": "2017-01-01"}}},
           800, None),
          ("date gets 2017-1-1", {"json": {"email": "ann@example.com",
                                           "variables": [{"name": "birthday", "value": "2017-1-1"}]}}, 800, None),
          ("date gets 2017-13-01", {"json": {"email": "ann@example.com", "variables": {"birthday": "2017-13-01"}}},
           800, None),
          ("date gets a datetime", {"json": {"email": "ann@example.com",
                                             "variables": {"birthday": "2017-01-01 10:00:00"}}}, 800, None),
          ("date gets a number", {"json": {"email": "ann@example.com", "variables": {"birthday": 5}}}, 800, None),
          ("100k value", {"json": {"email": "ann@example.com", "variables": {"name": "v" * LONG}}}, 800, None),
          ("100k name", {"json": {"email": "ann@example.com", "variables": {"v" * LONG: "x"}}}, 800, None),
          ("CRLF name", {"json": {"email": "ann@example.com", "variables": {"x\r\nBcc": "y"}}}, 800, None),
          ("good variable + bad phone", {"json": {"email": "ann@example.com",
                                                  "variables": {"name": "Changed", "Phone": "not a phone"}}},
           800, None),
          ("good variable + bad date", {"json": {"email": "ann@example.com",
                                                 "variables": {"name": "Changed", "birthday": "soon"}}}, 800, None),
      ]],
    ("variable: unknown book", "POST", f"/addressbooks/{NEVER_BOOK}/emails/variable",
     {"json": {"email": "ann@example.com", "variables": {"name": "X"}}}, 213, None),
    # ---- unsubscribe
    ("unsubscribe: no emails", "POST", "/addressbooks/{book}/emails/unsubscribe", {}, 8, None),
    ("unsubscribe: one bad address", "POST", "/addressbooks/{book}/emails/unsubscribe",
     {"json": {"emails": ["ann@example.com", "bad"]}}, 906, None),
    ("unsubscribe: unknown book", "POST", f"/addressbooks/{NEVER_BOOK}/emails/unsubscribe",
     {"json": {"emails": ["ann@example.com"]}}, 213, None),
    # ---- phone
    *[(f"phone {verb}: {label}", verb, path, kw, code, None)
      for verb in ("PUT", "POST")
      for label, path, kw, code in [
          ("no body", "/addressbooks/{book}/phone", {}, 1101),
          ("bad email", "/addressbooks/{book}/phone", {"json": {"email": "x", "phone": "380501112233"}}, 906),
          ("no phone", "/addressbooks/{book}/phone", {"json": {"email": "ann@example.com"}}, 8),
          ("letters", "/addressbooks/{book}/phone", {"json": {"email": "ann@example.com", "phone": "abc"}}, 800),
          ("too short", "/addressbooks/{book}/phone", {"json": {"email": "ann@example.com", "phone": "123"}}, 800),
          ("100k digits", "/addressbooks/{book}/phone",
           {"json": {"email": "ann@example.com", "phone": "1" * LONG}}, 800),
          ("phone object", "/addressbooks/{book}/phone",
           {"json": {"email": "ann@example.com", "phone": {"n": "380501112233"}}}, 800),
          ("unknown contact", "/addressbooks/{book}/phone",
           {"json": {"email": "nobody@example.com", "phone": "380501112233"}}, 17),
          ("unknown book", f"/addressbooks/{NEVER_BOOK}/phone",
           {"json": {"email": "ann@example.com", "phone": "380501112233"}}, 213),
      ]],
    # ---- campaigns / cost of a book
    ("book campaigns: unknown", "GET", f"/addressbooks/{NEVER_BOOK}/campaigns", {}, 213, None),
    ("book campaigns: limit abc", "GET", "/addressbooks/{book}/campaigns", {"params": {"limit": "abc"}}, 8, None),
    ("book cost: unknown", "GET", f"/addressbooks/{NEVER_BOOK}/cost", {}, 213, None),
    ("book cost: abc", "GET", "/addressbooks/abc/cost", {}, 213, None),
    # ---- /emails
    ("bulk info: no emails", "POST", "/emails", {}, 8, None),
    ("bulk info: emails number", "POST", "/emails", {"json": {"emails": 5}}, 906, None),
    ("bulk info: one bad", "POST", "/emails", {"json": {"emails": ["ann@example.com", "nope"]}}, 906, None),
    ("bulk campaigns: no emails", "POST", "/emails/campaigns", {}, 8, None),
    ("bulk campaigns: emails number", "POST", "/emails/campaigns", {"json": {"emails": 5}}, 906, None),
    ("bulk campaigns: one bad", "POST", "/emails/campaigns", {"json": {"emails": ["x@", "ann@example.com"]}},
     906, None),
    ("email info: unknown", "GET", "/emails/nobody@example.com", {}, 17, None),
    ("email info: bad", "GET", "/emails/not-an-address", {}, 906, None),
    ("email info: NUL", "GET", "/emails/a%00n@example.com", {}, 404, None),  # NUL path
    ("email details: unknown", "GET", "/emails/nobody@example.com/details", {}, 17, None),
    ("email details: bad", "GET", "/emails/not-an-address/details", {}, 906, None),
    ("email campaigns: bad", "GET", "/emails/not-an-address/campaigns", {}, 906, None),
    ("email delete: unknown", "DELETE", "/emails/nobody@example.com", {}, 17, None),
    ("email delete: bad", "DELETE", "/emails/not-an-address", {}, 906, None),
    ("email delete: blacklisted only", "DELETE", "/emails/black@example.com", {}, 17, None),
    # ---- blacklist
    ("blacklist list: limit abc", "GET", "/blacklist", {"params": {"limit": "abc"}}, 8, None),
    ("blacklist list: negative offset", "GET", "/blacklist", {"params": {"offset": -1}}, 8, None),
    ("blacklist add: nothing", "POST", "/blacklist", {}, 1101, None),
    ("blacklist add: empty", "POST", "/blacklist", {"json": {"emails": ""}}, 1101, None),
    ("blacklist add: not base64", "POST", "/blacklist", {"json": {"emails": "!!!not base64!!!"}}, 8, None),
    ("blacklist add: base64 list with one bad", "POST", "/blacklist",
     {"json": {"emails": b64("new1@example.com,broken,new2@example.com")}}, 906, None),
    ("blacklist add: plain list with one bad", "POST", "/blacklist",
     {"json": {"email": "new1@example.com, broken@", "comment": b64("why")}}, 906, None),
    ("blacklist add: JSON list with one bad", "POST", "/blacklist",
     {"json": {"emails": ["new1@example.com", "broken"]}}, 906, None),
    ("blacklist add: emails number", "POST", "/blacklist", {"json": {"emails": 5}}, 906, None),
    ("blacklist add: 100k comment", "POST", "/blacklist",
     {"json": {"emails": b64("new@example.com"), "comment": "c " * (LONG // 2)}}, 800, None),
    ("blacklist remove: nothing", "DELETE", "/blacklist", {}, 1101, None),
    ("blacklist remove: one bad", "DELETE", "/blacklist",
     {"json": {"emails": b64("black@example.com,broken")}}, 906, None),
    # ---- senders
    ("sender add: nothing", "POST", "/senders", {}, 903, None),
    ("sender add: no name", "POST", "/senders", {"json": {"email": "new@example.com"}}, 901, None),
    ("sender add: no email", "POST", "/senders", {"json": {"name": "New"}}, 903, None),
    ("sender add: name object", "POST", "/senders", {"json": {"email": "new@example.com", "name": {"a": 1}}},
     901, None),
    ("sender add: bad email", "POST", "/senders", {"json": {"email": "new-at-example", "name": "New"}}, 906, None),
    ("sender add: 100k email", "POST", "/senders", {"json": {"email": "a" * LONG + "@example.com", "name": "N"}},
     906, None),
    ("sender add: CRLF in email", "POST", "/senders",
     {"json": {"email": "new@example.com\r\nBcc: victim@example.com", "name": "New"}}, 906, None),
    ("sender add: 100k name", "POST", "/senders", {"json": {"email": "new@example.com", "name": "n" * LONG}},
     800, None),
    ("sender add: CRLF name", "POST", "/senders",
     {"json": {"email": "new@example.com", "name": "New\r\nBcc: victim@example.com"}}, 800, None),
    ("sender add: duplicate", "POST", "/senders", {"json": {"email": "ME@example.com", "name": "Again"}}, 902, None),
    ("sender add: NUL in email", "POST", "/senders", {"json": {"email": "n\x00ew@example.com", "name": "N"}},
     8, None),
    ("sender delete: nothing", "DELETE", "/senders", {}, 903, None),
    ("sender delete: bad", "DELETE", "/senders", {"json": {"email": "nope"}}, 906, None),
    ("sender delete: unknown", "DELETE", "/senders", {"json": {"email": "nobody@example.com"}}, 704, None),
    ("sender code: unknown", "GET", "/senders/nobody@example.com/code", {}, 1003, None),
    ("sender code: bad", "GET", "/senders/nope/code", {}, 906, None),
    ("sender activate: no code", "POST", "/senders/{sender}/code", {}, 1104, None),
    ("sender activate: empty code", "POST", "/senders/{sender}/code", {"json": {"code": "  "}}, 1104, None),
    ("sender activate: code object", "POST", "/senders/{sender}/code", {"json": {"code": {"a": 1}}}, 1104, None),
    ("sender activate: no code requested", "POST", "/senders/{sender}/code", {"json": {"code": "abc"}}, 21, None),
    ("sender activate: unknown", "POST", "/senders/nobody@example.com/code", {"json": {"code": "abc"}}, 1003, None),
    ("sender activate: bad", "POST", "/senders/nope/code", {"json": {"code": "abc"}}, 906, None),
    # ---- templates
    ("template create: nothing", "POST", "/template", {}, 13, None),
    ("template create: no body", "POST", "/template", {"json": {"name": "T", "lang": "en"}}, 13, None),
    ("template create: empty body", "POST", "/template", {"json": {"body": "", "lang": "en"}}, 13, None),
    ("template create: blank body", "POST", "/template", {"json": {"body": "   ", "lang": "en"}}, 13, None),
    ("template create: base64 of blanks", "POST", "/template", {"json": {"body": b64("  \n "), "lang": "en"}},
     13, None),
    ("template create: body object", "POST", "/template", {"json": {"body": {"html": "x"}, "lang": "en"}}, 13, None),
    ("template create: body number", "POST", "/template", {"json": {"body": 5, "lang": "en"}}, 13, None),
    ("template create: body not base64", "POST", "/template", {"json": {"body": "<p>hi</p>", "lang": "en"}}, 8, None),
    ("template create: no lang", "POST", "/template", {"json": {"body": b64("<p/>")}}, 800, None),
    ("template create: bad lang", "POST", "/template", {"json": {"body": b64("<p/>"), "lang": "xx"}}, 800, None),
    ("template create: 100k name", "POST", "/template",
     {"json": {"name": "n" * LONG, "body": b64("<p/>"), "lang": "en"}}, 800, None),
    ("template create: CRLF name", "POST", "/template",
     {"json": {"name": "T\r\nX-Injected: 1", "body": b64("<p/>"), "lang": "en"}}, 800, None),
    ("template create: 3 MB body", "POST", "/template",
     {"json": {"body": b64("x" * (3 * 1024 * 1024)), "lang": "en"}}, 800, None),
    *[(f"template edit {verb}: {label}", verb, path, kw, code, bug)
      for verb in ("POST", "PUT")
      for label, path, kw, code, bug in [
          ("no body", "/template/edit/{real_id}", {}, 13, None),
          ("body not base64", "/template/edit/{real_id}", {"json": {"body": "<p>x</p>"}}, 8, None),
          ("language change", "/template/edit/{real_id}", {"json": {"body": b64("<p>x</p>"), "lang": "ru"}},
           800, None),
          ("bad language", "/template/edit/{real_id}", {"json": {"body": b64("<p>x</p>"), "lang": "xx"}}, 800, None),
          ("system template", "/template/edit/{system_id}", {"json": {"body": b64("<p>x</p>")}}, 800, None),
          ("unknown real_id", f"/template/edit/{NEVER_TEMPLATE}", {"json": {"body": b64("<p>x</p>")}}, 404, None),
          ("unknown uid", "/template/edit/" + "0" * 32, {"json": {"body": b64("<p>x</p>")}}, 404, None),
          ("abc", "/template/edit/abc", {"json": {"body": b64("<p>x</p>")}}, 404, None),
          ("superscript two", "/template/edit/%C2%B2", {"json": {"body": b64("<p>x</p>")}}, 404, None),
          ("past int4", f"/template/edit/{2 ** 31}", {"json": {"body": b64("<p>x</p>")}}, 404, None),
      ]],
    ("template info: unknown real_id", "GET", f"/template/{NEVER_TEMPLATE}", {}, 404, None),
    ("template info: unknown uid", "GET", "/template/" + "f" * 32, {}, 404, None),
    ("template info: abc", "GET", "/template/abc", {}, 404, None),
    ("template info: superscript two", "GET", "/template/%C2%B2", {}, 404, None),
    ("template info: past int4", "GET", f"/template/{2 ** 31}", {}, 404, None),
    ("template info: NUL", "GET", "/template/a%00b", {}, 404, None),
    ("template slug: unknown", "GET", "/template/slug/never-such-slug", {}, 404, None),
    ("template slug: NUL", "GET", "/template/slug/mi%00ne", {}, 404, None),
    ("templates: limit abc", "GET", "/templates", {"params": {"limit": "abc"}}, 8, None),
    ("templates: negative offset", "GET", "/templates", {"params": {"offset": -3}}, 8, None),
    ("templates: bad owner", "GET", "/templates", {"params": {"owner": "them"}}, 800, None),
    ("templates by lang: bad lang", "GET", "/templates/xx", {}, 800, None),
    ("templates by lang: limit abc", "GET", "/templates/en", {"params": {"limit": "abc"}}, 8, None),
    # ---- SMTP service
    *[(f"smtp send: {label}", "POST", "/smtp/emails", {"json": {"email": email}}, code, None)
      for label, email, code in [
          ("no email", None, 8),
          ("email list", ["x"], 8),
          ("no from", {"subject": "s", "to": [{"email": "t@example.com"}], "text": "t"}, 10),
          ("bad from", {"subject": "s", "from": {"email": "nope"}, "to": [{"email": "t@example.com"}], "text": "t"},
           906),
          ("no to", {"subject": "s", "from": {"email": "f@example.com"}, "text": "t"}, 11),
          ("to number", {"subject": "s", "from": {"email": "f@example.com"}, "to": 5, "text": "t"}, 11),
          ("one bad recipient", {"subject": "s", "from": {"email": "f@example.com"}, "text": "t",
                                 "to": [{"email": "t@example.com"}, {"email": "x@"}]}, 906),
          ("no content", {"subject": "s", "from": {"email": "f@example.com"}, "to": [{"email": "t@example.com"}]}, 13),
          ("no subject", {"from": {"email": "f@example.com"}, "to": [{"email": "t@example.com"}], "text": "t"}, 720),
          ("100k subject", {"subject": "s" * LONG, "from": {"email": "f@example.com"},
                            "to": [{"email": "t@example.com"}], "text": "t"}, 8),
          ("CRLF in subject", {"subject": "s\r\nBcc: x@example.com", "from": {"email": "f@example.com"},
                               "to": [{"email": "t@example.com"}], "text": "t"}, 800),
          ("CRLF in a name", {"subject": "s", "from": {"email": "f@example.com", "name": "a\nb"},
                              "to": [{"email": "t@example.com"}], "text": "t"}, 800),
          ("reserved header", {"subject": "s", "from": {"email": "f@example.com"}, "to": [{"email": "t@example.com"}],
                               "text": "t", "headers": {"From": "x@example.com"}}, 800),
          ("attachments list", {"subject": "s", "from": {"email": "f@example.com"},
                                "to": [{"email": "t@example.com"}], "text": "t", "attachments": ["x"]}, 8),
          ("binary attachment not base64", {"subject": "s", "from": {"email": "f@example.com"},
                                            "to": [{"email": "t@example.com"}], "text": "t",
                                            "attachments_binary": {"a": "!!"}}, 8),
          ("unknown template", {"subject": "s", "from": {"email": "f@example.com"},
                                "to": [{"email": "t@example.com"}], "template": {"id": NEVER_TEMPLATE}}, 404),
          ("template object id", {"subject": "s", "from": {"email": "f@example.com"},
                                  "to": [{"email": "t@example.com"}], "template": {"id": {"a": 1}}}, 8),
          ("template variables list", {"subject": "s", "from": {"email": "f@example.com"},
                                       "to": [{"email": "t@example.com"}], "variables": {"a": 1},
                                       "template": {"id": NEVER_TEMPLATE, "variables": ["x"]}}, 8),
          ("non-ASCII local part", {"subject": "s", "from": {"email": "f@example.com"}, "text": "t",
                                    "to": [{"email": "üser@example.com"}]}, 800),
          ("998-character word in the subject", {"subject": "s" * 990, "from": {"email": "f@example.com"},
                                                 "to": [{"email": "t@example.com"}], "text": "t"}, 800),
          ("5,000-character header", {"subject": "s", "from": {"email": "f@example.com"}, "text": "t",
                                      "to": [{"email": "t@example.com"}], "headers": {"X-Long": "x" * 5000}}, 800),
          ("1001 recipients", {"subject": "s", "from": {"email": "f@example.com"}, "text": "t",
                               "to": [{"email": f"r{i}@example.com"} for i in range(1001)]}, 8),
      ]],
    ("smtp list: limit abc", "GET", "/smtp/emails", {"params": {"limit": "abc"}}, 8, None),
    ("smtp list: bad date", "GET", "/smtp/emails", {"params": {"from": "01/02/2024"}}, 799, None),
    ("smtp info: unknown", "GET", "/smtp/emails/" + "0" * 32, {}, 404, None),
    ("smtp info: NUL", "GET", "/smtp/emails/a%00b", {}, 404, None),
    ("smtp unsubscribe: nothing", "POST", "/smtp/unsubscribe", {}, 1101, None),
    ("smtp unsubscribe: one bad", "POST", "/smtp/unsubscribe",
     {"json": {"emails": [{"email": "a@example.com"}, {"email": "nope"}]}}, 906, None),
    ("smtp unsubscribe: 100k comment", "POST", "/smtp/unsubscribe",
     {"json": {"emails": [{"email": "a@example.com", "comment": "c" * LONG}]}}, 800, None),
    ("smtp unsubscribe remove: nothing", "DELETE", "/smtp/unsubscribe", {}, 1101, None),
    ("smtp unsubscribe list: bad day", "GET", "/smtp/unsubscribe", {"params": {"day": "yesterday"}}, 799, None),
    ("smtp domain add: nothing", "POST", "/smtp/domains", {}, 1101, None),
    ("smtp domain add: bad", "POST", "/smtp/domains", {"json": {"email": "nope"}}, 906, None),
    ("smtp domain add: public mailbox", "POST", "/smtp/domains", {"json": {"email": "me@gmail.com"}}, 97, None),
    ("smtp domain code: unknown domain", "GET", "/smtp/domains/x@unknown.example", {}, 404, None),
    ("smtp domain verify: no code", "POST", "/smtp/domains/{domain_email}", {}, 1104, None),
    ("smtp domain verify: no code sent", "POST", "/smtp/domains/{domain_email}", {"json": {"code": "abc"}}, 800, None),
    ("smtp domain verify: bad", "POST", "/smtp/domains/nope", {"json": {"code": "abc"}}, 906, None),
    ("smtp bounces: limit abc", "GET", "/smtp/bounces/day", {"params": {"limit": "abc"}}, 8, None),
    ("smtp bounces: bad day", "GET", "/smtp/bounces/day", {"params": {"day": "2024-13-45"}}, 799, None),
    ("smtp bounces: last day of time", "GET", "/smtp/bounces/day", {"params": {"day": "9999-12-31"}}, 799, None),
    ("smtp unsubscribe list: last day of time", "GET", "/smtp/unsubscribe", {"params": {"day": "9999-12-31"}}, 799,
     None),
    # ---- captured mail
    ("capture list: limit abc", "GET", "/capture/messages", {"params": {"limit": "abc"}}, 8, None),
    ("capture read: unknown", "GET", "/capture/messages/{capture_id}", {}, 404, None),
    ("capture read: abc", "GET", "/capture/messages/abc", {}, 404, None),
    ("capture download: unknown", "GET", "/capture/messages/{capture_id}.eml", {}, 404, None),
    # ---- balance
    ("balance: other currency", "GET", "/balance/EUR", {}, 800, None),
    ("balance: long currency", "GET", "/balance/" + "X" * 5000, {}, 800, None),
    # ---- segments (ours)
    ("segment: no body", "POST", "/addressbooks/{book}/segments", {}, 8, None),
    ("segment: no name", "POST", "/addressbooks/{book}/segments", {"json": {"filter": SEGMENT_FILTER}}, 8, None),
    ("segment: unknown condition", "POST", "/addressbooks/{book}/segments",
     {"json": {"name": "S", "filter": {**SEGMENT_FILTER, "conditions": [{"condition": "near", "value": 1}]}}}, 8, None),
    ("segment: 21 filters", "POST", "/addressbooks/{book}/segments",
     {"json": {"name": "S", "filters": [SEGMENT_FILTER] * 21}}, 8, None),
    ("segment: operator xor", "POST", "/addressbooks/{book}/segments",
     {"json": {"name": "S", "filters": [SEGMENT_FILTER], "operator": "xor"}}, 8, None),
    ("segment: unknown list", "POST", f"/addressbooks/{NEVER_BOOK}/segments", {"json": {"name": "S", "filter": SEGMENT_FILTER}},
     213, None),
    ("segments: unknown list", "GET", f"/addressbooks/{NEVER_BOOK}/segments", {}, 213, None),
    ("segment: unknown", "GET", f"/addressbooks/{{book}}/segments/{NEVER_BOOK}", {}, 703, None),
    ("segment: of another list", "GET", "/addressbooks/{book2}/segments/{segment}", {}, 703, None),
    ("segment: 30 digits", "GET", "/addressbooks/{book}/segments/" + "9" * 30, {}, 703, None),
    ("segment delete: unknown", "DELETE", f"/addressbooks/{{book}}/segments/{NEVER_BOOK}", {}, 703, None),
    ("segment count: unknown", "GET", f"/addressbooks/{{book}}/segments/{NEVER_BOOK}/count", {}, 703, None),
    # ---- campaigns (document 004): every documented error, nothing stored or sent
    ("campaign: no body at all", "POST", "/campaigns", {}, 701, None),
    ("campaign: no sender name", "POST", "/campaigns", {"json": {**CAMPAIGN, "sender_name": ""}}, 701, None),
    ("campaign: no sender email", "POST", "/campaigns", {"json": {**CAMPAIGN, "sender_email": None}}, 701, None),
    ("campaign: bad sender email", "POST", "/campaigns", {"json": {**CAMPAIGN, "sender_email": "not-an-address"}},
     906, None),
    ("campaign: empty subject", "POST", "/campaigns", {"json": {**CAMPAIGN, "subject": "  "}}, 720, None),
    ("campaign: subject object", "POST", "/campaigns", {"json": {**CAMPAIGN, "subject": {"a": 1}}}, 720, None),
    ("campaign: no body or template", "POST", "/campaigns", {"json": {**CAMPAIGN, "body": None}}, 721, None),
    ("campaign: body a list", "POST", "/campaigns", {"json": {**CAMPAIGN, "body": ["x"]}}, 721, None),
    ("campaign: unknown template", "POST", "/campaigns", {"json": {**CAMPAIGN, "body": None, "template_id": "9" * 30}},
     721, None),
    ("campaign: no list", "POST", "/campaigns", {"json": {**CAMPAIGN, "list_id": None}}, 722, None),
    ("campaign: unknown list", "POST", "/campaigns", {"json": {**CAMPAIGN, "list_id": NEVER_BOOK}}, 703, None),
    ("campaign: list id 40 digits", "POST", "/campaigns", {"json": {**CAMPAIGN, "list_id": "9" * 40}}, 703, None),
    ("campaign: one unknown list of two", "POST", "/campaigns", {"json": {**CAMPAIGN, "list_id": ["{book}", NEVER_BOOK]}},
     703, None),
    ("campaign: segment", "POST", "/campaigns", {"json": {**CAMPAIGN, "list_id": None, "segment_id": 5}}, 703, None),
    ("campaign: malformed date", "POST", "/campaigns", {"json": {**CAMPAIGN, "send_date": "2030-02-30 10:00:00"}},
     799, None),
    ("campaign: past date", "POST", "/campaigns", {"json": {**CAMPAIGN, "send_date": "2001-01-01 00:00:00"}}, 799, None),
    ("campaign: six attachments", "POST", "/campaigns",
     {"json": {**CAMPAIGN, "attachments": {f"{i}.txt": "x" for i in range(6)}}}, 8, None),
    ("campaign: stats a list", "POST", "/campaigns", {"json": {**CAMPAIGN, "stats": [1, 2]}}, 8, None),
    ("campaign: CRLF in the subject", "POST", "/campaigns", {"json": {**CAMPAIGN, "subject": "a\r\nBcc: x@y.z"}},
     800, None),
    ("campaign list: order sideways", "GET", "/campaigns", {"params": {"order": "up"}}, 8, None),
    ("campaign list: status word", "GET", "/campaigns", {"params": {"status[]": "sent"}}, 8, None),
    ("campaign list: limit abc", "GET", "/campaigns", {"params": {"limit": "abc"}}, 8, None),
    ("campaign info: unknown", "GET", f"/campaigns/{NEVER_BOOK}", {}, 802, None),
    ("campaign info: 60 digits", "GET", "/campaigns/" + "9" * 60, {}, 802, None),
    ("campaign edit: past date", "PATCH", "/campaigns/{campaign}", {"json": {"send_date": "2001-01-01 00:00:00"}},
     799, None),
    ("campaign edit: unknown", "PATCH", f"/campaigns/{NEVER_BOOK}", {"json": {"name": "x"}}, 802, None),
    ("campaign edit: empty subject", "PATCH", "/campaigns/{campaign}", {"json": {"subject": ""}}, 720, None),
    ("campaign cancel: unknown", "DELETE", f"/campaigns/{NEVER_BOOK}", {}, 802, None),
    ("campaign countries: unknown", "GET", f"/campaigns/{NEVER_BOOK}/countries", {}, 802, None),
    ("campaign referrals: unknown", "GET", f"/campaigns/{NEVER_BOOK}/referrals", {}, 802, None),
    ("campaign email: not sent to it", "GET", "/campaigns/{campaign}/email/{email}", {}, 502, None),
    ("campaign email: bad address", "GET", "/campaigns/{campaign}/email/nobody", {}, 906, None),
    ("webhook: no body", "POST", "/v2/email-service/webhook", {}, 8, None),
    ("webhook: unknown action", "POST", "/v2/email-service/webhook",
     {"json": {"url": "https://93.184.215.14/x", "actions": ["explode"]}}, 800, None),
    ("webhook: actions a number", "POST", "/v2/email-service/webhook",
     {"json": {"url": "https://93.184.215.14/x", "actions": 5}}, 800, None),
    ("webhook: javascript url", "POST", "/v2/email-service/webhook",
     {"json": {"url": "javascript:alert(1)", "actions": ["open"]}}, 800, None),
    ("webhook: loopback", "POST", "/v2/email-service/webhook",
     {"json": {"url": "http://localhost:8080/x", "actions": ["open"]}}, 800, None),
    ("webhook: 3000-character url", "POST", "/v2/email-service/webhook",
     {"json": {"url": "https://93.184.215.14/" + "a" * 3000, "actions": ["open"]}}, 800, None),
    ("webhook info: unknown", "GET", f"/v2/email-service/webhook/{NEVER_BOOK}", {}, 404, None),
    ("webhook info: 60 digits", "GET", "/v2/email-service/webhook/" + "9" * 60, {}, 404, None),
    ("webhook update: no url", "PUT", "/v2/email-service/webhook/{webhook}", {"data": {}}, 8, None),
    ("webhook update: metadata address", "PUT", "/v2/email-service/webhook/{webhook}",
     {"data": {"url": "http://169.254.169.254/latest"}}, 800, None),
    ("webhook delete: unknown", "DELETE", f"/v2/email-service/webhook/{NEVER_BOOK}", {}, 404, None),
    ("webhook secret: unknown", "POST", f"/v2/email-service/webhook/{NEVER_BOOK}/secret", {}, 404, None),
    ("webhook log: unknown", "GET", f"/v2/email-service/webhook/{NEVER_BOOK}/log", {}, 404, None),
    # ---- web push
    ("push tasks: negative limit", "GET", "/push/tasks", {"params": {"limit": -1}}, 8, None),
    ("push tasks: from not a date", "GET", "/push/tasks", {"params": {"from": "yesterday"}}, 8, None),
    ("push task: no body", "POST", "/push/tasks", {}, 8, None),
    ("push task: ttl above a day", "POST", "/push/tasks",
     {"json": {"title": "t", "website_id": "{push_site}", "body": "b", "ttl": 86401}}, 8, None),
    ("push task: three buttons", "POST", "/push/tasks",
     {"json": {"title": "t", "website_id": "{push_site}", "body": "b", "ttl": 60,
               "buttons": [{"text": "a", "link": "https://a.example"}] * 3}}, 8, None),
    ("push task: too large for a push message", "POST", "/push/tasks",
     {"json": {"title": "t", "website_id": "{push_site}", "body": "€" * 1500, "ttl": 60}}, 8, None),
    ("push task: javascript link", "POST", "/push/tasks",
     {"json": {"title": "t", "website_id": "{push_site}", "body": "b", "ttl": 60, "link": "javascript:1"}}, 8, None),
    ("push task stats: unknown", "GET", f"/push/tasks/{NEVER_BOOK}", {}, 404, None),
    ("push task stats: 60 digits", "GET", "/push/tasks/" + "9" * 60, {}, 404, None),
    ("push websites: offset a word", "GET", "/push/websites", {"params": {"offset": "many"}}, 8, None),
    ("push website: no url", "POST", "/push/websites", {"json": {}}, 8, None),
    ("push website: ftp url", "POST", "/push/websites", {"json": {"url": "ftp://shop.example.com"}}, 8, None),
    ("push website info: unknown", "GET", f"/push/websites/info/{NEVER_BOOK}", {}, 404, None),
    ("push website code: unknown", "GET", f"/push/websites/{NEVER_BOOK}/code", {}, 404, None),
    ("push website variables: unknown", "GET", f"/push/websites/{NEVER_BOOK}/variables", {}, 404, None),
    ("push subscribers: unknown", "GET", f"/push/websites/{NEVER_BOOK}/subscriptions", {}, 404, None),
    ("push subscribers: limit a word", "GET", "/push/websites/{push_site}/subscriptions",
     {"params": {"limit": "all"}}, 8, None),
    ("push subscriber count: unknown", "GET", f"/push/websites/{NEVER_BOOK}/subscriptions/total", {}, 404, None),
    ("push subscriber state: 2", "POST", "/push/subscriptions/state", {"json": {"id": 1, "state": 2}}, 8, None),
    ("push subscriber state: unknown", "POST", "/push/subscriptions/state",
     {"json": {"id": NEVER_BOOK, "state": 1}}, 404, None),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "code", "bug"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_input_is_refused_and_changes_nothing(request, backend, ctx, method, path, kwargs, code, bug):
    mark_bug(request, backend, bug)
    if bug and bug[0] in ("all", backend):  # a known bug may write: a world of its own, not the shared one
        api, world = request.getfixturevalue("api"), request.getfixturevalue("world")
    else:
        api, world = request.getfixturevalue("quiet")
    refused(api, ctx, world, method, path, kwargs, code)


def test_cases_cover_every_route():
    """Each route of the table has at least one handler-level case above (besides the matrices)."""
    covered = set()
    for _, method, path, _, _, _ in CASES:
        bare = _PLACEHOLDER.sub("1", path.split("?")[0])
        for r in ROUTES:
            if isinstance(r, Route) and method in r.methods and r.path_regex.match(bare):
                covered.add((r.path, method))
                break
    parameterless = {("/senders", "GET"), ("/balance", "GET"), ("/user/balance/detail", "GET"),
                     ("/oauth/access_token", "POST"), ("/smtp/ips", "GET"), ("/smtp/domains", "GET"),
                     ("/capture/messages", "DELETE"), ("/v2/email-service/webhook", "GET"),
                     ("/push/websites/total", "GET")}  # no input but the
    # body: the matrices cover them
    assert set(API_ROUTES) - parameterless - covered == set()


# ---------------------------------------------------------------- 6. values that must not 500

NUL_VALUES = [
    ("variable value", "POST", "/addressbooks/{book}/emails",
     {"json": {"emails": [{"email": "nul@example.com", "variables": {"note": "a\x00b"}}]}}, None),
    ("blacklist comment", "POST", "/blacklist", {"json": {"emails": b64("nul@example.com"), "comment": "a\x00b c"}}, None),
    ("template body", "POST", "/template", {"json": {"body": b64("<p>a\x00b</p>"), "lang": "en"}}, None),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "bug"), [c[1:] for c in NUL_VALUES],
                         ids=[c[0] for c in NUL_VALUES])
def test_nul_in_free_text_is_stored_or_refused_never_500(request, backend, api, ctx, world, method, path, kwargs,
                                                         bug):
    """No document forbids a NUL in free text: storing it (and reading it back) or refusing it with a
    4xx error that writes nothing are both fine; a 500 is not."""
    mark_bug(request, backend, bug)
    before = db_state(ctx, api.id)
    answer = call(api, world, method, path, kwargs)
    if answer.status == 200:
        assert "\\x00" in repr(db_state(ctx, api.id))
    else:
        assert_error(answer)
        assert db_state(ctx, api.id) == before


def test_searching_a_variable_for_a_nul_value_finds_nothing(api, world):
    """A path with a NUL names nothing that can exist: 404, never a 500."""
    answer = api.get(f"/addressbooks/{world.book}/variables/name/A%00n")
    assert answer.status == 404 and answer.json["is_error"] is True


def test_string_variable_accepts_numbers_and_dates(api, world):
    """Document 004: string variables also take numbers and dates, so these are not bad input."""
    answer = api.post(f"/addressbooks/{world.book}/emails/variable",
                      json={"email": world.email, "variables": [{"name": "name", "value": 42},
                                                                {"name": "age", "value": "31"},
                                                                {"name": "birthday", "value": "2017-01-01"}]})
    assert answer.json == {"result": True}
    info = api.get(f"/addressbooks/{world.book}/emails/{world.email}").json
    assert {v["name"]: v["value"] for v in info["variables"]} == \
        {"name": "42", "age": 31, "birthday": "2017-01-01"}


def test_batch_with_one_invalid_address_writes_nothing(api, ctx, world):
    before = api.get(f"/addressbooks/{world.book}/emails").json
    variables_before = api.get(f"/addressbooks/{world.book}/variables").json
    batch = [{"email": f"n{i}@example.com", "variables": {"brand_new": i}} for i in range(50)]
    batch.insert(25, {"email": "n25-at-example.com"})
    answer = api.add_contacts(world.book, batch)
    assert_error(answer, 906)
    assert api.get(f"/addressbooks/{world.book}/emails").json == before
    assert api.get(f"/addressbooks/{world.book}/variables").json == variables_before
    assert api.get(f"/addressbooks/{world.book}/emails/total").json == {"total": 2}
    assert api.get(f"/addressbooks/{world.book}").json[0]["all_email_qty"] == 2
    assert api.post("/emails", json={"emails": ["n0@example.com", "n49@example.com"]}).json == {}


def test_change_variable_failure_keeps_every_variable(api, world):
    before = api.get(f"/addressbooks/{world.book}/emails/{world.email}").json
    for variables in ({"name": "Changed", "age": "old"}, {"name": "Changed", "Phone": "x"},
                      [{"name": "name", "value": "Changed"}, {"name": "birthday", "value": "1990-5-1"}]):
        assert_error(api.post(f"/addressbooks/{world.book}/emails/variable",
                              json={"email": world.email, "variables": variables}), 800)
    assert api.get(f"/addressbooks/{world.book}/emails/{world.email}").json == before
    assert [v["name"] for v in api.get(f"/addressbooks/{world.book}/variables").json] == ["name", "age", "birthday"]


# ---------------------------------------------------------------- 7. the token endpoint

INVALID_CLIENT = {"error": "invalid_client", "error_description": "Client authentication failed.",
                  "message": "Client authentication failed.", "error_code": 1, "is_error": True}


@pytest.fixture
def account(ctx) -> dict:
    return make_account(ctx)


def _token_fields(account: dict, **changes) -> dict:
    fields = {"grant_type": "client_credentials", "client_id": account["client_id"],
              "client_secret": account["client_secret"], **changes}
    return {k: v for k, v in fields.items() if v is not ...}


BAD_CREDENTIALS = [
    ("wrong secret", {"client_secret": "nope"}, None),
    ("empty secret", {"client_secret": ""}, None),
    ("missing secret", {"client_secret": ...}, None),
    ("missing client_id", {"client_id": ...}, None),
    ("missing both", {"client_id": ..., "client_secret": ...}, None),
    ("unknown client_id", {"client_id": "0" * 32}, None),
    ("secret object", {"client_secret": {"a": 1}}, None),
    ("client_id list", {"client_id": ["x"]}, None),
    ("100k secret", {"client_secret": "s" * LONG}, None),
    ("100k client_id", {"client_id": "i" * LONG}, None),
    ("secret with CRLF", {"client_secret": "abc\r\ndef"}, None),
]


@pytest.mark.parametrize(("changes", "bug"), [c[1:] for c in BAD_CREDENTIALS], ids=[c[0] for c in BAD_CREDENTIALS])
@pytest.mark.parametrize("encoding", ["json", "form", "multipart"])
def test_bad_credentials_are_exactly_invalid_client(request, backend, ctx, client, account, changes, bug, encoding):
    if encoding != "json" and any(isinstance(v, (dict, list)) for v in changes.values()):
        pytest.skip("structured values exist only in JSON")
    mark_bug(request, backend, bug)
    fields = _token_fields(account, **changes)
    kwargs = {"json": {"json": fields}, "form": {"data": fields},
              "multipart": {"files": {k: (None, v) for k, v in fields.items()} or {"x": (None, "")}}}[encoding]
    before = db_state(ctx, account["id"])
    response = client.post("/oauth/access_token", **kwargs)
    assert response.status_code == 401, response.text
    assert response.json() == INVALID_CLIENT
    assert db_state(ctx, account["id"]) == before


@pytest.mark.parametrize("encoding", ["json", "form", "multipart"])
def test_nul_in_credentials_is_refused_without_a_token(ctx, client, account, encoding):
    """The decoding layer refuses NUL characters anywhere (error 8) before credentials are looked at."""
    fields = _token_fields(account, client_id="abc\x00def")
    kwargs = {"json": {"json": fields}, "form": {"data": fields},
              "multipart": {"files": {k: (None, v) for k, v in fields.items()}}}[encoding]
    response = client.post("/oauth/access_token", **kwargs)
    assert response.status_code == 400 and response.json()["error_code"] == 8
    assert "access_token" not in response.json()


def test_another_accounts_secret_is_invalid_client(ctx, client, account):
    second = make_account(ctx)
    response = client.post("/oauth/access_token", json=_token_fields(account, client_secret=second["client_secret"]))
    assert response.status_code == 401 and response.json() == INVALID_CLIENT


@pytest.mark.parametrize("grant", ["password", "", "CLIENT_CREDENTIALS", "client_credentials ", ...,
                                   {"a": 1}, ["client_credentials"], 1])
def test_wrong_grant_type_is_refused_without_a_token(ctx, client, account, grant):
    """Document 003: grant_type "must be client_credentials"; no code is defined for a wrong one
    (wire README item 2 covers bad credentials only), so: a 4xx error object and no token."""
    before = db_state(ctx, account["id"])
    response = client.post("/oauth/access_token", json=_token_fields(account, grant_type=grant))
    if grant == "client_credentials ":  # surrounding blanks are trimmed like every text field
        assert response.status_code == 200
        return
    assert 400 <= response.status_code < 500, response.text
    body = response.json()
    assert body["is_error"] is True and type(body["error_code"]) is int and body["message"]
    assert "access_token" not in body
    assert db_state(ctx, account["id"]) == before


@pytest.mark.parametrize(("content", "content_type"), [
    (b'{"grant_type": "client_credentials", "client_id": ', "application/json"),
    (b"[1, 2]", "application/json"),
    (b"42", "application/json"),
    (b"grant_type=client_credentials&client_id=\xff", "application/x-www-form-urlencoded"),
    (b"", "application/json"),
])
def test_malformed_token_request_is_an_error_object(ctx, client, account, content, content_type):
    before = db_state(ctx, account["id"])
    response = client.post("/oauth/access_token", content=content, headers={"content-type": content_type})
    assert 400 <= response.status_code < 500, response.text
    body = response.json()
    assert body["is_error"] is True and type(body["error_code"]) is int and "access_token" not in body
    assert db_state(ctx, account["id"]) == before


def test_token_endpoint_wrong_methods_are_405(client):
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        response = client.request(method, "/oauth/access_token")
        assert response.status_code == 405 and response.json()["error_code"] == 405


def test_fresh_token_after_failures_still_works(ctx, client, account):
    for _ in range(3):
        client.post("/oauth/access_token", json=_token_fields(account, client_secret="nope"))
    response = client.post("/oauth/access_token", json=_token_fields(account))
    assert response.status_code == 200
    token = response.json()["access_token"]
    assert client.get("/balance", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get("/balance", headers={"Authorization": f"Bearer b'{token}'"}).status_code == 401
