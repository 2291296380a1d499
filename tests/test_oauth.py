"""POST /oauth/access_token in every encoding, and bearer checks (wire README items 1-3)."""

import json
import time
from dataclasses import replace

import pytest
from sqlalchemy import delete, update
from starlette.testclient import TestClient

from conftest import Api, make_account
from pulsebox.app import build
from pulsebox.context import Context
from pulsebox.models import AccessToken, Account


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
    assert account["client_secret"] not in stored and stored.startswith("scrypt")
    old = {"grant_type": "client_credentials", "client_id": account["client_id"], "client_secret": account["client_secret"]}
    assert client.post("/oauth/access_token", json=old).status_code == 401
    assert client.post("/oauth/access_token", json={**old, "client_secret": rotated["client_secret"]}).status_code == 200


def _client_at(ctx, address: str) -> TestClient:  # noqa: ANN001
    """A client connecting from ``address`` (the peer the token endpoint counts failures on)."""
    return TestClient(build(ctx), raise_server_exceptions=False, client=(address, 40000))


def _token_request(account: dict, secret: str | None = None) -> dict:
    return {"grant_type": "client_credentials", "client_id": account["client_id"],
            "client_secret": account["client_secret"] if secret is None else secret}


@pytest.fixture
def scrypt_checks(monkeypatch) -> list:  # noqa: ANN001
    """Every scrypt check the token endpoint runs (~40 ms of CPU each)."""
    from pulsebox.oauth import service

    calls, real = [], service.verify_secret
    monkeypatch.setattr(service, "verify_secret", lambda secret, stored: calls.append(secret) or real(secret, stored))
    return calls


def test_someone_elses_wrong_secrets_never_lock_the_owner_out(ctx, monkeypatch, scrypt_checks):  # noqa: ANN001
    """Failures are capped per client address (and per address and client_id) before scrypt runs:
    the guesser is stopped without costing CPU, the owner (another address) is never refused."""
    from pulsebox import ratelimit
    from pulsebox.oauth import endpoints

    monkeypatch.setattr(endpoints, "FAILURE_RULES", ratelimit.parse("1000/second;3/minute"))
    account = make_account(ctx)
    with _client_at(ctx, "203.0.113.7") as guesser, _client_at(ctx, "198.51.100.9") as owner:
        wrong = _token_request(account, "guess")
        assert [guesser.post("/oauth/access_token", json=wrong).status_code for _ in range(3)] == [401] * 3
        assert len(scrypt_checks) == 3
        for _ in range(20):  # over the cap: refused before scrypt, so a flood costs no CPU
            capped = guesser.post("/oauth/access_token", json=wrong)
            assert capped.status_code == 429 and capped.json()["error_code"] == 429
        assert len(scrypt_checks) == 3
        # the owner, from elsewhere, first request of this process: checked by scrypt and accepted
        assert owner.post("/oauth/access_token", json=_token_request(account)).status_code == 200
        assert len(scrypt_checks) == 4
        # a secret this process has accepted skips scrypt and the caps: even from the capped address
        assert [guesser.post("/oauth/access_token", json=_token_request(account)).status_code
                for _ in range(3)] == [200] * 3
        assert len(scrypt_checks) == 4
        assert guesser.post("/oauth/access_token", json=wrong).status_code == 429  # still capped for guesses


def test_failures_are_capped_per_address_whatever_the_client_id(ctx, monkeypatch, scrypt_checks):  # noqa: ANN001
    """Spreading guesses over many client_ids (or lying in X-Forwarded-For) buys no more scrypt checks."""
    from pulsebox import ratelimit
    from pulsebox.oauth import endpoints

    monkeypatch.setattr(endpoints, "ADDRESS_FAILURE_RULES", ratelimit.parse("1000/second;4/minute"), raising=False)
    victims = [make_account(ctx) for _ in range(3)]
    with _client_at(ctx, "203.0.113.8") as guesser, _client_at(ctx, "198.51.100.10") as owner:
        statuses = [guesser.post("/oauth/access_token", json=_token_request(victim, "guess"),
                                 headers={"X-Forwarded-For": f"192.0.2.{n}"}).status_code
                    for n, victim in enumerate(victims * 2)]
        assert statuses == [401] * 4 + [429] * 2 and len(scrypt_checks) == 4
        unknown = guesser.post("/oauth/access_token", json={**_token_request(victims[0]), "client_id": "0" * 32})
        assert unknown.status_code == 429  # an unknown client_id costs no scrypt, and is a failure too
        assert [owner.post("/oauth/access_token", json=_token_request(v)).status_code for v in victims] == [200] * 3
    # another host of the same IPv6 /64 is the same guesser
    with _client_at(ctx, "2001:db8:5::1") as first, _client_at(ctx, "2001:db8:5::2") as second:
        for _ in range(4):
            first.post("/oauth/access_token", json=_token_request(victims[0], "guess"))
        assert second.post("/oauth/access_token", json=_token_request(victims[1], "guess")).status_code == 429


def test_failures_are_counted_on_the_client_behind_a_trusted_proxy(ctx, monkeypatch):  # noqa: ANN001
    from pulsebox import ratelimit
    from pulsebox.oauth import endpoints

    monkeypatch.setattr(endpoints, "FAILURE_RULES", ratelimit.parse("1000/second;2/minute"))
    proxied = Context(settings=replace(ctx.settings, trusted_proxies="10.9.0.0/16"), db=ctx.db, limiter=ctx.limiter)
    account = make_account(ctx)
    with _client_at(proxied, "10.9.0.2") as proxy:
        guess = {"json": _token_request(account, "guess"), "headers": {"X-Forwarded-For": "203.0.113.9"}}
        assert [proxy.post("/oauth/access_token", **guess).status_code for _ in range(3)] == [401, 401, 429]
        right = proxy.post("/oauth/access_token", json=_token_request(account),
                           headers={"X-Forwarded-For": "203.0.113.9, 198.51.100.11"})  # the proxy saw .11
        assert right.status_code == 200


def test_a_revoked_token_stops_working_in_every_process_within_seconds(ctx, base_settings, monkeypatch,
                                                                       tmp_path, capsys):  # noqa: ANN001
    """Two server processes (two Contexts: no shared Python state) on one database. Rotating the
    secret with `pulsebox accounts rotate-secret` (its own Context) deletes the account's tokens;
    the other processes, which had the token cached, refuse it within REVOCATION_SECONDS."""
    from pulsebox import cli, context
    from pulsebox.oauth import service

    account = make_account(ctx)
    second_process = Context.create(base_settings)
    try:
        with TestClient(build(ctx), raise_server_exceptions=False) as first, \
                TestClient(build(second_process), raise_server_exceptions=False) as second:
            token = first.post("/oauth/access_token", json=_token_request(account)).json()["access_token"]
            untouched = Api(first, make_account(ctx))  # another account's token lives on
            bearer = {"Authorization": f"Bearer {token}"}
            assert first.get("/balance", headers=bearer).status_code == 200  # cached in both processes
            assert second.get("/balance", headers=bearer).status_code == 200

            monkeypatch.setenv("PULSEBOX_DATABASE_URL", base_settings.database_url)
            monkeypatch.setenv("PULSEBOX_DATA_DIR", str(tmp_path))
            cli.cmd_accounts(cli.parser().parse_args(["accounts", "rotate-secret", str(account["id"])]))
            rotated = json.loads(capsys.readouterr().out)

            clock = _Clock(REVOCATION_SECONDS + 0.5)  # the bound, without sleeping through it
            monkeypatch.setattr(service, "time", clock)
            monkeypatch.setattr(context, "time", clock)
            assert second.get("/balance", headers=bearer).status_code == 401
            assert first.get("/balance", headers=bearer).status_code == 401
            assert untouched.get("/balance").status == 200
            # the new secret gives a token both processes take; the old secret is refused
            assert second.post("/oauth/access_token", json=_token_request(account)).status_code == 401
            fresh = second.post("/oauth/access_token",
                                json=_token_request(account, rotated["client_secret"])).json()["access_token"]
            assert first.get("/balance", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
    finally:
        second_process.db.dispose()


def test_a_deleted_account_stops_working_in_every_process_within_seconds(ctx, base_settings,
                                                                         monkeypatch):  # noqa: ANN001
    from pulsebox import context
    from pulsebox.oauth import service

    account = make_account(ctx)
    second_process = Context.create(base_settings)
    try:
        with TestClient(build(second_process), raise_server_exceptions=False) as second:
            user = Api(second, account)
            assert user.get("/balance").status == 200
            with ctx.db.transaction() as conn:  # e.g. an operator's DELETE: its tokens go with it
                conn.execute(delete(Account.__table__).where(Account.__table__.c.id == account["id"]))
            clock = _Clock(REVOCATION_SECONDS + 0.5)
            monkeypatch.setattr(service, "time", clock)
            monkeypatch.setattr(context, "time", clock)
            assert user.get("/balance").status == 401
    finally:
        second_process.db.dispose()


def test_cached_tokens_are_rechecked_and_stay_valid(ctx, client, api, monkeypatch):  # noqa: ANN001
    """The recheck costs one indexed lookup per token and process every RECHECK_SECONDS (at most the
    promised bound); a valid token never notices."""
    from pulsebox import context
    from pulsebox.oauth import repository, service

    lookups, real = [], repository.find
    monkeypatch.setattr(repository, "find", lambda conn, digest: lookups.append(digest) or real(conn, digest))
    clock = _Clock(0.0)
    monkeypatch.setattr(service, "time", clock)
    monkeypatch.setattr(context, "time", clock)
    assert service.RECHECK_SECONDS <= REVOCATION_SECONDS
    for _ in range(6):
        assert [api.get("/balance").status for _ in range(50)] == [200] * 50
        clock.offset += REVOCATION_SECONDS + 0.1
    assert len(lookups) == 6  # 300 requests: one lookup per token and RECHECK_SECONDS, not per request


REVOCATION_SECONDS = 5  # README: a deleted token or account is refused by every process within this


class _Clock:
    """Stands in for the ``time`` module: real time plus ``offset`` seconds."""

    def __init__(self, offset: float) -> None:
        self.offset = offset

    def time(self) -> float:
        return time.time() + self.offset

    def monotonic(self) -> float:
        return time.monotonic() + self.offset


def test_hashes_record_their_cost_and_servers_use_the_full_one(monkeypatch):
    from pulsebox.accounts import service as accounts

    cheap = accounts.hash_secret("s3cret")  # the suite's cheap cost (tests/conftest.py)
    assert cheap.startswith(f"scrypt-n{accounts.SCRYPT_N}$") and accounts.verify_secret("s3cret", cheap)
    monkeypatch.setattr(accounts, "SCRYPT_N", 2**14)
    full = accounts.hash_secret("s3cret")
    assert full.startswith("scrypt$") and accounts.verify_secret("s3cret", full)
    assert not accounts.verify_secret("wrong", full)
    salt_and_digest = full.split("$", 1)[1]
    for forged in (f"scrypt-n3${salt_and_digest}", f"scrypt-n{2**30}${salt_and_digest}", f"scrypt-nx${salt_and_digest}",
                   f"md5${salt_and_digest}"):
        assert not accounts.verify_secret("s3cret", forged)  # never a cost the stored hash did not pay
