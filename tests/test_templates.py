"""Templates: create (base64 body), edit, info by real_id or id, slug, lists by owner and language."""

import secrets
import threading
from datetime import datetime

import pytest
from conftest import b64


def test_create_info_edit(api):
    answer = api.post("/template", json={"name": "My Template", "body": b64("<p>Привіт {{name}}</p>"), "lang": "ua"}).json
    assert answer["result"] is True and isinstance(answer["real_id"], int)
    real_id = answer["real_id"]
    info = api.get(f"/template/{real_id}").json
    assert (info["real_id"], info["name"], info["name_slug"], info["lang"], info["owner"]) == \
        (real_id, "My Template", "my-template", "ua", "me")
    assert info["body"] == "<p>Привіт {{name}}</p>" and len(info["id"]) == 32
    assert api.get(f"/template/{info['id']}").json["real_id"] == real_id
    assert api.get("/template/slug/my-template").json["real_id"] == real_id
    assert api.post(f"/template/edit/{real_id}", json={"body": b64("<p>v2</p>"), "lang": "ua"}).json == {"result": True}
    edited = api.get(f"/template/{real_id}").json
    assert edited["body"] == "<p>v2</p>" and edited["id"] != info["id"]  # id changes on every edit
    assert api.post(f"/template/edit/{real_id}", json={"body": b64("<p>v3</p>"), "lang": "en"}).status == 400
    assert api.get(f"/template/{real_id}").json["body"] == "<p>v2</p>"


def test_default_name_and_lists(api):
    real_id = api.post("/template", json={"body": b64("<b>x</b>"), "lang": "en"}).json["real_id"]
    assert api.get(f"/template/{real_id}").json["name"].startswith("Template ")
    api.post("/template", json={"name": "Ru", "body": b64("<b>y</b>"), "lang": "ru"})
    mine = api.get("/templates", params={"owner": "me"}).json
    assert {t["lang"] for t in mine} == {"en", "ru"} and all(t["owner"] == "me" for t in mine)
    system = api.get("/templates/", params={"owner": "sendpulse"}).json
    assert len(system) >= 3 and all(t["owner"] == "sendpulse" for t in system)
    assert [t["name"] for t in api.get("/templates/ru/", params={"owner": "me"}).json] == ["Ru"]
    assert len(api.get("/templates").json) == len(mine) + len(system)


def test_system_templates_read_only(api):
    system = api.get("/templates", params={"owner": "sendpulse"}).json[0]
    assert "<html" in api.get(f"/template/{system['real_id']}").json["body"]
    assert api.post(f"/template/edit/{system['real_id']}", json={"body": b64("<p>mine</p>")}).status == 400


def test_errors(api):
    assert api.post("/template", json={"lang": "en"}).error_code == 13
    assert api.post("/template", json={"body": b64("<p/>"), "lang": "xx"}).status == 400
    assert api.get("/template/999999").status == 404
    assert api.get("/template/slug/none-such").status == 404


NOT_FOUND = {"is_error": True, "message": "Template not found", "error_code": 404}


@pytest.mark.parametrize("ref", ["1" * 5000, "9" * 50, str(2**64), str(2**63), str(2**31), "0", "-1", "abc",
                                 "1e3", "１２", "x" * 5000])
def test_ids_that_name_no_template_answer_404(api, ref):
    """Out of range (even past int()'s 4,300-digit limit), negative, zero or not a number: 404."""
    assert (api.get(f"/template/{ref}").status, api.get(f"/template/{ref}").json) == (404, NOT_FOUND)
    for method in ("POST", "PUT"):
        answer = api.call(method, f"/template/edit/{ref}", json={"body": b64("<p>x</p>"), "lang": "en"})
        assert (answer.status, answer.json) == (404, NOT_FOUND)
    # the same ref as the template id in an SMTP send's body: 404, nothing queued
    send = api.post("/smtp/emails", json={"email": {"subject": "s", "from": {"email": "me@example.com"},
                                                    "to": [{"email": "ann@example.com"}], "template": {"id": ref}}})
    assert (send.status, send.json) == (404, NOT_FOUND)
    assert api.get("/smtp/emails").json == []


def test_a_uid_of_decimal_digits_only_is_still_a_uid(api, ctx):
    """The 32-hex ``id`` is random: it may hold no letter at all (one in 3 million). It still finds
    its template, by GET and by edit, though it reads as a (too large) number."""
    from sqlalchemy import update

    from pulsebox.models import Template

    real_id = api.post("/template", json={"name": "Digits", "body": b64("<p>d</p>"), "lang": "en"}).json["real_id"]
    uid = f"{secrets.randbelow(10**31) + 10**31}"  # 32 decimal digits
    T = Template.__table__
    with ctx.db.transaction() as conn:
        conn.execute(update(T).where(T.c.id == real_id).values(uid=uid))
    assert api.get(f"/template/{uid}").json["real_id"] == real_id
    assert api.post(f"/template/edit/{uid}", json={"body": b64("<p>e</p>")}).json == {"result": True}
    assert api.get(f"/template/{real_id}").json["body"] == "<p>e</p>"


def test_a_repeated_name_gets_the_next_free_slug(api, other):
    """Document 004 names no error for a template name used twice: both are kept, slugs differ."""
    first = api.post("/template", json={"name": "News", "body": b64("<p>1</p>"), "lang": "en"}).json["real_id"]
    second = api.post("/template", json={"name": "News", "body": b64("<p>2</p>"), "lang": "en"}).json["real_id"]
    api.post("/template", json={"name": "News 3", "body": b64("<p>x</p>"), "lang": "en"})  # takes "news-3"
    third = api.post("/template", json={"name": "news", "body": b64("<p>3</p>"), "lang": "en"}).json["real_id"]
    slugs = [api.get(f"/template/{real_id}").json["name_slug"] for real_id in (first, second, third)]
    assert slugs == ["news", "news-2", "news-4"]
    assert api.get("/template/slug/news-2").json["real_id"] == second
    # another account's slugs are its own
    theirs = other.post("/template", json={"name": "News", "body": b64("<p>o</p>"), "lang": "en"}).json["real_id"]
    assert other.get(f"/template/{theirs}").json["name_slug"] == "news"


def test_template_slugs_are_unique_in_the_database_too(api, ctx):
    """An insert that passed the slug check must not land next to a row that took the slug meanwhile."""
    from sqlalchemy.exc import IntegrityError

    from pulsebox.templates import repository

    api.post("/template", json={"name": "Race", "body": b64("<p>1</p>"), "lang": "en"})
    with pytest.raises(IntegrityError), ctx.db.transaction() as conn:
        repository.insert_template(conn, account_id=api.id, uid=secrets.token_hex(16), name="Race", name_slug="race",
                                   lang="en", body="<p>2</p>", category="")
    assert [t["name_slug"] for t in api.get("/templates", params={"owner": "me"}).json] == ["race"]


def test_concurrent_creates_with_one_name_all_succeed_with_distinct_slugs(api, ctx, database_url, monkeypatch):
    """Real threads, one transaction each, as the request wrapper runs them. On PostgreSQL every thread
    is held after its slug check until all have checked, so all of them pick the same slug first:
    the race, every time. (SQLite takes its write lock at BEGIN: writers cannot interleave.)"""
    from pulsebox.templates import repository, service

    threads_n = 6
    gate = threading.Barrier(threads_n, timeout=30)
    held = threading.local()
    slug_taken = repository.slug_taken

    def checked_then_held(conn, account_id, slug):  # noqa: ANN001, ANN202
        taken = slug_taken(conn, account_id, slug)
        if database_url.startswith("postgresql") and not getattr(held, "once", False):
            held.once = True
            gate.wait()
        return taken

    monkeypatch.setattr(repository, "slug_taken", checked_then_held)
    results: list = []

    def create() -> None:
        try:
            with ctx.db.transaction() as conn:
                results.append(service.create(conn, api.id, "Same Name", "<p>x</p>", "en"))
        except Exception as exc:  # noqa: BLE001 - reported below
            results.append(exc)

    workers = [threading.Thread(target=create) for _ in range(threads_n)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert all(isinstance(r, int) for r in results) and len(results) == threads_n, results
    mine = api.get("/templates", params={"owner": "me"}).json
    assert sorted(t["real_id"] for t in mine) == sorted(results)
    assert sorted(t["name_slug"] for t in mine) == sorted(["same-name"] + [f"same-name-{n}" for n in range(2, 7)])


def test_migration_0004_renames_duplicate_slugs_then_makes_them_unique(scratch_url):
    from alembic import command
    from sqlalchemy import insert, select, text
    from sqlalchemy.exc import IntegrityError

    from pulsebox.db import migrate
    from pulsebox.db.engine import Database
    from pulsebox.models import Template

    T = Template.__table__
    db = Database(scratch_url)
    config = migrate._config()

    def migrate_to(revision: str, *, down: bool = False) -> None:
        with db.engine.begin() as conn:
            config.attributes["connection"] = conn
            (command.downgrade if down else command.upgrade)(config, revision)

    try:
        migrate_to("0003")
        with db.engine.begin() as conn:
            for account_id in (1, 2):
                conn.execute(text(
                    "INSERT INTO accounts (id, name, client_id, secret_hash, created_at, tariff_name, currency, "
                    "price_per_email, period_started_at) VALUES (:id, :name, :name, 'x', '2026-01-01 00:00:00', "
                    "'free', 'USD', 0, '2026-01-01 00:00:00')"), {"id": account_id, "name": f"acct{account_id}"})
            rows = [(1, 1, "news"), (2, 1, "news"), (3, 1, "news-2"), (4, 1, "news"), (5, 2, "news"), (6, 2, "news"),
                    (7, None, "sys"), (8, None, "sys"), (9, 1, "other")]
            conn.execute(insert(T), [{"id": i, "account_id": a, "uid": f"{i:032x}", "name": "N", "name_slug": s,
                                      "lang": "en", "body": "<p/>", "category": "", "created_at": datetime(2026, 1, 1)}
                                     for i, a, s in rows])
        migrate_to("0004")
        with db.engine.begin() as conn:
            slugs = dict(conn.execute(select(T.c.id, T.c.name_slug).order_by(T.c.id)).all())
        assert slugs == {1: "news", 2: "news-3", 3: "news-2", 4: "news-4", 5: "news", 6: "news-2",
                         7: "sys", 8: "sys", 9: "other"}
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(insert(T).values(id=100, account_id=1, uid="f" * 32, name="N", name_slug="news-3", lang="en",
                                          body="<p/>", category=""))
        migrate_to("0003", down=True)  # and back: the plain index again
        with db.engine.begin() as conn:
            conn.execute(insert(T).values(id=100, account_id=1, uid="f" * 32, name="N", name_slug="news-3", lang="en",
                                          body="<p/>", category=""))
    finally:
        db.dispose()
