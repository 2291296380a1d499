"""Mailing lists and contacts: every method of document 004's "Mailing lists" section."""

from conftest import b64  # noqa: F401


def test_create_list_info_edit_delete(api):
    book = api.new_book("Customers")
    assert isinstance(book, int)
    listed = api.get("/addressbooks").json
    assert [b["name"] for b in listed] == ["Customers"]
    entry = listed[0]
    assert entry == {**entry, "id": book, "all_email_qty": 0, "active_email_qty": 0, "inactive_email_qty": 0,
                     "new_phones_quantity": 0, "status": 0, "status_explain": "Active"}
    info = api.get(f"/addressbooks/{book}").json
    assert isinstance(info, list) and info[0]["id"] == book and "creationdate" in info[0]
    assert api.put(f"/addressbooks/{book}", json={"name": "Clients"}).json == {"result": True}
    assert api.get(f"/addressbooks/{book}").json[0]["name"] == "Clients"
    assert api.delete(f"/addressbooks/{book}").json == {"result": True}
    assert api.get(f"/addressbooks/{book}").error_code == 213
    assert api.get("/addressbooks").json == []


def test_duplicate_name_and_empty_name(api):
    api.new_book("Same")
    assert api.post("/addressbooks", json={"bookName": "Same"}).error_code == 203
    assert api.post("/addressbooks", json={"bookName": "  "}).error_code == 201
    other = api.new_book("Other")
    assert api.put(f"/addressbooks/{other}", json={"name": "Same"}).error_code == 203
    assert len(api.get("/addressbooks").json) == 2


def test_list_paging_limit_offset_and_max_100(api):
    ids = [api.new_book(f"b{i:03}") for i in range(105)]
    assert [b["id"] for b in api.get("/addressbooks", params={"limit": 10, "offset": 5}).json] == ids[5:15]
    assert len(api.get("/addressbooks").json) == 100
    assert len(api.get("/addressbooks", params={"limit": 500}).json) == 100
    # the Node client sends limit/offset only in a GET's JSON body
    body = api.get("/addressbooks", content=b'{"limit":3,"offset":100}', headers={"content-type": "application/json"}).json
    assert [b["id"] for b in body] == ids[100:103]


def test_add_contacts_with_variables_and_phone(api):
    book = api.new_book()
    answer = api.add_contacts(book, [
        {"email": "Ann@Example.com", "variables": {"name": "Zoë \"Zo\" Ünal", "Phone": "+380 50 123-45-67", "age": 30,
                                                  "birthday": "1990-05-01"}},
        "bob@example.com",
    ])
    assert answer.json == {"result": True}
    contacts = api.get(f"/addressbooks/{book}/emails").json
    assert contacts[0] == {"email": "ann@example.com", "status": 1, "status_explain": "Active",
                           "phone": "380501234567",
                           "variables": {"name": "Zoë \"Zo\" Ünal", "age": 30, "birthday": "1990-05-01"}}
    assert contacts[1]["email"] == "bob@example.com" and contacts[1]["variables"] == {}
    assert api.get(f"/addressbooks/{book}/variables").json == [
        {"name": "name", "type": "string"}, {"name": "age", "type": "number"}, {"name": "birthday", "type": "date"}]
    info = api.get(f"/addressbooks/{book}").json[0]
    assert (info["all_email_qty"], info["active_email_qty"], info["active_phones_quantity"]) == (2, 2, 1)
    assert api.get(f"/addressbooks/{book}/emails/total").json == {"total": 2}


def test_re_adding_merges_variables_and_keeps_status(api):
    book = api.new_book()
    api.add_contacts(book, [{"email": "a@example.com", "variables": {"name": "Ann", "city": "Kyiv"}}])
    api.post(f"/addressbooks/{book}/emails/unsubscribe", json={"emails": ["a@example.com"]})
    api.add_contacts(book, [{"email": "a@example.com", "variables": {"city": "Lviv"}}])
    contact = api.get(f"/addressbooks/{book}/emails/a@example.com").json
    assert contact["status"] == 4
    assert {v["name"]: v["value"] for v in contact["variables"]} == {"name": "Ann", "city": "Lviv"}
    assert api.get(f"/addressbooks/{book}/emails/total").json == {"total": 1}


def test_contact_info_and_not_found(api):
    book = api.new_book()
    api.add_contacts(book, [{"email": "a@example.com", "variables": {"name": "Ann"}}])
    info = api.get(f"/addressbooks/{book}/emails/a@example.com").json
    assert info == {"email": "a@example.com", "abook_id": book, "phone": "", "status": 1, "status_explain": "Active",
                    "variables": [{"name": "name", "type": "string", "value": "Ann"}]}
    assert api.get(f"/addressbooks/{book}/emails/nobody@example.com").error_code == 17
    assert api.get(f"/addressbooks/{book + 1000}/emails/a@example.com").error_code == 213


def test_active_and_not_active_filters(api):
    book = api.new_book()
    api.add_contacts(book, ["a@example.com", "b@example.com", "c@example.com"])
    api.post(f"/addressbooks/{book}/emails/unsubscribe", json={"emails": ["b@example.com"]})
    emails = lambda **p: [c["email"] for c in api.get(f"/addressbooks/{book}/emails", params=p).json]  # noqa: E731
    assert emails(active="true") == ["a@example.com", "c@example.com"]
    assert emails(not_active=1) == ["b@example.com"]
    assert emails(limit=1, offset=1) == ["b@example.com"]
    info = api.get(f"/addressbooks/{book}").json[0]
    assert (info["active_email_qty"], info["inactive_email_qty"]) == (2, 1)


def test_search_by_variable(api):
    book = api.new_book()
    api.add_contacts(book, [{"email": "a@example.com", "variables": {"city": "Kyiv", "age": 30}},
                            {"email": "b@example.com", "variables": {"city": "Lviv", "age": 31}},
                            {"email": "c@example.com", "variables": {"city": "Kyiv"}}])
    found = api.get(f"/addressbooks/{book}//variables/city/Kyiv").json
    assert found == [{"email": "a@example.com", "status": 1, "status_explain": "Active"},
                     {"email": "c@example.com", "status": 1, "status_explain": "Active"}]
    assert [c["email"] for c in api.get(f"/addressbooks/{book}/variables/age/31").json] == ["b@example.com"]
    assert api.get(f"/addressbooks/{book}/variables/city/Odesa").json == []


def test_change_variables_validates_types(api):
    book = api.new_book()
    api.add_contacts(book, [{"email": "a@example.com", "variables": {"name": "Ann", "age": 30, "since": "2020-01-01"}}])
    ok = api.post(f"/addressbooks/{book}/emails/variable", json={
        "email": "a@example.com", "variables": [{"name": "age", "value": "31"}, {"name": "since", "value": "2021-02-03"},
                                                {"name": "name", "value": 12}]})
    assert ok.json == {"result": True}
    values = {v["name"]: v["value"] for v in api.get(f"/addressbooks/{book}/emails/a@example.com").json["variables"]}
    assert values == {"name": "12", "age": 31, "since": "2021-02-03"}
    for bad in ({"name": "age", "value": "thirty"}, {"name": "since", "value": "2017-1-1"},
                {"name": "since", "value": "2021-02-30"}):
        answer = api.post(f"/addressbooks/{book}/emails/variable", json={"email": "a@example.com", "variables": [bad]})
        assert answer.status == 400 and answer.error_code == 800
    after = {v["name"]: v["value"] for v in api.get(f"/addressbooks/{book}/emails/a@example.com").json["variables"]}
    assert after == values
    missing = api.post(f"/addressbooks/{book}/emails/variable",
                       json={"email": "x@example.com", "variables": [{"name": "age", "value": 1}]})
    assert missing.error_code == 17


def test_change_phone(api):
    book = api.new_book()
    api.add_contacts(book, ["a@example.com"])
    assert api.put(f"/addressbooks/{book}/phone", json={"email": " a@example.com", "phone": "1234567890"}).json == {"result": True}
    assert api.get(f"/addressbooks/{book}/emails/a@example.com").json["phone"] == "1234567890"
    assert api.get(f"/addressbooks/{book}").json[0]["active_phones_quantity"] == 1
    assert api.put(f"/addressbooks/{book}/phone", json={"email": "a@example.com", "phone": "abc"}).status == 400


def test_delete_contacts_both_forms(api):
    book = api.new_book()
    api.add_contacts(book, ["a@example.com", "b@example.com", "c@example.com"])
    assert api.delete(f"/addressbooks/{book}/emails", json={"emails": ["a@example.com"]}).json == {"result": True}
    # the older form (document 002): DELETE /addressbooks with id and emails
    assert api.delete("/addressbooks", json={"id": book, "emails": ["b@example.com"]}).json == {"result": True}
    assert [c["email"] for c in api.get(f"/addressbooks/{book}/emails").json] == ["c@example.com"]
    info = api.get(f"/addressbooks/{book}").json[0]
    assert (info["all_email_qty"], info["active_email_qty"]) == (1, 1)
    too_many = [f"x{i}@example.com" for i in range(101)]
    assert api.delete(f"/addressbooks/{book}/emails", json={"emails": too_many}).status == 400
    # DELETE /addressbooks with only an id deletes the book
    assert api.delete("/addressbooks", json={"id": book}).json == {"result": True}
    assert api.get(f"/addressbooks/{book}").error_code == 213


def test_unsubscribe_from_list(api):
    book = api.new_book()
    api.add_contacts(book, ["a@example.com", "b@example.com"])
    assert api.post(f"/addressbooks/{book}/emails/unsubscribe", json={"emails": ["a@example.com"]}).json == {"result": True}
    contact = api.get(f"/addressbooks/{book}/emails/a@example.com").json
    assert (contact["status"], contact["status_explain"]) == (4, "Unsubscribed")


def test_double_opt_in_needs_an_active_sender(api, ctx):
    book = api.new_book()
    body = {"emails": [{"email": "d@example.com", "variables": {"name": "Di"}}], "confirmation": "force",
            "sender_email": "news@example.com", "message_lang": "en"}
    assert api.post(f"/addressbooks/{book}/emails", json=body).error_code == 1003
    api.post("/senders", json={"email": "news@example.com", "name": "News"})
    assert api.post(f"/addressbooks/{book}/emails", json=body).status == 400  # not activated yet
    assert api.post(f"/addressbooks/{book}/emails", json={**body, "message_lang": "de"}).status == 400
    assert api.get(f"/addressbooks/{book}/emails/total").json == {"total": 0}
    from test_senders import activate_sender, run_worker

    activate_sender(api, ctx, "news@example.com")
    assert api.post(f"/addressbooks/{book}/emails", json=body).json == {"result": True}
    contact = api.get(f"/addressbooks/{book}/emails/d@example.com").json
    assert (contact["status"], contact["status_explain"]) == (2, "Confirmation requested")
    # the confirmation message goes out (tests/test_doi.py checks its content and link)
    [(mail_from, rcpts, raw)] = [m for m in run_worker(ctx).sent if m[1] == ["d@example.com"]]
    from email import message_from_bytes, policy

    mail = message_from_bytes(raw, policy=policy.default)
    assert mail["From"] == "News <news@example.com>"
    assert "/t/confirm/" in mail.get_body(("plain",)).get_content()


def test_campaigns_by_list_and_cost(api):
    book = api.new_book()
    api.add_contacts(book, ["a@example.com", "b@example.com"])
    assert api.get(f"/addressbooks/{book}/campaigns").json == []
    cost = api.get(f"/addressbooks/{book}/cost").json
    assert cost == {"cur": "USD", "sent_emails_qty": 2, "overdraftAllEmailsPrice": 0, "addressesDeltaFromBalance": 0,
                    "addressesDeltaFromTariff": 2, "max_emails_per_task": 15000, "result": True}
    assert api.get(f"/addressbooks/{book + 999}/cost").error_code == 213


def test_legacy_form_and_php_serialized_bodies(api):
    book = api.new_book()
    php = 'a:1:{i:0;a:2:{s:5:"email";s:13:"a@example.com";s:9:"variables";a:1:{s:4:"name";s:6:"Ann"Q!";}}}'
    assert api.post(f"/addressbooks/{book}/emails", data={"emails": php}).json == {"result": True}
    assert api.get(f"/addressbooks/{book}/emails").json[0]["variables"] == {"name": 'Ann"Q!'}
    form = "emails[0][email]=b%40example.com&emails[0][variables][city]=Kyiv"
    assert api.post(f"/addressbooks/{book}/emails", content=form.encode(),
                    headers={"content-type": "application/x-www-form-urlencoded"}).json == {"result": True}
    assert api.get(f"/addressbooks/{book}/emails/b@example.com").json["variables"][0]["value"] == "Kyiv"


def test_book_names_are_unique_in_the_database_too(api, ctx):
    """Two creates that both passed a name check must not both land (concurrent PostgreSQL writers)."""
    from pulsebox.addressbooks import repository

    api.new_book("Race")
    with ctx.db.transaction() as conn:
        assert repository.insert_book(conn, api.id, "Race") is None
    assert [b["name"] for b in api.get("/addressbooks").json] == ["Race"]


def test_search_with_no_value_is_an_error_not_a_redirect(api, client):
    """``.../variables/name/`` (an empty searchValue) used to answer 307 to itself for ever."""
    book = api.new_book()
    api.add_contacts(book, [{"email": "a@example.com", "variables": {"name": ""}}])
    for path in (f"/addressbooks/{book}/variables/name/", f"/addressbooks/{book}/variables/name",
                 f"/addressbooks/{book}//variables//name//"):
        response = client.get(path, headers=api.headers, follow_redirects=False)
        body = response.json()
        assert (response.status_code, body["is_error"], body["error_code"]) == (400, True, 8), (path, body)
    unknown = client.get("/addressbooks/2000000000/variables/name/", headers=api.headers, follow_redirects=False)
    assert unknown.status_code == 400  # the value is checked before the book


def test_no_api_path_answers_a_redirect(client):
    """Slashes are NormalisePath's business alone: no route, filled in any way, answers 3xx. (The
    router decides on a redirect before any token check: no token needed to see one.)"""
    import re

    from starlette.routing import Route

    from pulsebox.app import ROUTES

    # /t/c/ redirects to the link, the admin UI's pages to its sign-in page: on purpose
    paths = {r.path for r in ROUTES if isinstance(r, Route) and not r.path.startswith(("/t/", "/ui"))}
    for path in sorted(paths):
        slots = len(re.findall(r"\{[^}]+\}", path))
        for empty in range(-1, slots):  # every parameter "1", then each one empty in turn
            fills = iter(["" if i == empty else "1" for i in range(slots)])
            variant = re.sub(r"\{[^}]+\}", lambda _: next(fills), path) + "/"
            response = client.get(variant, follow_redirects=False)
            assert not 300 <= response.status_code < 400, (variant, response.status_code, response.headers)
            assert response.status_code < 500, (variant, response.text)


def test_search_compares_the_value_as_the_variable_type(api):
    """PostgreSQL used to cast every row's value to float ("Kyiv"::float: a 500) and compared numbers
    as floats (2**53 + 1 found 2**53); SQLite compared them as floats too (2**53 + 1 found nothing)."""
    book = api.new_book()
    api.add_contacts(book, [
        {"email": "a@example.com", "variables": {"code": "30", "age": 30, "since": "2020-01-01", "score": 2.5,
                                                 "big": 2 ** 53 + 1}},
        {"email": "b@example.com", "variables": {"code": "Kyiv", "age": 31.0, "since": "2021-02-03", "big": 2 ** 53}},
        {"email": "c@example.com", "variables": {"code": "nan"}}])
    found = lambda name, value: [c["email"] for c in api.get(  # noqa: E731
        f"/addressbooks/{book}/variables/{name}/{value}").json]
    assert found("code", "30") == ["a@example.com"]  # a string variable: compared as text
    assert found("code", "30.0") == []
    assert found("code", "nan") == ["c@example.com"]
    for value in ("nan", "NaN", "inf", "-Infinity", "1e999", "-1e999", "Kyiv", "1,5", "0x1E", "9" * 30, "9" * 5000):
        answer = api.get(f"/addressbooks/{book}/variables/age/{value}")
        assert (answer.status, answer.json) == (200, []), value
    assert found("age", "30") == found("age", "30.0") == found("age", "3e1") == ["a@example.com"]
    assert found("age", "31") == ["b@example.com"]
    assert found("score", "2.5") == found("score", "2.50") == ["a@example.com"]
    assert found("big", str(2 ** 53 + 1)) == ["a@example.com"]
    assert found("big", str(2 ** 53)) == ["b@example.com"]
    assert found("since", "2020-01-01") == ["a@example.com"]
    assert found("since", "2020-1-1") == found("since", "30") == found("since", "2020-02-30") == []
    assert found("nosuchvariable", "30") == []


def test_numbers_that_cannot_be_kept_exactly_are_refused(api):
    """Integers must fit in signed 64 bits and floats be finite (and below 2**63 in magnitude: past
    that orjson has already turned a too-large integer into a float): 2**200 used to be stored as
    1.6e+60. Refused with error 800, nothing written; what is accepted comes back exactly."""
    book = api.new_book()
    api.add_contacts(book, [{"email": "a@example.com", "variables": {"age": 30, "note": "x"}}])

    def values() -> dict:
        info = api.get(f"/addressbooks/{book}/emails/a@example.com").json
        return {v["name"]: v["value"] for v in info["variables"]}

    before = values()
    for name, value in [("age", 2 ** 200), ("age", -(2 ** 200)), ("age", 2 ** 63), ("age", -(2 ** 63) - 1),
                        ("age", 2 ** 64 - 1), ("age", 1e300), ("note", 2 ** 200), ("fresh", 2 ** 64),
                        ("age", str(2 ** 200)), ("age", "1e999"), ("age", "-1e999"), ("age", str(2 ** 63)),
                        ("age", "9" * 5000)]:
        answer = api.post(f"/addressbooks/{book}/emails/variable",
                          json={"email": "a@example.com", "variables": {name: value}})
        assert (answer.status, answer.error_code) == (400, 800), (name, value, answer.json)
        added = api.add_contacts(book, [{"email": "b@example.com", "variables": {name: value}}])
        assert (added.status, added.error_code) == (400, 800), (name, value, added.json)
    assert values() == before
    assert api.get(f"/addressbooks/{book}/emails/total").json == {"total": 1}
    assert [v["name"] for v in api.get(f"/addressbooks/{book}/variables").json] == ["age", "note"]
    # JSON cannot even spell these: the body is refused as malformed
    for literal in (b"1e999", b"NaN", b"Infinity"):
        body = b'{"email": "a@example.com", "variables": {"age": ' + literal + b"}}"
        answer = api.post(f"/addressbooks/{book}/emails/variable", content=body,
                          headers={"content-type": "application/json"})
        assert (answer.status, answer.error_code) == (400, 8), literal
    # the edges are kept exactly, as numbers, also when written as text
    for value, stored in [(2 ** 63 - 1, 2 ** 63 - 1), (-(2 ** 63), -(2 ** 63)), (str(2 ** 53 + 1), 2 ** 53 + 1),
                          ("-9223372036854775808", -(2 ** 63)), (1.5e18, 1.5e18), ("0.1", 0.1)]:
        answer = api.post(f"/addressbooks/{book}/emails/variable",
                          json={"email": "a@example.com", "variables": {"age": value}})
        assert answer.json == {"result": True}, (value, answer.json)
        assert values()["age"] == stored and type(values()["age"]) is type(stored), (value, values())
