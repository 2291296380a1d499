"""Segments (ours): saved push-style filters over a list's variables, typed by the variable's type;
counted, and used by a campaign's ``segment_id``."""

from __future__ import annotations

import base64

from pulsebox import filters
from pulsebox.delivery.transports.memory import MemoryTransport
from pulsebox.worker.runner import Worker


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def f(variable: str, *conditions: tuple[str, object], operator: str = "and") -> dict:
    return {"variable_name": variable, "operator": operator,
            "conditions": [{"condition": c, "value": v} for c, v in conditions]}


def people_book(api) -> int:  # noqa: ANN001
    book = api.new_book("People")
    assert api.add_contacts(book, [
        {"email": "ann@example.com", "variables": {"name": "Ann Lee", "age": 30, "since": "2020-05-01", "city": "Kyiv"}},
        {"email": "bob@example.com", "variables": {"name": "Bob", "age": 9, "since": "2023-01-15", "city": "Lviv"}},
        {"email": "cid@example.com", "variables": {"name": "Cid", "age": 100, "since": "2019-12-31"}},
        {"email": "dee@example.com", "variables": {"name": "dee lee", "age": 41, "city": "kyiv"}},
    ]).status == 200
    return book


def count(api, book: int, body: dict) -> dict:  # noqa: ANN001
    created = api.post(f"/addressbooks/{book}/segments", json={"name": "S", **body})
    assert created.status == 200, created.json
    return api.get(f"/addressbooks/{book}/segments/{created.json['id']}/count").json


def test_conditions_compare_by_the_variables_type(api):
    book = people_book(api)
    assert count(api, book, {"filter": f("age", ("greaterthan", "10"))}) == {"total": 3, "active": 3}  # 9 < 10
    assert count(api, book, {"filter": f("since", ("lessthan", "2020-01-01"))})["total"] == 1  # cid, as dates
    assert count(api, book, {"filter": f("city", ("equal", "KYIV"))})["total"] == 2  # text: any case
    assert count(api, book, {"filter": f("name", ("endwith", "lee"), ("startwith", "ann"))})["total"] == 1
    assert count(api, book, {"filter": f("name", ("likewith", "lee"), ("equal", "Bob"), operator="or")})["total"] == 3
    assert count(api, book, {"filter": f("city", ("notlikewith", "y"))})["total"] == 2  # bob, and cid (no city)
    assert count(api, book, {"filters": [f("age", ("lessthan", 50)), f("city", ("equal", "kyiv"))],
                             "operator": "and"})["total"] == 2
    api.post(f"/addressbooks/{book}/emails/unsubscribe", json={"emails": ["ann@example.com"]})
    assert count(api, book, {"filter": f("city", ("equal", "kyiv"))}) == {"total": 2, "active": 1}


def test_segments_are_listed_read_and_deleted(api, other):
    book = people_book(api)
    body = {"name": "Adults", "filters": [f("age", ("greaterthan", 17))]}
    segment_id = api.post(f"/addressbooks/{book}/segments", json=body).json["id"]
    listed = api.get(f"/addressbooks/{book}/segments").json
    assert [(s["id"], s["name"], s["operator"], s["filters"]) for s in listed] == \
        [(segment_id, "Adults", "and", [f("age", ("greaterthan", "17"))])]
    assert api.get(f"/addressbooks/{book}/segments/{segment_id}").json["name"] == "Adults"
    missing = other.get(f"/addressbooks/{book}/segments/{segment_id}")
    assert missing.error_code == 213  # another account's list looks missing
    assert api.get(f"/addressbooks/{book}/segments/999999").error_code == 703
    assert api.delete(f"/addressbooks/{book}/segments/{segment_id}").json == {"result": True}
    assert api.get(f"/addressbooks/{book}/segments").json == []


def test_a_filter_that_cannot_be_read_is_refused(api):
    book = people_book(api)
    for body in ({"filter": f("age", ("bigger", 1))}, {"filter": {"variable_name": "age"}}, {"filters": []},
                 {"filter": f("", ("equal", 1))}, {"filter": f("age", ("equal", {"a": 1}))},
                 {"filters": [f("a", ("equal", 1))], "operator": "xor"}, {"filters": "age>1"}):
        answer = api.post(f"/addressbooks/{book}/segments", json={"name": "Bad", **body})
        assert answer.error_code == 8, (body, answer.json)
    assert api.post(f"/addressbooks/{book}/segments", json={"filter": f("age", ("equal", 1))}).error_code == 8
    assert api.get(f"/addressbooks/{book}/segments").json == []


def test_a_campaign_to_a_segment_reaches_only_its_matches(api, ctx):
    book = people_book(api)
    segment_id = api.post(f"/addressbooks/{book}/segments",
                          json={"name": "Kyiv", "filter": f("city", ("equal", "kyiv"))}).json["id"]
    created = api.post("/campaigns", json={"sender_name": "S", "sender_email": "s@shop.example", "subject": "Hi {{name}}",
                                           "body": b64("<p>x</p>"), "segment_id": segment_id})
    assert created.status == 200 and created.json["count"] == 2, created.json
    transport = MemoryTransport()
    worker = Worker(ctx, transport)
    while worker.run_once():
        pass
    worker.pool.shutdown()
    assert sorted(r[0] for _, r, _ in transport.sent) == ["ann@example.com", "dee@example.com"]
    assert api.get(f"/campaigns/{created.json['id']}").json["status"] == 3


def test_a_missing_variable_equals_nothing():
    rule = filters.parse_filter(f("age", ("equal", "")))
    assert not filters.matches(rule, {}, "number")
    assert filters.matches(filters.parse_filter(f("age", ("notequal", 3))), {}, "number")
    assert not filters.matches(filters.parse_filter(f("age", ("greaterthan", "x"))), {"age": 5}, "number")


# values SQL can read (plain text, integers, dates) and values it must leave to Python: accented and
# case-folded text (ß, Kelvin sign, Turkish İ), escapes, booleans, floats, exponents, nested values,
# numbers held as text, impossible dates, null, empty
ODD_VALUES = ["Kyiv", "kyiv", "KYIV", "Київ", "київ", "Straße", "STRASSE", "\u212aelvin", "İstanbul", "say \"hi\"",
              "back\\slash", "", " ", "10", "9", "30.5", "1e3", "2020-02-29", "2019-02-29", "2020-13-01",
              "2020-01-01T10:00", "20200101", "0999-01-01", 0, 7, -3, 30, 30.0, 30.5, -0.25, 1e16, 10**15 + 1,
              True, False, None, [1, 2], {"a": 1}, "lee", "Ann Lee", "ann"]
ODD_CONDITIONS = [(op, value) for op in filters.OPERATORS
                  for value in ("kyiv", "KYIV", "київ", "strasse", "kelvin", "i̇stanbul", "", "10", "30", "30.5",
                                "-1", "2020-02-29", "2020-01-01", "abc", "nan", "inf", "lee", "\"hi\"", "9")]


def test_counts_decided_by_sql_equal_the_filters_in_python(api, ctx):
    """Every (value, condition, type) pair: the count ``count_matching`` gives (SQL for what it can read,
    Python for the rest) is the one ``filters.matches`` gives contact by contact."""
    from sqlalchemy import update

    from pulsebox.addressbooks import repository, service
    from pulsebox.models import Contact

    book = api.new_book("Odd")
    emails = [f"odd{i}@example.com" for i in range(len(ODD_VALUES) + 1)]
    assert api.add_contacts(book, emails).status == 200
    table = Contact.__table__
    with ctx.db.transaction() as conn:
        repository.insert_variables(conn, book, {"s": "string", "n": "number", "d": "date", 'q"uote': "string"}, 0)
        for i, value in enumerate(ODD_VALUES):  # as stored, whatever the API's coercion would have let in
            variables = {"s": value, "n": value, "d": value, 'q"uote': value}
            conn.execute(update(table).where(table.c.book_id == book, table.c.email == emails[i])
                         .values(variables=variables, status=1 if i % 2 else 4))
        rows = [dict(r) for r in conn.execute(table.select().where(table.c.book_id == book)).mappings()]
    account_id = rows[0]["account_id"]
    types = {"s": "string", "n": "number", "d": "date", 'q"uote': "string"}
    with ctx.db.transaction(write=False) as conn:
        for variable in types:
            for op, value in ODD_CONDITIONS:
                one = filters.parse_filter(f(variable, (op, value)))
                rule = service.SegmentRule(book, "and", (one,), types)
                expected = [r for r in rows if rule(r["variables"] or {})]
                want = (len(expected), sum(r["status"] in (0, 1) for r in expected))
                assert service.count_matching(conn, account_id, rule) == want, (variable, op, value)
        both = (filters.parse_filter(f("s", ("likewith", "k"), ("notequal", "kyiv"), operator="and")),
                filters.parse_filter(f("n", ("greaterthan", "5"), ("lessthan", "-1"), operator="or")))
        for join in ("and", "or"):
            rule = service.SegmentRule(book, join, both, types)
            expected = [r for r in rows if rule(r["variables"] or {})]
            assert service.count_matching(conn, account_id, rule) == (
                len(expected), sum(r["status"] in (0, 1) for r in expected)), join
