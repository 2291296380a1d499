"""The blacklist, in both documented shapes (004: base64 ``emails``; 002: plain ``email``)."""

from conftest import b64


def test_add_list_remove_base64_form(api):
    assert api.post("/blacklist", json={"emails": b64("x@example.com,Y@example.com"), "comment": "spam"}).json == {"result": True}
    assert api.get("/blacklist").json == ["x@example.com", "y@example.com"]
    assert api.delete("/blacklist", json={"emails": b64("x@example.com")}).json == {"result": True}
    assert api.get("/blacklist").json == ["y@example.com"]


def test_older_plain_email_form_with_base64_comment(api):
    assert api.post("/blacklist", data={"email": "a@example.com, b@example.com", "comment": b64("bounced twice")}).json == {"result": True}
    assert sorted(api.get("/blacklist").json) == ["a@example.com", "b@example.com"]
    api.post("/blacklist", data={"email": "a@example.com"})  # adding twice is harmless
    assert len(api.get("/blacklist").json) == 2
    assert api.delete("/blacklist", data={"email": "a@example.com,b@example.com"}).json == {"result": True}
    assert api.get("/blacklist").json == []


def test_bad_input(api):
    assert api.post("/blacklist", json={}).error_code == 1101
    assert api.post("/blacklist", json={"emails": b64("not-an-address")}).error_code == 906
    assert api.post("/blacklist", json={"emails": "%%%not base64%%%"}).status == 400
    assert api.get("/blacklist").json == []
