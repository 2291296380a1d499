"""Templates: create (base64 body), edit, info by real_id or id, slug, lists by owner and language."""

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
