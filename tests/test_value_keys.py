"""Value keys (``models/books.py``): the index a search by a variable's value reads.

A key missing for a stored value would hide the contact from every search, so each write of
contacts' variables is checked against the table: after it, ``contact_values`` holds exactly the
keys of the variables stored (none left behind either: they would only cost reads).
"""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select, text

from pulsebox.models import Contact, ContactValue
from pulsebox.models.books import value_block, value_key, value_keys

C, CV = Contact.__table__, ContactValue.__table__


def test_a_number_is_keyed_by_its_value_and_text_by_its_text():
    assert value_key("age", 30) == value_key("age", 30.0)
    assert value_key("age", 30) != value_key("age", "30")  # a number is not the text of it
    assert value_key("age", 30) != value_key("agE", 30)
    assert value_key("age", 2 ** 53 + 1) != value_key("age", float(2 ** 53 + 1))  # the float is 2**53
    assert value_key("score", 2.5) == value_key("score", float("2.50")) != value_key("score", 2.4999999999999996)
    assert value_key("a", "x\0b") != value_key("a\0x", "b")  # the separator cannot be forged: kind first
    assert value_key("name", "\ud800") is not None  # a lone surrogate (JSON allows it) still has a key
    for nothing in (True, False, None, [1], {"a": 1}, float("nan"), float("inf")):
        assert value_key("v", nothing) is None, nothing
    assert -(2 ** 63) <= value_key("v", "x") < 2 ** 63  # a BIGINT
    assert value_keys({"a": 1, "b": True, "c": "x"}) == {value_key("a", 1), value_key("c", "x")}
    assert value_keys(None) == value_keys([1, 2]) == set()


def _stored(ctx, book_id: int) -> tuple[set, set]:  # noqa: ANN001
    """(the keys the book's contacts' variables call for, the keys in contact_values)."""
    with ctx.db.transaction(write=False) as conn:
        wanted = {(book_id, value_block(cid), key, cid) for cid, variables in
                  conn.execute(select(C.c.id, C.c.variables).where(C.c.book_id == book_id))
                  for key in value_keys(variables)}
        kept = set(conn.execute(select(CV.c.book_id, CV.c.block, CV.c.key, CV.c.contact_id)
                                .where(CV.c.book_id == book_id)))
    return wanted, kept


def test_every_write_of_variables_keeps_their_keys(ctx, api):
    book, other_book = api.new_book(), api.new_book()
    find = lambda name, value, b=book: [c["email"] for c in api.get(  # noqa: E731
        f"/addressbooks/{b}/variables/{name}/{value}").json]

    def check(b: int = book) -> None:
        wanted, kept = _stored(ctx, b)
        assert kept == wanted

    api.add_contacts(book, [{"email": "a@example.com", "variables": {"city": "Kyiv", "age": 30, "vip": True}},
                            {"email": "b@example.com", "variables": {"city": "Lviv", "age": 31.0}},
                            {"email": "c@example.com"}])
    api.add_contacts(other_book, [{"email": "a@example.com", "variables": {"city": "Kyiv"}}])
    check(), check(other_book)
    assert find("city", "Kyiv") == ["a@example.com"] and find("age", "31") == ["b@example.com"]
    # added again: the variables are merged, a changed value loses its old key
    api.add_contacts(book, [{"email": "a@example.com", "variables": {"city": "Odesa", "name": "Ann"}}])
    check()
    assert find("city", "Kyiv") == [] and find("city", "Odesa") == find("name", "Ann") == ["a@example.com"]
    assert find("age", "30") == ["a@example.com"]  # the value the merge kept
    # changed one by one
    api.post(f"/addressbooks/{book}/emails/variable",
             json={"email": "b@example.com", "variables": [{"name": "age", "value": "32"}]})
    check()
    assert find("age", "31") == [] and find("age", "32") == ["b@example.com"]
    # removed from the list, then added back with other values (SQLite may give it the same id)
    api.delete(f"/addressbooks/{book}/emails", json={"emails": ["b@example.com"]})
    check()
    assert find("age", "32") == []
    api.add_contacts(book, [{"email": "b@example.com", "variables": {"age": 33}}])
    check()
    assert find("age", "33") == ["b@example.com"]
    # removed from every list of the account
    assert api.delete("/emails/a@example.com").status == 200
    check(), check(other_book)
    assert find("city", "Odesa") == [] and find("city", "Kyiv", other_book) == []
    # the list deleted: its keys go with it
    api.delete(f"/addressbooks/{book}")
    assert _stored(ctx, book) == (set(), set())


def test_a_csv_import_keeps_the_keys_of_what_it_adds(ctx, api):
    from pulsebox.addressbooks import imports

    book = api.new_book()
    api.add_contacts(book, [{"email": "a@example.com", "variables": {"city": "Kyiv"}}])
    csv = "email,city,age\na@example.com,Lviv,30\nb@example.com,Kyiv,31\n".encode()
    with ctx.db.transaction() as conn:
        import_id = imports.start(conn, api.id, book, "people.csv", csv)
        imports.map_columns(conn, api.id, import_id, ["email", "city", "age"])
    with ctx.db.transaction() as conn:
        while imports.import_batch(conn):
            pass
    wanted, kept = _stored(ctx, book)
    assert kept == wanted and len(kept) == 4
    assert [c["email"] for c in api.get(f"/addressbooks/{book}/variables/city/Kyiv").json] == ["b@example.com"]


def test_a_key_left_behind_finds_nothing(ctx, api):
    """A key only picks candidates: the value is compared too (a collision, a stale row)."""
    book = api.new_book()
    api.add_contacts(book, [{"email": "a@example.com", "variables": {"city": "Kyiv"}}])
    with ctx.db.transaction() as conn:
        cid = conn.execute(select(C.c.id).where(C.c.book_id == book)).scalar_one()
        conn.execute(CV.insert().values(book_id=book, block=value_block(cid), key=value_key("city", "Odesa"),
                                        contact_id=cid))
    assert api.get(f"/addressbooks/{book}/variables/city/Odesa").json == []
    assert len(api.get(f"/addressbooks/{book}/variables/city/Kyiv").json) == 1


def test_the_search_reads_the_keys_not_the_list(ctx, api):
    """The plan: the primary key's range of the value, each candidate fetched by its id; never the
    book's contacts one by one (the statement the search runs, explained by each backend)."""
    from pulsebox.addressbooks import repository

    book = api.new_book()
    api.add_contacts(book, [{"email": f"p{i}@example.com", "variables": {"city": f"c{i % 7}"}} for i in range(50)])
    statements: list[tuple[str, object]] = []
    with ctx.db.transaction(write=False) as conn:
        from sqlalchemy import event

        def keep(conn_, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ARG001
            statements.append((statement, parameters))
        event.listen(conn, "before_cursor_execute", keep)
        try:
            assert len(repository.contacts_with_variable(conn, book, 50, "city", "c3", 50, 0)) == 7
        finally:
            event.remove(conn, "before_cursor_execute", keep)
        statement, parameters = statements[-1]
        if conn.dialect.name == "sqlite":
            plan = " | ".join(row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters))
            assert "SEARCH contact_values USING PRIMARY KEY (book_id=? AND block=? AND key=?)" in plan, plan
            assert "SEARCH contacts USING INTEGER PRIMARY KEY" in plan, plan
        else:  # how contacts are read then is the planner's call on table sizes (a seek at a million, bench/ui.py)
            plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
            assert "Index Only Scan using pk_contact_values on contact_values" in plan, plan
            assert "Index Cond: ((book_id = " in plan and "(block = " in plan and "AND (key = " in plan, plan


@pytest.mark.parametrize("by_keys", [True, False])
def test_a_search_pages_through_blocks_in_contact_order(ctx, api, monkeypatch, by_keys):
    """Two contacts a block here (4,096 in the code): a search asks block after block, a few a statement
    and then more, and pages (limit, offset) come out in contact order with nothing missed or twice. A
    list spread thinner than a block's seek is worth is read instead, with the same answers."""
    from sqlalchemy import event

    from pulsebox.addressbooks import repository
    from pulsebox.models import books

    monkeypatch.setattr(books, "BLOCK_BITS", 1)
    monkeypatch.setattr(repository, "_CONTACTS_A_SEEK", 1 if by_keys else 1000)
    book = api.new_book()
    people = [{"email": f"p{i:02}@example.com", "variables": {"city": "Kyiv" if i % 3 == 0 else "Lviv"}}
              for i in range(60)]
    api.add_contacts(book, people)
    everyone = [c["email"] for c in api.get(f"/addressbooks/{book}/emails", params={"limit": 100}).json]
    expected = [e for e in everyone if int(e[1:3]) % 3 == 0]
    assert len(expected) == 20
    statements: list[str] = []
    keep = lambda conn, cursor, statement, *_: statements.append(statement)  # noqa: E731
    event.listen(ctx.db.engine, "before_cursor_execute", keep)
    try:
        for limit in (1, 3, 7, 20, 100):
            pages = [api.get(f"/addressbooks/{book}/variables/city/Kyiv",
                             params={"limit": limit, "offset": offset}).json for offset in range(0, 21, limit)]
            assert [c["email"] for page in pages for c in page] == expected, limit
    finally:
        event.remove(ctx.db.engine, "before_cursor_execute", keep)
    assert any("contact_values" in s for s in statements) is by_keys


def test_migration_0015_computes_the_keys_of_the_contacts_there_are(scratch_url):
    from alembic import command

    from pulsebox.db import migrate
    from pulsebox.db.engine import Database

    db = Database(scratch_url)
    config = migrate._config()

    def migrate_to(revision: str) -> None:
        with db.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, revision)

    try:
        migrate_to("0014")
        people = [{"city": "Kyiv", "age": 30}, {"city": "Lviv", "age": 2.5, "vip": True}, {}, None]
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO accounts (id, name, client_id, secret_hash, created_at, tariff_name, currency, "
                "price_per_email, period_started_at) VALUES (1, 'a', 'a', 'x', '2026-01-01 00:00:00', "
                "'free', 'USD', 0, '2026-01-01 00:00:00')"))
            conn.execute(text("INSERT INTO books (id, account_id, name, created_at, status, all_email_qty, "
                              "active_email_qty, new_phones_qty, active_phones_qty, exc_phones_qty) "
                              "VALUES (7, 1, 'l', '2026-01-01 00:00:00', 0, 4, 4, 0, 0, 0)"))
            conn.execute(C.insert(), [{"id": 10 + i, "account_id": 1, "book_id": 7, "email": f"p{i}@example.com",
                                       "status": 1, "phone": "", "variables": v, "source": "api",
                                       "added_at": datetime(2026, 1, 1)} for i, v in enumerate(people)])
        migrate_to("0015")
        with db.engine.begin() as conn:
            kept = set(conn.execute(select(CV.c.book_id, CV.c.block, CV.c.key, CV.c.contact_id)))
        assert kept == {(7, 0, value_key("city", "Kyiv"), 10), (7, 0, value_key("age", 30), 10),
                        (7, 0, value_key("city", "Lviv"), 11), (7, 0, value_key("age", 2.5), 11)}
    finally:
        db.dispose()


@pytest.mark.parametrize("name", ['we"ird', "back\\slash", "Кириллица"])
def test_names_any_path_syntax_would_choke_on(api, name):
    book = api.new_book()
    api.add_contacts(book, [{"email": "a@example.com", "variables": {name: "x", "n": 1}}])
    from urllib.parse import quote
    assert [c["email"] for c in api.get(f"/addressbooks/{book}/variables/{quote(name)}/x").json] == ["a@example.com"]
