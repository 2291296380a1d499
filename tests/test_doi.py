"""Double opt-in for real (document 004, "Add emails to a mailing list (double-opt-in)"): adding
with ``confirmation=force`` queues one confirmation notice per new (or still unconfirmed) contact,
from the given active sender, in ``message_lang`` or the account's template, carrying a signed
link that confirms the contact; and the status changes the bounce handling relies on."""

from __future__ import annotations

import re

import pytest
from conftest import b64
from sqlalchemy import func, select, update

from pulsebox import links
from pulsebox.addressbooks import service
from pulsebox.addressbooks.confirmation import WORDINGS
from pulsebox.models import Contact, Delivery, OutboxMessage, Sender

C, D, M, S = Contact.__table__, Delivery.__table__, OutboxMessage.__table__, Sender.__table__
LINK = re.compile(r"https?://[^\s\"<>]+/t/confirm/([0-9a-f.]+)")


@pytest.fixture(autouse=True)
def leave_no_mail_queued(ctx):
    """Notices queued here are checked in the outbox, never sent: take them out of the queue after
    each test, so no later test's worker run (which claims every due copy) meets them."""
    with ctx.db.transaction(write=False) as conn:
        last = conn.execute(select(func.coalesce(func.max(D.c.id), 0))).scalar_one()
    yield
    with ctx.db.transaction() as conn:
        conn.execute(update(D).where(D.c.id > last, D.c.status.in_(("queued", "deferred")))
                     .values(status="failed", reason="test: not sent"))


def active_sender(ctx, api, email: str = "news@example.com", name: str = "News Desk") -> str:
    assert api.post("/senders", json={"email": email, "name": name}).json == {"result": True}
    with ctx.db.transaction() as conn:
        conn.execute(update(S).values(active=True).where(S.c.account_id == api.id, S.c.email == email))
    return email


def notices(ctx, account_id: int) -> list[dict]:
    """The account's queued system notices, oldest first."""
    with ctx.db.transaction(write=False) as conn:
        rows = conn.execute(select(D.c.email, D.c.status, M.c.kind, M.c.sender_email, M.c.sender_name, M.c.subject,
                                   M.c.content)
                            .select_from(D.join(M, M.c.id == D.c.message_id))
                            .where(D.c.account_id == account_id).order_by(D.c.id)).mappings().all()
    return [dict(r) for r in rows]


def contact_row(ctx, book: int, email: str) -> dict:
    with ctx.db.transaction(write=False) as conn:
        return dict(conn.execute(select(C).where(C.c.book_id == book, C.c.email == email)).mappings().one())


def counters(api, book: int) -> tuple[int, int, int, int]:
    info = api.get(f"/addressbooks/{book}").json[0]
    return (info["all_email_qty"], info["active_email_qty"], info["active_phones_quantity"],
            info["exc_phones_quantity"])


def doi(api, book: int, emails: list, **extra) -> object:
    body = {"emails": emails, "confirmation": "force", "sender_email": "news@example.com", "message_lang": "en",
            **extra}
    return api.post(f"/addressbooks/{book}/emails", json=body)


def token_of(notice: dict) -> str:
    found = LINK.search(notice["content"]["text"])
    assert found, notice["content"]["text"]
    assert f"/t/confirm/{found[1]}" in notice["content"]["html"]
    return found[1]


def test_force_queues_one_confirmation_per_new_contact(ctx, api):
    active_sender(ctx, api)
    book = api.new_book("Weekly news")
    assert doi(api, book, [{"email": "Ann@Example.com", "variables": {"name": "Ann"}}, "bob@example.com"]).json == \
        {"result": True}
    sent = notices(ctx, api.id)
    assert [n["email"] for n in sent] == ["ann@example.com", "bob@example.com"]
    for notice in sent:
        assert notice["kind"] == "system" and notice["status"] == "queued"
        assert (notice["sender_email"], notice["sender_name"]) == ("news@example.com", "News Desk")
        assert notice["subject"] == WORDINGS["en"].subject
        assert "Weekly news" in notice["content"]["text"] and notice["email"] in notice["content"]["text"]
        contact = contact_row(ctx, book, notice["email"])
        assert contact["status"] == 2
        assert links.verify(ctx.settings.signing_key, links.confirm_purpose(notice["email"]), token_of(notice),
                            1) == (contact["id"],)
    assert counters(api, book)[:2] == (2, 0)


def test_readding_resends_only_to_the_unconfirmed(ctx, api):
    active_sender(ctx, api)
    book = api.new_book()
    api.add_contacts(book, ["plain@example.com"])  # single opt-in: Active, no notice
    assert notices(ctx, api.id) == []
    doi(api, book, ["waiting@example.com"])
    with ctx.db.transaction() as conn:
        service.confirm_contact(conn, contact_row(ctx, book, "waiting@example.com")["id"])
    doi(api, book, ["pending@example.com"])
    before = len(notices(ctx, api.id))
    assert doi(api, book, ["plain@example.com", "waiting@example.com", "pending@example.com",
                           "fresh@example.com"]).json == {"result": True}
    again = [n["email"] for n in notices(ctx, api.id)[before:]]
    assert again == ["pending@example.com", "fresh@example.com"]
    assert contact_row(ctx, book, "plain@example.com")["status"] == 1  # re-adding keeps the status
    assert contact_row(ctx, book, "waiting@example.com")["status"] == 1


def test_single_opt_in_sends_nothing(ctx, api):
    book = api.new_book()
    assert api.add_contacts(book, ["a@example.com", "b@example.com"]).json == {"result": True}
    assert notices(ctx, api.id) == []


@pytest.mark.parametrize("lang", sorted(WORDINGS))
def test_every_language_has_its_own_text(ctx, api, lang):
    active_sender(ctx, api)
    book = api.new_book()
    assert doi(api, book, ["lang@example.com"], message_lang=lang).json == {"result": True}
    [notice] = notices(ctx, api.id)
    wording = WORDINGS[lang]
    assert notice["subject"] == wording.subject
    text = notice["content"]["text"]
    assert wording.action in text and wording.ignore in text and "lang@example.com" in text
    assert token_of(notice)


def test_languages_are_distinct_and_default_is_english(ctx, api):
    assert len({w.subject for w in WORDINGS.values()}) == len(WORDINGS) == 6
    assert set(WORDINGS) == {"en", "ru", "ua", "tr", "es", "pt"}
    active_sender(ctx, api)
    book = api.new_book()
    body = {"emails": ["nolang@example.com"], "confirmation": "force", "sender_email": "news@example.com"}
    assert api.post(f"/addressbooks/{book}/emails", json=body).json == {"result": True}
    assert notices(ctx, api.id)[0]["subject"] == WORDINGS["en"].subject


def test_account_template_with_and_without_placeholder(ctx, api):
    active_sender(ctx, api)
    book = api.new_book()
    with_placeholder = api.post("/template", json={
        "name": "DOI", "lang": "en",
        "body": b64('<html><body><p>Hi!</p><a href="{{confirmation_link}}">Yes, subscribe me</a></body></html>')}).json
    without = api.post("/template", json={"name": "DOI plain", "lang": "en",
                                          "body": b64("<html><body><p>Welcome aboard</p></body></html>")}).json
    uid = api.get(f"/template/{with_placeholder['real_id']}").json["id"]

    assert doi(api, book, ["t1@example.com"], template_id=str(with_placeholder["real_id"])).json == {"result": True}
    assert doi(api, book, ["t2@example.com"], template_id=uid).json == {"result": True}
    # document 004's example writes the id as a UUID
    dashed = f"{uid[:8]}-{uid[8:12]}-{uid[12:16]}-{uid[16:20]}-{uid[20:]}"
    assert doi(api, book, ["t3@example.com"], template_id=dashed.upper()).json == {"result": True}
    assert doi(api, book, ["t4@example.com"], template_id=without["real_id"]).json == {"result": True}
    sent = {n["email"]: n for n in notices(ctx, api.id)}
    for email in ("t1@example.com", "t2@example.com", "t3@example.com"):
        html = sent[email]["content"]["html"]
        assert "{{confirmation_link}}" not in html and "Yes, subscribe me" in html
        token = re.search(r'href="[^"]+/t/confirm/([0-9a-f.]+)"', html)[1]
        ids = links.verify(ctx.settings.signing_key, links.confirm_purpose(email), token, 1)
        assert ids == (contact_row(ctx, book, email)["id"],)
        assert token_of(sent[email]) == token  # the text part carries the same link
    appended = sent["t4@example.com"]["content"]["html"]
    assert "Welcome aboard" in appended and appended.index("/t/confirm/") < appended.index("</body>")
    assert token_of(sent["t4@example.com"])


def test_unknown_template_is_refused_and_writes_nothing(ctx, api, other):
    active_sender(ctx, api)
    book = api.new_book()
    theirs = other.post("/template", json={"name": "Theirs", "lang": "en", "body": b64("<p>x</p>")}).json["real_id"]
    for ref in ("2000000001", "0123456789abcdef0123456789abcdef", str(theirs), "not a template"):
        answer = doi(api, book, ["nobody@example.com"], template_id=ref)
        assert answer.status == 400 and answer.error_code == 1005, answer.json
        assert "template" in answer.json["message"].lower()
    assert api.get(f"/addressbooks/{book}/emails/total").json == {"total": 0}
    assert notices(ctx, api.id) == []


def test_inactive_sender_sends_nothing(ctx, api):
    api.post("/senders", json={"email": "news@example.com", "name": "News"})
    book = api.new_book()
    assert doi(api, book, ["x@example.com"]).status == 400
    assert notices(ctx, api.id) == []


def test_confirm_contact_flips_status_and_counters(ctx, api):
    active_sender(ctx, api)
    book = api.new_book()
    doi(api, book, [{"email": "p@example.com", "variables": {"Phone": "+380501112233"}}, "q@example.com"])
    assert counters(api, book) == (2, 0, 0, 1)
    contact_id = contact_row(ctx, book, "p@example.com")["id"]
    with ctx.db.transaction() as conn:
        assert service.confirm_contact(conn, contact_id) is True
    assert contact_row(ctx, book, "p@example.com")["status"] == 1
    assert counters(api, book) == (2, 1, 1, 0)
    with ctx.db.transaction() as conn:  # a second click: still confirmed, counted once
        assert service.confirm_contact(conn, contact_id) is True
    assert counters(api, book) == (2, 1, 1, 0)
    with ctx.db.transaction() as conn:
        assert service.confirm_contact(conn, 2_000_000_000) is False
    # an unsubscribed contact is not re-subscribed by an old link
    q = contact_row(ctx, book, "q@example.com")["id"]
    api.post(f"/addressbooks/{book}/emails/unsubscribe", json={"emails": ["q@example.com"]})
    with ctx.db.transaction() as conn:
        assert service.confirm_contact(conn, q) is False
    assert contact_row(ctx, book, "q@example.com")["status"] == 4
    assert counters(api, book) == (2, 1, 1, 0)


def test_confirmation_link_confirms_over_http(ctx, api, client):
    active_sender(ctx, api)
    book = api.new_book()
    doi(api, book, ["click@example.com"])
    [notice] = notices(ctx, api.id)
    url = LINK.search(notice["content"]["text"])[0]
    assert url.startswith(ctx.settings.public_url)
    page = client.get(url[len(ctx.settings.public_url):])
    assert page.status_code == 200, page.text
    assert contact_row(ctx, book, "click@example.com")["status"] == 1
    assert counters(api, book)[:2] == (1, 1)
    forged = url[:-1] + ("0" if url[-1] != "0" else "1")
    assert client.get(forged[len(ctx.settings.public_url):]).status_code == 404


def test_set_status_everywhere(ctx, api, other):
    one, two, three = api.new_book(), api.new_book(), api.new_book()
    api.add_contacts(one, [{"email": "hard@example.com", "variables": {"Phone": "380501112233"}}, "keep@example.com"])
    api.add_contacts(two, ["hard@example.com"])
    api.add_contacts(three, ["keep@example.com"])
    theirs = other.new_book()
    other.add_contacts(theirs, ["hard@example.com"])
    with ctx.db.transaction() as conn:
        assert service.set_status_everywhere(conn, api.id, "Hard@Example.com", 9) == 2
    assert contact_row(ctx, one, "hard@example.com")["status"] == 9
    assert contact_row(ctx, two, "hard@example.com")["status"] == 9
    assert contact_row(ctx, one, "keep@example.com")["status"] == 1
    assert counters(api, one) == (2, 1, 0, 1)
    assert counters(api, two) == (1, 0, 0, 0)
    assert counters(api, three) == (1, 1, 0, 0)
    assert contact_row(ctx, theirs, "hard@example.com")["status"] == 1  # another account's lists
    assert counters(other, theirs)[:2] == (1, 1)
    with ctx.db.transaction() as conn:
        assert service.set_status_everywhere(conn, api.id, "hard@example.com", 9) == 0  # nothing changes
        assert service.set_status_everywhere(conn, api.id, "hard@example.com", 6) == 2  # a complaint later
        assert service.set_status_everywhere(conn, api.id, "ghost@example.com", 9) == 0
    assert api.get(f"/addressbooks/{one}/emails/hard@example.com").json["status_explain"] == \
        "Unsubscribed from all newsletters"
    assert counters(api, one) == (2, 1, 0, 1)
    # and back to Active (an operator's decision): the counters follow
    with ctx.db.transaction() as conn:
        assert service.set_status_everywhere(conn, api.id, "hard@example.com", 1) == 2
    assert counters(api, one) == (2, 2, 1, 0)
    assert counters(api, two) == (1, 1, 0, 0)
