def test_health(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_book_roundtrip(api):
    book = api.new_book("Smoke")
    assert api.get(f"/addressbooks/{book}").json[0]["name"] == "Smoke"
