"""The public links: open pixel, click redirect, unsubscribe page and one-click POST, and the
double-opt-in confirmation. Deliveries are made straight through the outbox repository."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace

import pytest
from conftest import make_account
from starlette.testclient import TestClient

from pulsebox import links
from pulsebox.addressbooks import service as books
from pulsebox.app import build
from pulsebox.models import utcnow
from pulsebox.outbox import repository
from pulsebox.outbox import service as smtp
from pulsebox import clientinfo
from pulsebox.tracking import pages
from pulsebox.tracking import service as tracking

CHROME_LINUX = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                "Chrome/120.0.0.0 Safari/537.36")
CHROME_WINDOWS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/120.0.0.0 Safari/537.36")
UKRAINE_IP = "46.149.83.86"
PROXY = ("10.1.2.3", 40000)  # the peer address the test client connects from
LINKS = ["https://example.com/a?x=1&y=2", "http://example.org/b", "javascript:alert(1)", "ftp://example.com/f"]
BASE = "http://testserver"


@dataclass
class Copy:
    id: int
    account_id: int
    email: str
    public_id: str = ""  # its message's id, as POST /smtp/emails answers it


def make_delivery(ctx, *, track_opens: bool = True, track_clicks: bool = True, email: str | None = None,
                  account_id: int | None = None, links: list[str] = LINKS) -> Copy:
    account_id = account_id or make_account(ctx)["id"]
    email = email or f"rcpt-{secrets.token_hex(4)}@example.com"
    public_id = secrets.token_hex(16)
    with ctx.db.transaction() as conn:
        message_id = repository.insert_message(conn, {
            "public_id": public_id, "account_id": account_id, "kind": "smtp", "sender_email": "news@shop.example",
            "sender_name": "Shop", "subject": "Hello", "content": {"html": "<p>hi</p>", "links": links},
            "track_opens": track_opens, "track_clicks": track_clicks, "size": 10, "created_at": utcnow()})
        repository.insert_deliveries(conn, message_id, account_id, [email], utcnow())
        delivery_id = repository.deliveries_of(conn, account_id, "smtp", public_id)[0]["delivery_id"]
    return Copy(delivery_id, account_id, email, public_id)


def events(ctx, copy: Copy) -> list[dict]:
    with ctx.db.transaction(write=False) as conn:
        return [dict(e) for e in repository.events(conn, [copy.id])]


def counts(ctx, copy: Copy) -> tuple[int, int]:
    with ctx.db.transaction(write=False) as conn:
        row = smtp.delivery(conn, copy.id)
    return row["opens"], row["clicks"]


def listed(ctx, copy: Copy) -> bool:
    with ctx.db.transaction(write=False) as conn:
        return copy.email in repository.unsubscribed(conn, copy.account_id, [copy.email])


def path(url: str) -> str:
    assert url.startswith(BASE)
    return url[len(BASE):]


@pytest.fixture
def key(ctx) -> bytes:
    return ctx.settings.signing_key


@pytest.fixture
def proxied(ctx, monkeypatch):
    """A client behind a trusted reverse proxy (PULSEBOX_TRUSTED_PROXIES names its address)."""
    monkeypatch.setattr(ctx, "settings", replace(ctx.settings, trusted_proxies=f"127.0.0.1, {PROXY[0]}"))
    with TestClient(build(ctx), raise_server_exceptions=False, client=PROXY, follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def browser(ctx):
    with TestClient(build(ctx), raise_server_exceptions=False, follow_redirects=False) as test_client:
        yield test_client


def assert_json_error(response, status: int = 404) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["is_error"] is True and type(body["error_code"]) is int and body["message"]
    assert "location" not in response.headers


# ---------------------------------------------------------------- opens

def test_open_pixel_records_ip_country_browser_and_os(ctx, key, proxied):
    copy = make_delivery(ctx)
    response = proxied.get(path(links.open_url(BASE, key, copy.id)),
                           headers={"User-Agent": CHROME_LINUX, "X-Forwarded-For": f"6.6.6.6, {UKRAINE_IP}"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif"
    assert response.content.startswith(b"GIF89a") and len(response.content) == 43
    assert "no-store" in response.headers["cache-control"]
    [event] = events(ctx, copy)
    assert (event["kind"], event["ip"], event["country"], event["browser"], event["os"]) == \
        ("open", UKRAINE_IP, "Ukraine", "Chrome 120.0", "Linux")
    assert event["account_id"] == copy.account_id and event["url"] is None
    assert counts(ctx, copy) == (1, 0)


def test_every_forwarded_for_line_is_read(ctx, key, proxied):
    """A proxy may add its own X-Forwarded-For line after the client's: the rightmost entries count."""
    copy = make_delivery(ctx)
    proxied.get(path(links.open_url(BASE, key, copy.id)),
                headers=[("User-Agent", CHROME_LINUX), ("X-Forwarded-For", "6.6.6.6"),
                         ("X-Forwarded-For", UKRAINE_IP)])
    [event] = events(ctx, copy)
    assert event["ip"] == UKRAINE_IP


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(ctx, key, monkeypatch):
    copies = [make_delivery(ctx), make_delivery(ctx)]
    forged = {"X-Forwarded-For": UKRAINE_IP, "User-Agent": CHROME_WINDOWS}
    monkeypatch.setattr(ctx, "settings", replace(ctx.settings, trusted_proxies=""))
    with TestClient(build(ctx), client=("198.51.100.7", 1)) as direct:
        assert direct.get(path(links.open_url(BASE, key, copies[0].id)), headers=forged).status_code == 200
    monkeypatch.setattr(ctx, "settings", replace(ctx.settings, trusted_proxies="10.0.0.0/8"))  # not the peer
    with TestClient(build(ctx), client=("198.51.100.7", 1)) as direct:
        assert direct.get(path(links.open_url(BASE, key, copies[1].id)), headers=forged).status_code == 200
    assert [(e["ip"], e["country"], e["browser"], e["os"]) for c in copies for e in events(ctx, c)] == \
        [("198.51.100.7", "", "Chrome 120.0", "Windows 10")] * 2


def test_untracked_message_gets_the_pixel_but_no_event(ctx, key, browser):
    copy = make_delivery(ctx, track_opens=False)
    response = browser.get(path(links.open_url(BASE, key, copy.id)))
    assert response.status_code == 200 and response.headers["content-type"] == "image/gif"
    assert events(ctx, copy) == [] and counts(ctx, copy) == (0, 0)


def test_pixel_of_a_deleted_delivery_is_served_and_records_nothing(ctx, key, browser):
    response = browser.get(path(links.open_url(BASE, key, 2_000_000_000)))
    assert response.status_code == 200 and response.headers["content-type"] == "image/gif"


@pytest.mark.parametrize("token", ["nope", "1.2.3", "%00", "a" * 5000, "1." + "0" * 24, "1.gif"])
def test_forged_or_malformed_open_token_is_a_json_404(ctx, key, browser, token):
    assert_json_error(browser.get(links.OPEN_PATH + token))


def test_open_token_of_another_purpose_is_refused(ctx, key, browser):
    copy = make_delivery(ctx)
    unsub_token = links.unsubscribe_url(BASE, key, copy.id).rsplit("/", 1)[1]
    assert_json_error(browser.get(links.OPEN_PATH + unsub_token))
    assert events(ctx, copy) == []


# ---------------------------------------------------------------- clicks

def test_click_redirects_to_the_stored_url_and_counts_an_open(ctx, key, proxied):
    copy = make_delivery(ctx)
    headers = {"User-Agent": CHROME_WINDOWS, "X-Forwarded-For": UKRAINE_IP}
    response = proxied.get(path(links.click_urls(BASE, key, copy.id)(0)), headers=headers)
    assert response.status_code == 302, response.text
    assert response.headers["location"] == LINKS[0]
    assert [(e["kind"], e["url"]) for e in events(ctx, copy)] == [("open", None), ("click", LINKS[0])]
    click = events(ctx, copy)[1]
    assert (click["ip"], click["country"], click["browser"], click["os"]) == \
        (UKRAINE_IP, "Ukraine", "Chrome 120.0", "Windows 10")
    # a second click is a click only: the message is already known to be opened
    response = proxied.get(path(links.click_urls(BASE, key, copy.id)(1)), headers=headers)
    assert response.status_code == 302 and response.headers["location"] == LINKS[1]
    assert [e["kind"] for e in events(ctx, copy)] == ["open", "click", "click"]
    assert counts(ctx, copy) == (1, 2)


def test_click_respects_the_tracking_switches(ctx, key, browser):
    copy = make_delivery(ctx, track_opens=False, track_clicks=False)
    response = browser.get(path(links.click_urls(BASE, key, copy.id)(0)))
    assert response.status_code == 302 and response.headers["location"] == LINKS[0]
    assert events(ctx, copy) == []


def test_head_on_a_click_link_redirects_but_records_nothing(ctx, key, browser):
    copy = make_delivery(ctx)
    response = browser.head(path(links.click_urls(BASE, key, copy.id)(0)))
    assert response.status_code == 302 and response.headers["location"] == LINKS[0]
    assert events(ctx, copy) == []


def _tamper(token: str) -> str:
    head, _, signature = token.rpartition(".")
    flipped = "0" if signature[5] != "0" else "1"
    return f"{head}.{signature[:5]}{flipped}{signature[6:]}"


@pytest.mark.parametrize("case", ["tampered", "other delivery's signature", "index out of range",
                                  "javascript URL", "ftp URL", "unknown delivery", "open token", "garbage",
                                  "negative-looking", "huge ids"])
def test_bad_click_is_a_4xx_error_and_never_a_redirect(ctx, key, browser, case):
    copy = make_delivery(ctx)
    other = make_delivery(ctx)
    token = {
        "tampered": _tamper(links.sign(key, links.CLICK, copy.id, 0)),
        "other delivery's signature": f"{copy.id:x}.0." + links.sign(key, links.CLICK, other.id, 0).rsplit(".", 1)[1],
        "index out of range": links.sign(key, links.CLICK, copy.id, len(LINKS)),
        "javascript URL": links.sign(key, links.CLICK, copy.id, 2),
        "ftp URL": links.sign(key, links.CLICK, copy.id, 3),
        "unknown delivery": links.sign(key, links.CLICK, 2_000_000_000, 0),
        "open token": links.sign(key, links.OPEN, copy.id),
        "garbage": "https%3A%2F%2Fevil.example",
        "negative-looking": f"-{copy.id:x}.0." + "0" * 24,
        "huge ids": links.sign(key, links.CLICK, 2 ** 64 - 1, 2 ** 64 - 1),
    }[case]
    response = browser.get(links.CLICK_PATH + token)
    assert_json_error(response)
    assert events(ctx, copy) == [] and events(ctx, other) == []


# ---------------------------------------------------------------- unsubscribing

def test_unsubscribe_page_asks_and_does_not_unsubscribe(ctx, key, browser):
    copy = make_delivery(ctx, email="reader@example.com")
    response = browser.get(path(links.unsubscribe_url(BASE, key, copy.id)))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "Unsubscribe r***@example.com from mail sent by news@shop.example?" in response.text
    assert '<form method="post">' in response.text and "reader@" not in response.text
    assert not listed(ctx, copy) and events(ctx, copy) == []


def test_one_click_post_unsubscribes_and_is_idempotent(ctx, key, browser):
    copy = make_delivery(ctx)
    url = path(links.unsubscribe_url(BASE, key, copy.id))
    for _ in range(2):
        response = browser.post(url, content=b"List-Unsubscribe=One-Click",
                                headers={"content-type": "application/x-www-form-urlencoded"})
        assert response.status_code == 200 and "You are unsubscribed" in response.text
        assert listed(ctx, copy)
    with ctx.db.transaction(write=False) as conn:
        [entry] = repository.list_unsubscribes(conn, copy.account_id, None, None, 10, 0)
    assert (entry["email"], entry["comment"]) == (copy.email, tracking.ONE_CLICK_COMMENT)
    assert "unsubscribe" in [e["kind"] for e in events(ctx, copy)]


def test_the_pages_button_unsubscribes(ctx, key, browser):
    copy = make_delivery(ctx)
    response = browser.post(path(links.unsubscribe_url(BASE, key, copy.id)), data={"unsubscribe": "yes"})
    assert response.status_code == 200 and "You are unsubscribed" in response.text
    with ctx.db.transaction(write=False) as conn:
        [entry] = repository.list_unsubscribes(conn, copy.account_id, None, None, 10, 0)
    assert entry["comment"] == tracking.PAGE_COMMENT


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_forged_unsubscribe_token_is_a_404_page(ctx, key, browser, method):
    copy = make_delivery(ctx)
    for token in (_tamper(links.sign(key, links.UNSUBSCRIBE, copy.id)), links.sign(key, links.OPEN, copy.id),
                  links.sign(key, links.UNSUBSCRIBE, 2_000_000_000), "x" * 3000):
        response = browser.request(method, links.UNSUBSCRIBE_PATH + token, content=b"List-Unsubscribe=One-Click",
                                   headers={"content-type": "application/x-www-form-urlencoded"})
        assert response.status_code == 404 and response.headers["content-type"].startswith("text/html")
    assert not listed(ctx, copy)


def test_pages_escape_and_mask():
    page = pages.unsubscribe_form('a"<b>@example.com', "<script>alert(1)</script>@x.example")
    assert "<script>" not in page and "&lt;script&gt;" in page and "<b>" not in page
    assert pages.mask("john@example.com") == "j***@example.com" and pages.mask("x") == "x***"


# ---------------------------------------------------------------- double opt-in

def test_confirmation_link_activates_a_contact(ctx, key, browser, api):
    book = api.new_book()
    assert api.add_contacts(book, ["optin@example.com"]).json == {"result": True}
    with ctx.db.transaction() as conn:
        books.set_status(conn, api.id, book, ["optin@example.com"], 2)
        contact_id = books.contact(conn, api.id, book, "optin@example.com")[0]["id"]
    # a link signed for this id but another address (an id SQLite reused after a delete) is refused
    stale = browser.get(path(links.confirm_url(BASE, key, contact_id, "someone-else@example.com")))
    assert stale.status_code == 404
    with ctx.db.transaction(write=False) as conn:
        assert books.contact(conn, api.id, book, "optin@example.com")[0]["status"] == 2
    response = browser.get(path(links.confirm_url(BASE, key, contact_id, "optin@example.com")))
    assert response.status_code == 200 and "Subscription confirmed" in response.text
    with ctx.db.transaction(write=False) as conn:
        assert books.contact(conn, api.id, book, "optin@example.com")[0]["status"] == 1


def test_forged_confirmation_link_is_a_404_page(ctx, key, browser):
    for token in ("nope", _tamper(links.sign(key, links.confirm_purpose("a@example.com"), 1)),
                  links.sign(key, links.OPEN, 1), links.sign(key, links.CONFIRM, 1)):
        response = browser.get(links.CONFIRM_PATH + token)
        assert response.status_code == 404 and response.headers["content-type"].startswith("text/html")
        assert browser.head(links.CONFIRM_PATH + token).status_code == 404  # a checker learns nothing either


# ---------------------------------------------------------------- client info

@pytest.mark.parametrize(("peer", "forwarded", "trusted", "expected"), [
    ("10.0.0.1", "46.149.83.86, 10.0.0.1", "10.0.0.1", "46.149.83.86"),
    ("10.0.0.1", "6.6.6.6, 46.149.83.86", "10.0.0.1", "46.149.83.86"),  # the client's own entry is not believed
    ("10.0.0.1", "46.149.83.86, 10.0.0.2", "10.0.0.1", "10.0.0.2"),  # an untrusted hop is the client
    ("10.0.0.1", "46.149.83.86", "10.0.0.0/8", "46.149.83.86"),
    ("10.0.0.1", "garbage", "10.0.0.1", "10.0.0.1"),
    ("10.0.0.1", "46.149.83.86", "", "10.0.0.1"),
    ("192.0.2.1", "46.149.83.86", "10.0.0.1", "192.0.2.1"),
    ("testclient", "46.149.83.86", "10.0.0.1", ""),
    ("10.0.0.1", "[2001:db8::1]:443", "10.0.0.1", "2001:db8::1"),
])
def test_client_ip(peer, forwarded, trusted, expected):
    assert clientinfo.client_ip(peer, forwarded, clientinfo.networks(trusted)) == expected


def test_client_info_of_private_addresses_and_unknown_agents():
    assert clientinfo.client_info("127.0.0.1", "") == {"ip": "127.0.0.1", "country": "", "browser": "", "os": ""}
    assert clientinfo.client_info("10.1.1.1", "curl/8.5.0")["country"] == ""
    assert clientinfo.client_info("", "x" * 5000)["browser"] == ""
