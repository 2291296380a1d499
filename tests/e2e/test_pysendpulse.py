"""The official Python wrapper (``pysendpulse`` 0.1.8 from PyPI) against a live Pulsebox server.

pysendpulse hard-codes ``https://api.sendpulse.com`` in the private class attribute ``__api_url``;
a subclass that sets ``_PySendPulse__api_url`` before construction redirects it (the constructor
fetches a token at once). Its return values: the decoded JSON body on a 2xx answer, and
``{"data": {"is_error": True, "http_code": N, ...}}`` on any other status (the body is dropped).

Some endpoints have no pysendpulse method (contact total, search by variable, unsubscribe from a
list, detailed balance) and its blacklist add/remove crash on Python 3: those are called with httpx
(the ``api`` fixture), each place saying why, and the result is read back through pysendpulse.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pysendpulse.pysendpulse import PySendPulse

from .e2e_helpers import Account, Api, LiveServer, activation_code, addressed_to, b64, client_class, free_port, unique

pytestmark = pytest.mark.e2e

NAME_WITH_QUOTES = 'Zoë "Zo" Ünal'  # non-ASCII letters and a double quote in one value
NEW_NAME = 'Ünal "Jr" Zoë'
CITY = "Київ"


def token_file(token_dir: str, account: Account) -> Path:
    # pysendpulse caches the token in "{token_file_path}{md5(id::secret)}": the path is concatenated,
    # not joined, hence the trailing "/" on the directory.
    name = hashlib.md5(f"{account.client_id}::{account.client_secret}".encode()).hexdigest()
    return Path(f"{token_dir}{name}")


def is_error(result) -> bool:
    """pysendpulse wraps any non-2xx answer as {"data": {"is_error": True, "http_code": N}}."""
    return isinstance(result, dict) and (
        bool(result.get("is_error")) or bool(isinstance(result.get("data"), dict) and result["data"].get("is_error"))
    )


def only(result) -> dict:
    """Document 004 answers GET /addressbooks/{id} with a one-element list."""
    assert isinstance(result, list) and len(result) == 1, f"expected a one-element list, got {result!r}"
    return result[0]


def variables_as_dict(variables) -> dict:
    """Variables come as {"name": value} (list endpoint) or [{"name", "type", "value"}] (info endpoints)."""
    if isinstance(variables, dict):
        return variables
    if not variables:
        return {}
    assert isinstance(variables, list), variables
    return {v["name"]: v["value"] for v in variables}


@pytest.fixture(scope="module")
def token_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"{tmp_path_factory.mktemp('pysendpulse-token')}/"


@pytest.fixture(scope="module")
def sp(live_server: LiveServer, account: Account, token_dir: str) -> PySendPulse:
    return client_class(live_server.base_url)(account.client_id, account.client_secret, token_file_path=token_dir)


# ------------------------------------------------------------------------------------------------ #
#                                       token handling                                             #
# ------------------------------------------------------------------------------------------------ #


def test_constructor_fetches_and_caches_token(sp: PySendPulse, account: Account, token_dir: str, api: Api):
    cached = token_file(token_dir, account)
    assert cached.is_file(), f"pysendpulse did not write its token cache file {cached}"
    token = cached.read_text()
    assert token and token == sp._PySendPulse__token
    # the cached token really is a valid bearer token for this account
    r = httpx.get(f"{api.base_url}/balance/USD", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 200, (r.status_code, r.text)


def test_second_client_with_cached_token_recovers_from_bytes_token(
    live_server: LiveServer, account: Account, token_dir: str, sp: PySendPulse
):
    # A second constructor finds the cache file and reads it in binary mode, so it sends
    # "Authorization: Bearer b'...'" (wire README, rule 3). The server must answer 401, and the
    # client then fetches a fresh token and retries once. Any other answer breaks this client.
    assert token_file(token_dir, account).is_file()
    second = client_class(live_server.base_url)(account.client_id, account.client_secret, token_file_path=token_dir)
    assert isinstance(second._PySendPulse__token, bytes)  # the client bug this test exercises
    books = second.get_list_of_addressbooks()
    assert isinstance(books, list), books
    assert isinstance(second._PySendPulse__token, str), "client did not refresh its token after the 401"
    assert token_file(token_dir, account).read_text() == second._PySendPulse__token


def test_memcached_storage_without_memcached_falls_back_to_fresh_tokens(live_server: LiveServer, account: Account):
    # storage_type="MEMCACHED" uses python3-memcached; with no memcached listening, get() returns None
    # and set() fails silently, so every construction simply fetches a new token. Point it at a port
    # where nothing listens to show that path works against Pulsebox too.
    port = free_port()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, "something listens on the 'dead' memcached port"
    client = client_class(live_server.base_url)(
        account.client_id, account.client_secret, storage_type="MEMCACHED", memcached_host=f"127.0.0.1:{port}"
    )
    assert isinstance(client._PySendPulse__token, str) and client._PySendPulse__token
    balance = client.get_balance("USD")
    assert not is_error(balance), balance
    assert balance["currency"] == "USD"


def test_wrong_secret_raises(live_server: LiveServer, account: Account, tmp_path: Path):
    with pytest.raises(Exception, match="Could not connect to API"):
        client_class(live_server.base_url)(account.client_id, "not-the-secret", token_file_path=f"{tmp_path}/")
    # and the answer has the shape every client relies on (wire README, rule 2)
    r = httpx.post(
        f"{live_server.base_url}/oauth/access_token",
        json={"grant_type": "client_credentials", "client_id": account.client_id, "client_secret": "not-the-secret"},
        timeout=10,
    )
    assert r.status_code == 401, (r.status_code, r.text)
    assert r.json().get("error") == "invalid_client", r.text


# ------------------------------------------------------------------------------------------------ #
#                                   address books and contacts                                     #
# ------------------------------------------------------------------------------------------------ #


def test_addressbook_crud(sp: PySendPulse, api: Api):
    name = unique("book-")
    created = sp.add_addressbook(name)
    assert isinstance(created, dict) and isinstance(created.get("id"), int), created
    book_id = created["id"]

    # GET /addressbooks?{"limit": 0, "offset": 0}: the JSON-object query string pysendpulse sends
    books = sp.get_list_of_addressbooks()
    assert isinstance(books, list), books
    assert {b["id"]: b["name"] for b in books}.get(book_id) == name, books

    info = only(sp.get_addressbook_info(book_id))
    assert info["id"] == book_id and info["name"] == name
    assert info["all_email_qty"] == 0

    # paging through the JSON-object query string
    extra = [sp.add_addressbook(unique("page-"))["id"] for _ in range(2)]
    everything = [b["id"] for b in sp.get_list_of_addressbooks()]
    assert len(everything) >= 3 and set(extra) <= set(everything)
    page = [b["id"] for b in sp.get_list_of_addressbooks(limit=2, offset=1)]
    assert page == everything[1:3], (page, everything)
    for other in extra:
        assert sp.delete_addressbook(other) == {"result": True}

    renamed = f"{name} ({NAME_WITH_QUOTES})"
    assert sp.edit_addressbook(book_id, renamed) == {"result": True}
    assert only(sp.get_addressbook_info(book_id))["name"] == renamed

    assert sp.delete_addressbook(book_id) == {"result": True}
    gone = sp.get_addressbook_info(book_id)
    assert is_error(gone), gone
    assert gone["data"]["http_code"] in (400, 404), gone
    assert book_id not in {b["id"] for b in sp.get_list_of_addressbooks()}
    # the error body itself (pysendpulse drops it): SendPulse's error object
    r = api.request("GET", f"/addressbooks/{book_id}")
    assert 400 <= r.status_code < 500 and r.json().get("is_error") is True, (r.status_code, r.text)
    assert r.json().get("error_code") in (213, 703), r.text  # "Mailing list not found" / "Can't find mailing list"


def test_contacts_with_variables(sp: PySendPulse, api: Api):
    book_id = sp.add_addressbook(unique("contacts-"))["id"]
    a, b = f"{unique('a')}@example.com", f"{unique('b')}@example.com"

    # pysendpulse sends {"emails": "<JSON string>"} (a JSON array serialised inside JSON)
    added = sp.add_emails_to_addressbook(
        book_id, [{"email": a, "variables": {"name": NAME_WITH_QUOTES, "city": CITY}}, {"email": b}]
    )
    assert added == {"result": True}, added

    listed = sp.get_emails_from_addressbook(book_id)
    assert isinstance(listed, list), listed
    by_email = {row["email"]: row for row in listed}
    assert set(by_email) == {a, b}, listed
    assert variables_as_dict(by_email[a]["variables"]) == {"name": NAME_WITH_QUOTES, "city": CITY}
    assert variables_as_dict(by_email[b].get("variables")) == {}
    assert isinstance(by_email[a]["status"], int)

    assert only(sp.get_addressbook_info(book_id))["all_email_qty"] == 2
    # pysendpulse has no method for the contact total
    assert api.ok("GET", f"/addressbooks/{book_id}/emails/total") == {"total": 2}

    one = sp.get_email_info_from_one_addressbooks(book_id, a)
    assert not is_error(one), one
    assert one["email"] == a
    assert variables_as_dict(one["variables"]) == {"name": NAME_WITH_QUOTES, "city": CITY}

    everywhere = sp.get_email_info_from_all_addressbooks(a)
    assert isinstance(everywhere, list), everywhere
    rows = [row for row in everywhere if row["book_id"] == book_id]
    assert len(rows) == 1, everywhere
    assert variables_as_dict(rows[0]["variables"])["name"] == NAME_WITH_QUOTES

    names = {v["name"] for v in sp.get_addressbook_variables(book_id)}
    assert {"name", "city"} <= names, names

    # change one variable; the other stays
    changed = sp.set_variables_for_email(book_id, a, [{"name": "name", "value": NEW_NAME}])
    assert changed == {"result": True}, changed
    after = sp.get_email_info_from_one_addressbooks(book_id, a)
    assert variables_as_dict(after["variables"]) == {"name": NEW_NAME, "city": CITY}

    # search by variable value (no pysendpulse method); the value is percent-encoded UTF-8 in the path
    found = api.ok("GET", f"/addressbooks/{book_id}/variables/name/{quote(NEW_NAME, safe='')}")
    assert [row["email"] for row in found] == [a], found
    assert api.ok("GET", f"/addressbooks/{book_id}/variables/city/{quote(CITY, safe='')}") != []
    # document 004 spells this path with "//variables"; the wire README says to normalise "//"
    assert [r["email"] for r in api.ok("GET", f"/addressbooks/{book_id}//variables/city/{quote(CITY, safe='')}")] == [a]

    # paging contacts: pysendpulse puts limit/offset in the JSON-object query string
    assert len(sp.get_emails_from_addressbook(book_id, limit=1)) == 1
    assert len(sp.get_emails_from_addressbook(book_id, limit=1, offset=1)) == 1
    assert sp.get_emails_from_addressbook(book_id, limit=1, offset=2) == []

    cost = sp.get_campaign_cost(book_id)
    assert not is_error(cost), cost
    assert isinstance(cost.get("cur"), str) and isinstance(cost.get("sent_emails_qty"), int), cost

    stats = sp.get_email_statistic_by_campaigns(a)
    assert not is_error(stats), stats
    assert book_id in {ab["id"] for ab in stats["addressbooks"]}, stats
    assert stats["blacklist"] is False

    multi = sp.get_emails_stat_by_campaigns([a, b])
    assert not is_error(multi), multi
    assert set(multi) >= {a, b}, multi

    # delete one contact from the list
    assert sp.delete_emails_from_addressbook(book_id, [b]) == {"result": True}
    assert [row["email"] for row in sp.get_emails_from_addressbook(book_id)] == [a]
    assert api.ok("GET", f"/addressbooks/{book_id}/emails/total") == {"total": 1}

    # delete the other from every list
    assert sp.delete_email_from_all_addressooks(a) == {"result": True}
    assert sp.get_emails_from_addressbook(book_id) == []
    assert api.ok("GET", f"/addressbooks/{book_id}/emails/total") == {"total": 0}

    assert sp.delete_addressbook(book_id) == {"result": True}


def test_unsubscribe_from_list(sp: PySendPulse, api: Api):
    book_id = sp.add_addressbook(unique("unsub-"))["id"]
    keep, leave = f"{unique('keep')}@example.com", f"{unique('leave')}@example.com"
    assert sp.add_emails_to_addressbook(book_id, [{"email": keep}, {"email": leave}]) == {"result": True}
    before = sp.get_email_info_from_one_addressbooks(book_id, leave)["status"]

    # pysendpulse has no method for POST /addressbooks/{id}/emails/unsubscribe
    assert api.ok("POST", f"/addressbooks/{book_id}/emails/unsubscribe", json={"emails": [leave]}) == {"result": True}

    left = sp.get_email_info_from_one_addressbooks(book_id, leave)
    assert left["status"] == 4 and left["status"] != before, left  # document 004: 4 = Unsubscribed
    assert sp.get_email_info_from_one_addressbooks(book_id, keep)["status"] == before
    # unsubscribing keeps the contact in the list
    assert {row["email"] for row in sp.get_emails_from_addressbook(book_id)} == {keep, leave}
    sp.delete_addressbook(book_id)


# ------------------------------------------------------------------------------------------------ #
#                                            senders                                               #
# ------------------------------------------------------------------------------------------------ #


def test_sender_activation_via_captured_mail(sp: PySendPulse, live_server: LiveServer):
    email = f"{unique('sender')}@e2e-pulsebox.example.com"
    name = f"Sender {NAME_WITH_QUOTES}"
    assert sp.add_sender(email, name) == {"result": True}

    senders = {s["email"]: s for s in sp.get_list_of_senders()}
    assert email in senders, senders
    assert senders[email]["name"] == name
    assert senders[email]["status"] != "Active", senders[email]

    seen = live_server.mail_files()  # ignore anything already captured (e.g. a mail sent on add)
    requested = sp.send_sender_activation_email(email)
    assert not is_error(requested) and requested.get("result") is True, requested
    code = activation_code(live_server.wait_for_message(addressed_to(email), exclude=seen))

    wrong = sp.activate_sender(email, f"x{code}x")
    assert is_error(wrong), wrong
    assert {s["email"]: s for s in sp.get_list_of_senders()}[email]["status"] != "Active"

    activated = sp.activate_sender(email, code)
    assert not is_error(activated) and activated.get("result") is True, activated
    assert {s["email"]: s for s in sp.get_list_of_senders()}[email]["status"] == "Active"

    assert sp.delete_sender(email) == {"result": True}
    assert email not in {s["email"] for s in sp.get_list_of_senders()}


# ------------------------------------------------------------------------------------------------ #
#                                           campaigns                                              #
# ------------------------------------------------------------------------------------------------ #


def test_a_campaign_in_pysendpulses_shape_arrives_personalised(sp: PySendPulse, api: Api, live_server: LiveServer):
    book = sp.add_addressbook(unique("campaign-list"))["id"]
    people = [f"{unique('reader')}@example.com" for _ in range(3)]
    assert sp.add_emails_to_addressbook(book, [{"email": e, "variables": {"name": f"R{i}"}}
                                               for i, e in enumerate(people)]) == {"result": True}
    seen = live_server.mail_files()
    # add_campaign cannot run on Python 3 (base64.b64encode of a str raises; of bytes, the JSON
    # encoder then refuses the bytes it returns): its exact body is posted instead, as it builds it
    created = api.ok("POST", "/campaigns", json={
        "sender_name": "News", "sender_email": "news@e2e-pulsebox.example.com", "subject": "Hi {{name}}",
        "body": b64('<p>Hello {{name}}</p><a href="https://shop.example/">Shop</a>'), "list_id": book,
        "name": "From pysendpulse", "attachments": '{"note.txt": "attached"}'})
    assert not is_error(created) and created["status"] == 13 and created["count"] == 3, created
    for i, email in enumerate(people):
        message = live_server.wait_for_message(addressed_to(email), exclude=seen)
        assert message["Subject"] == f"Hi R{i}"
        assert [a.get_filename() for a in message.iter_attachments()] == ["note.txt"]
    info = sp.get_campaign_info(created["id"])
    assert info["status"] == 3 and info["name"] == "From pysendpulse", info
    assert {g["code"]: g["count"] for g in info["statistics"]["general"]}[1] == 3
    assert created["id"] in [c["id"] for c in sp.get_list_of_campaigns()]
    assert sp.get_campaign_stat_by_referrals(created["id"]) == []
    assert is_error(sp.cancel_campaign(created["id"]))  # sent: nothing left to cancel (602)


# ------------------------------------------------------------------------------------------------ #
#                                           blacklist                                              #
# ------------------------------------------------------------------------------------------------ #


def test_blacklist(sp: PySendPulse, api: Api):
    x, y = f"{unique('x')}@example.com", f"{unique('y')}@example.com"
    start = sp.get_emails_in_blacklist()
    assert isinstance(start, list), start
    assert x not in start and y not in start

    # pysendpulse 0.1.8 calls base64.b64encode(str) in add/delete: a TypeError on Python 3 before any
    # request is sent (a client bug). So the writes go through httpx with the document-004 shape
    # (base64 of the comma-joined list); the reads use pysendpulse.
    with pytest.raises(TypeError):
        sp.add_email_to_blacklist(x)
    with pytest.raises(TypeError):
        sp.delete_email_from_blacklist(x)

    assert api.ok("POST", "/blacklist", json={"emails": b64(f"{x},{y}"), "comment": "e2e"}) == {"result": True}
    listed = sp.get_emails_in_blacklist()
    assert all(isinstance(e, str) for e in listed), listed  # document 004: a bare list of addresses
    assert {x, y} <= set(listed), listed
    assert sp.get_email_statistic_by_campaigns(x)["blacklist"] is True

    assert api.ok("DELETE", "/blacklist", json={"emails": b64(x)}) == {"result": True}
    listed = sp.get_emails_in_blacklist()
    assert x not in listed and y in listed, listed
    assert api.ok("DELETE", "/blacklist", json={"emails": b64(y)}) == {"result": True}
    assert set(sp.get_emails_in_blacklist()) == set(start)


# ------------------------------------------------------------------------------------------------ #
#                                             balance                                              #
# ------------------------------------------------------------------------------------------------ #


def test_balance(sp: PySendPulse, api: Api):
    # get_balance() requests "balance/" (trailing slash) with the query "?{}"
    plain = sp.get_balance()
    assert isinstance(plain, dict) and not is_error(plain), plain
    assert isinstance(plain.get("currency"), str), plain
    assert isinstance(plain.get("balance_currency"), (int, float)), plain

    usd = sp.get_balance("usd")  # the client upper-cases: balance/USD
    assert not is_error(usd), usd
    assert usd["currency"] == "USD" and isinstance(usd["balance_currency"], (int, float)), usd

    # no pysendpulse method for the detailed balance
    detail = api.ok("GET", "/user/balance/detail")
    assert set(detail) >= {"balance", "email"}, detail
    assert isinstance(detail["email"]["maximum_subscribers"], int), detail
    assert isinstance(detail["email"]["emails_left"], int), detail


def test_unknown_route_is_a_sendpulse_error(sp: PySendPulse, api: Api):
    missing = sp.get_campaign_info(987654321)
    assert is_error(missing), missing
    r = api.request("GET", "/campaigns/987654321")
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert r.json().get("is_error") is True, r.text


# ------------------------------------------------------------------------------------------------ #
#                                          web push                                                #
# ------------------------------------------------------------------------------------------------ #


def test_push_methods_work_unmodified(sp: PySendPulse, api: Api, live_server: LiveServer):
    """pysendpulse's push methods: JSON query strings on GETs, ``//push/...`` on POSTs, ``ttl`` a string
    and ``filter`` a JSON string (its own example's way). The website is added with our route, and a
    browser subscribes through the public one (its push service never reached: the task waits for 2099)."""
    site = api.ok("POST", "/push/websites", json={"url": "https://shop.example.com"})
    point = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    subscribed = httpx.post(f"{live_server.base_url}/push/subscribe", content=json.dumps({
        "appkey": site["appkey"], "lang": "en", "browser": "Firefox", "variables": {"uname": "ann"},
        "subscription": {"endpoint": "https://push.example.net/wpush/1",
                         "keys": {"p256dh": base64.urlsafe_b64encode(point).decode().rstrip("="), "auth": "A" * 22}}}),
        headers={"content-type": "text/plain;charset=UTF-8"}).json()
    assert subscribed["result"] is True
    assert sp.push_count_websites() == {"total": 1}
    [listed] = sp.push_get_websites()
    assert listed["id"] == site["id"] and listed["url"] == "https://shop.example.com"
    assert [v["name"] for v in sp.push_get_variables(site["id"])] == ["uname"]
    [subscriber] = sp.push_get_subscriptions(site["id"])
    assert subscriber["id"] == subscribed["id"] and subscriber["status"] == 1
    assert sp.push_count_subscriptions(site["id"]) == {"total": 1}
    assert sp.push_set_subscription_state(subscribed["id"], 0) == {"result": True}
    assert sp.push_get_subscriptions(site["id"])[0]["status"] == 0
    created = sp.push_create("Hello!", site["id"], "This is my first push message", "10", {
        "filter_lang": "en", "send_date": "2099-01-01 00:00:00",
        "filter": json.dumps({"variable_name": "uname", "operator": "or",
                              "conditions": [{"condition": "likewith", "value": "a"}]})})
    assert created["result"] is True
    [task] = sp.push_get_tasks()
    assert task["id"] == created["id"] and task["title"] == "Hello!" and task["status"] == 1
    stats = api.ok("GET", f"/push/tasks/{created['id']}")
    assert stats["send"] == "0" and stats["message"]["link"] == "https://shop.example.com"
    assert is_error(sp.push_create("", site["id"], "body", "10"))  # title is required
