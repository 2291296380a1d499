"""One address across every list: document 004's "Email address" section."""


def _setup(api):
    one, two = api.new_book("One"), api.new_book("Two")
    api.add_contacts(one, [{"email": "a@example.com", "variables": {"name": "Ann"}}, "b@example.com"])
    api.add_contacts(two, ["a@example.com"])
    return one, two


def test_general_info_and_details(api):
    one, two = _setup(api)
    info = api.get("/emails/a@example.com").json
    assert info == [
        {"book_id": one, "email": "a@example.com", "status": 1, "status_explain": "Active",
         "variables": [{"name": "name", "type": "string", "value": "Ann"}]},
        {"book_id": two, "email": "a@example.com", "status": 1, "status_explain": "Active", "variables": []},
    ]
    details = api.get("/emails/a@example.com/details").json
    assert [(d["list_name"], d["list_id"], d["source"]) for d in details] == [("One", one, "api"), ("Two", two, "api")]
    assert api.get("/emails/nobody@example.com").error_code == 17


def test_bulk_info(api):
    one, two = _setup(api)
    answer = api.post("/emails", json={"emails": ["a@example.com", "b@example.com", "zzz@example.com"]}).json
    assert set(answer) == {"a@example.com", "b@example.com"}
    assert [e["book_id"] for e in answer["a@example.com"]] == [one, two]
    # the PHP client sends the list as the whole body
    assert set(api.post("/emails", json=["b@example.com"]).json) == {"b@example.com"}


def test_delete_from_all_lists_updates_counters(api):
    one, two = _setup(api)
    assert api.delete("/emails/a@example.com").json == {"result": True}
    assert api.get("/emails/a@example.com").error_code == 17
    assert api.get(f"/addressbooks/{one}/emails/total").json == {"total": 1}
    assert api.get(f"/addressbooks/{two}").json[0]["all_email_qty"] == 0
    assert api.delete("/emails/a@example.com").error_code == 17


def test_campaign_statistics_single_and_bulk(api):
    one, two = _setup(api)
    api.post("/blacklist", json={"emails": "b@example.com"})
    single = api.get("/emails/a@example.com/campaigns").json
    assert single == {"statistic": {"sent": 0, "open": 0, "link": 0}, "blacklist": False,
                      "addressbooks": [{"id": one, "address_book_name": "One"}, {"id": two, "address_book_name": "Two"}]}
    bulk = api.post("/emails/campaigns", json={"emails": '["a@example.com", "b@example.com"]'}).json
    assert bulk["b@example.com"] == {"sent": 0, "open": 0, "link": 0, "adressbooks": [{"id": one, "name": "One"}],
                                     "blacklist": True}
    assert len(bulk["a@example.com"]["adressbooks"]) == 2
