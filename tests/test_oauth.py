"""POST /oauth/access_token in every encoding, and bearer checks (wire README items 1-3)."""

import time

from sqlalchemy import update

from conftest import make_account
from pulsebox.models import AccessToken


def test_token_in_json_form_and_multipart(ctx, client):
    account = make_account(ctx)
    fields = {"grant_type": "client_credentials", "client_id": account["client_id"],
              "client_secret": account["client_secret"]}
    for kwargs in ({"json": fields}, {"data": fields}, {"files": {k: (None, v) for k, v in fields.items()}}):
        answer = client.post("/oauth/access_token", **kwargs)
        assert answer.status_code == 200
        body = answer.json()
        assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and len(body["access_token"]) > 20
        assert client.get("/balance", headers={"Authorization": f"Bearer {body['access_token']}"}).status_code == 200


def test_bad_credentials_answer_invalid_client(ctx, client):
    account = make_account(ctx)
    answer = client.post("/oauth/access_token", json={"grant_type": "client_credentials",
                                                      "client_id": account["client_id"], "client_secret": "nope"})
    assert answer.status_code == 401
    assert answer.json() == {"error": "invalid_client", "error_description": "Client authentication failed.",
                             "message": "Client authentication failed.", "error_code": 1, "is_error": True}


def test_unknown_and_expired_tokens_are_401(ctx, client, api):
    assert client.get("/addressbooks", headers={"Authorization": "Bearer b'abc'"}).status_code == 401
    assert client.get("/addressbooks").status_code == 401
    fresh = make_account(ctx)
    token = client.post("/oauth/access_token", json={"grant_type": "client_credentials", "client_id": fresh["client_id"],
                                                     "client_secret": fresh["client_secret"]}).json()["access_token"]
    with ctx.db.transaction() as conn:
        conn.execute(update(AccessToken.__table__).values(expires_at=int(time.time()) - 1)
                     .where(AccessToken.__table__.c.account_id == fresh["id"]))
    answer = client.get("/addressbooks", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401 and answer.json()["is_error"] is True


def test_secret_is_stored_hashed_and_rotation_works(ctx, client):
    from pulsebox.accounts import repository, service

    account = make_account(ctx)
    with ctx.db.transaction() as conn:
        stored = repository.get(conn, account["id"])["secret_hash"]
        rotated = service.rotate_secret(conn, str(account["id"]))
    assert account["client_secret"] not in stored and stored.startswith("scrypt$")
    old = {"grant_type": "client_credentials", "client_id": account["client_id"], "client_secret": account["client_secret"]}
    assert client.post("/oauth/access_token", json=old).status_code == 401
    assert client.post("/oauth/access_token", json={**old, "client_secret": rotated["client_secret"]}).status_code == 200


def test_wrong_secrets_per_client_are_capped(ctx, client, monkeypatch):  # noqa: ANN001
    """Each check costs ~40 ms of scrypt: a client_id gets only so many wrong secrets; right ones are never capped."""
    from pulsebox import ratelimit
    from pulsebox.oauth import endpoints

    monkeypatch.setattr(endpoints, "FAILURE_RULES", ratelimit.parse("1000/second;3/minute"))
    account = make_account(ctx)
    right = {"grant_type": "client_credentials", "client_id": account["client_id"],
             "client_secret": account["client_secret"]}
    assert [client.post("/oauth/access_token", json=right).status_code for _ in range(5)] == [200] * 5
    wrong = {**right, "client_secret": "guess"}
    assert [client.post("/oauth/access_token", json=wrong).status_code for _ in range(3)] == [401, 401, 401]
    capped = client.post("/oauth/access_token", json=right)
    assert capped.status_code == 429 and capped.json()["error_code"] == 429
    other = make_account(ctx)  # another client is not affected
    assert client.post("/oauth/access_token", json={**right, "client_id": other["client_id"],
                                                    "client_secret": other["client_secret"]}).status_code == 200
    huge = client.post("/oauth/access_token", json={**right, "client_id": "x" * 100_000})
    assert huge.status_code == 401 and huge.json()["error"] == "invalid_client"
