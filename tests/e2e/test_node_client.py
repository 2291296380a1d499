"""The official Node.js wrapper (``sendpulse-api`` 1.1.7 from npm) against a live Pulsebox server.

``node/scenario.js`` drives the client (redirected by the ``node/redirect.js`` preload, since the
client hard-codes https://api.sendpulse.com:443) and prints one JSON object with every answer; the
tests assert those answers and cross-check with httpx that the data really landed in the server.
``npm ci`` runs first when ``node/node_modules`` is missing, so a fresh clone works.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from .e2e_helpers import Account, Api, LiveServer, node_modules_ready, run_node_scenario

pytestmark = pytest.mark.e2e

NPM_TIMEOUT = 300
SCENARIO_TIMEOUT = 90  # the scenario's own watchdog fires at 60 s
NAME_WITH_QUOTES = 'Zoë "Zo" Ünal'


@pytest.fixture(scope="module")
def node_ready() -> Path:
    return node_modules_ready(NPM_TIMEOUT)


def token_file(token_dir: Path, account: Account) -> Path:
    return token_dir / hashlib.md5(f"{account.client_id}::{account.client_secret}".encode()).hexdigest()


def run_scenario(
    live_server: LiveServer, account: Account, token_dir: Path, mode: str = "full", tag: str | None = None
) -> dict:
    return run_node_scenario(live_server, account, token_dir, mode, timeout=SCENARIO_TIMEOUT,
                             extra_env={"PULSEBOX_E2E_TAG": tag} if tag else None)


def ok(answer) -> bool:
    return isinstance(answer, dict) and answer.get("result") is True and not answer.get("is_error")


def vars_of(variables) -> dict:
    if isinstance(variables, dict):
        return variables
    return {v["name"]: v["value"] for v in variables or []}


@pytest.fixture(scope="module")
def token_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # a fresh, not-yet-existing directory: init() must create it (it does, recursively)
    return tmp_path_factory.mktemp("node-token") / "cache"


@pytest.fixture(scope="module")
def run(node_ready: Path, live_server: LiveServer, account: Account, token_dir: Path) -> dict:
    return run_scenario(live_server, account, token_dir)


def test_token_fetched_and_cached(run: dict, account: Account, token_dir: Path, api: Api):
    token = run["init"]
    assert isinstance(token, str) and token, run["init"]
    cached = token_file(token_dir, account)
    assert cached.read_text() == token
    assert api.ok("GET", "/balance/USD", headers={"Authorization": f"Bearer {token}"})["currency"] == "USD"


def test_address_books(run: dict, api: Api):
    book_id = run["create_book"].get("id")
    assert isinstance(book_id, int), run["create_book"]
    assert book_id in {b["id"] for b in run["list_books"]}, run["list_books"]
    assert isinstance(run["list_books_page"], list) and len(run["list_books_page"]) == 1, run["list_books_page"]
    assert ok(run["edit_book"]), run["edit_book"]
    assert isinstance(run["book_info"], list) and len(run["book_info"]) == 1, run["book_info"]
    info = run["book_info"][0]
    assert info["id"] == book_id and info["name"] == f"node-book-{run['tag']} ✓"
    assert info["all_email_qty"] == 0

    assert ok(run["remove_book2"]), run["remove_book2"]
    assert run["book2_info_after_remove"].get("is_error"), run["book2_info_after_remove"]

    # cross-check over plain HTTP
    books = {b["id"]: b for b in api.ok("GET", "/addressbooks", params={"limit": 100})}
    assert books[book_id]["name"] == f"node-book-{run['tag']} ✓"
    assert run["create_book2"]["id"] not in books


def test_contacts(run: dict, api: Api):
    n = run["names"]
    book_id, a, b = n["book_id"], n["a"], n["b"]
    assert ok(run["add_emails"]), run["add_emails"]

    listed = {row["email"]: row for row in run["emails"]}
    assert set(listed) == {a, b}, run["emails"]
    assert vars_of(listed[a]["variables"]) == {"name": NAME_WITH_QUOTES, "city": "Київ"}
    assert vars_of(listed[b].get("variables")) == {}

    assert run["email_info"]["email"] == a, run["email_info"]
    assert vars_of(run["email_info"]["variables"]) == {"name": NAME_WITH_QUOTES, "city": "Київ"}

    assert ok(run["update_variables"]), run["update_variables"]
    assert vars_of(run["email_info_after"]["variables"]) == {"name": NAME_WITH_QUOTES, "city": 'Lviv "L"'}

    assert book_id in {row["book_id"] for row in run["global_info"]}, run["global_info"]
    assert book_id in {ab["id"] for ab in run["email_campaign_stats"]["addressbooks"]}, run["email_campaign_stats"]
    assert isinstance(run["cost"].get("sent_emails_qty"), int), run["cost"]

    assert run["total_before"] == {"total": 2}, run["total_before"]
    assert ok(run["unsubscribe"]), run["unsubscribe"]
    assert run["email_info_unsubscribed"].get("status") == 4, run["email_info_unsubscribed"]  # 004: Unsubscribed

    assert ok(run["remove_emails"]), run["remove_emails"]
    assert [row["email"] for row in run["emails_after_remove"]] == [a], run["emails_after_remove"]
    assert run["book_info_after"][0]["all_email_qty"] == 1, run["book_info_after"]

    # cross-check over plain HTTP: the exact variables landed, b is gone
    rows = api.ok("GET", f"/addressbooks/{book_id}/emails")
    assert [row["email"] for row in rows] == [a], rows
    assert vars_of(rows[0]["variables"]) == {"name": NAME_WITH_QUOTES, "city": 'Lviv "L"'}
    assert api.ok("GET", f"/addressbooks/{book_id}/emails/total") == {"total": 1}
    one = api.ok("GET", f"/addressbooks/{book_id}/emails/{a}")
    assert vars_of(one["variables"])["name"] == NAME_WITH_QUOTES


def test_senders(run: dict, api: Api):
    sender = run["names"]["sender"]
    assert ok(run["add_sender"]), run["add_sender"]
    before = {s["email"]: s for s in run["senders_before"]}
    assert before[sender]["name"] == f"Node {NAME_WITH_QUOTES}"
    assert before[sender]["status"] != "Active", before[sender]

    assert ok(run["request_code"]), run["request_code"]
    assert run["activation_mail"].get("code"), run["activation_mail"]
    assert run["activate_wrong"].get("is_error"), run["activate_wrong"]
    assert ok(run.get("activate")), run.get("activate")
    assert {s["email"]: s for s in run["senders_after"]}[sender]["status"] == "Active"

    spare = run["names"]["spare"]
    assert ok(run["add_spare_sender"]) and ok(run["remove_spare_sender"]), (
        run["add_spare_sender"],
        run["remove_spare_sender"],
    )
    assert spare not in {s["email"] for s in run["senders_final"]}

    server_side = {s["email"]: s for s in api.ok("GET", "/senders")}
    assert server_side[sender]["status"] == "Active"
    assert spare not in server_side


def test_blacklist(run: dict, api: Api):
    x, y = run["names"]["x"], run["names"]["y"]
    assert ok(run["blacklist_add"]), run["blacklist_add"]
    assert {x, y} <= set(run["blacklist"]), run["blacklist"]
    assert ok(run["blacklist_remove"]), run["blacklist_remove"]
    assert y in run["blacklist_after"] and x not in run["blacklist_after"], run["blacklist_after"]
    server_side = api.ok("GET", "/blacklist")
    assert y in server_side and x not in server_side, server_side


def test_templates(run: dict, api: Api):
    created = run["template_create"]
    assert created.get("result") is True and isinstance(created.get("real_id"), int), created
    real_id = created["real_id"]
    mine = [t for t in run["templates"] if t.get("real_id") == real_id]
    assert len(mine) == 1, run["templates"]
    assert mine[0]["name"] == f"node-tpl-{run['tag']}" and mine[0]["lang"] == "en", mine[0]
    template = run.get("template")
    assert isinstance(template, dict) and template.get("real_id") == real_id, template
    assert template["name"] == f"node-tpl-{run['tag']}"
    # cross-check over plain HTTP by the same id
    assert api.ok("GET", f"/template/{real_id}")["name"] == f"node-tpl-{run['tag']}"


def test_campaign(run: dict, live_server: LiveServer):
    n = run["names"]
    created = run["campaign"]
    assert created.get("status") == 13 and created.get("count") == 1, created  # a is the list's one contact
    assert created["id"] in [c["id"] for c in run["campaigns"]], run["campaigns"]
    assert run["campaign_info"]["name"] == f"node-campaign-{run['tag']}", run["campaign_info"]
    message = live_server.wait_for_message(lambda m: n["a"] in str(m["To"]) and "Hi " in str(m["Subject"]))
    assert str(message["Subject"]) == f"Hi {NAME_WITH_QUOTES}"
    assert [(a.get_filename(), a.get_content()) for a in message.iter_attachments()] == \
        [("note.txt", f"node {run['tag']}")]


def test_balance(run: dict):
    assert isinstance(run["balance"].get("currency"), str) and not run["balance"].get("is_error"), run["balance"]
    assert isinstance(run["balance"].get("balance_currency"), (int, float)), run["balance"]
    assert run["balance_usd"].get("currency") == "USD", run["balance_usd"]
    assert isinstance(run["balance_usd"].get("balance_currency"), (int, float)), run["balance_usd"]


def test_stale_cached_token_is_refreshed(
    node_ready: Path, live_server: LiveServer, account: Account, tmp_path: Path, api: Api
):
    # A cached token the server does not know (expired, or from another server) must get HTTP 401;
    # the client then fetches a new one, rewrites the cache file and repeats the call.
    cached = token_file(tmp_path, account)
    cached.write_text("stale-token-from-an-older-run")
    result = run_scenario(live_server, account, tmp_path, mode="token")
    assert result["init"] == "stale-token-from-an-older-run"  # init trusts the cache without a request
    assert result["balance_usd"].get("currency") == "USD", result["balance_usd"]
    assert isinstance(result["list_books"], list), result["list_books"]
    fresh = cached.read_text()
    assert fresh != "stale-token-from-an-older-run"
    assert api.ok("GET", "/balance/USD", headers={"Authorization": f"Bearer {fresh}"})["currency"] == "USD"


def test_bad_credentials_end_in_an_error_not_a_loop(
    node_ready: Path, live_server: LiveServer, account: Account, tmp_path: Path
):
    # The client stops only if the 401 body carries "error": "invalid_client" (wire README, rule 2);
    # otherwise it loops until the scenario's watchdog fires.
    result = run_scenario(live_server, account, tmp_path / "cache", mode="badcreds")
    assert result["init"] == {"is_error": 1, "message": "Invalid credentials"}, result
    assert not token_file(tmp_path / "cache", account).exists()
