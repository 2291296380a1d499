"""The captured-mail API (ours): with ``capture://`` an account lists, reads and downloads the
messages of its own deliveries, and clears them; another account's ids answer like missing ones."""

from __future__ import annotations

import dataclasses
import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from conftest import Api, make_account
from sqlalchemy import select, update
from starlette.testclient import TestClient

from pulsebox.app import build
from pulsebox.context import Context
from pulsebox.delivery.transports import capture_dir, from_url
from pulsebox.delivery.transports.capture import CaptureTransport
from pulsebox.models import Delivery, utcnow
from pulsebox.outbox import repository as outbox

D = Delivery.__table__
NOT_FOUND = {"is_error": True, "message": "Captured message not found", "error_code": 404}


@pytest.fixture
def maildir(tmp_path) -> Path:
    return tmp_path / "mail"


@pytest.fixture
def capture_ctx(ctx, maildir) -> Context:
    settings = dataclasses.replace(ctx.settings, mail_url=f"capture://{maildir}")
    return Context(settings=settings, db=ctx.db, limiter=ctx.limiter)


@pytest.fixture
def capture_client(capture_ctx):
    with TestClient(build(capture_ctx), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def mine(ctx, capture_client) -> Api:
    return Api(capture_client, make_account(ctx))


@pytest.fixture
def theirs(ctx, capture_client) -> Api:
    return Api(capture_client, make_account(ctx))


def build_message(sender: str, to: str, subject: str, text: str, html: str | None = None,
                  attachments: tuple = ()) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{abs(hash((to, subject)))}@pulsebox.localhost>"
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    for filename, maintype, subtype, data in attachments:
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


def capture(ctx, maildir: Path, account_id: int, *, to: str, subject: str = "Hello", text: str = "Hi there\n",
            html: str | None = None, attachments: tuple = (), kind: str = "smtp",
            sender: str = "shop@example.com", stored: bool = True) -> tuple[int, bytes]:
    """A delivery as the worker leaves it after sending it through ``capture://``."""
    raw = build_message(f"Shop <{sender}>", to, subject, text, html, attachments)
    now = utcnow()
    with ctx.db.transaction() as conn:
        message_id = outbox.insert_message(conn, {
            "public_id": f"{abs(hash((account_id, to, subject, now))):032x}"[:32], "account_id": account_id,
            "kind": kind, "sender_email": sender, "sender_name": "Shop", "subject": subject,
            "content": {"text": text}, "size": len(raw), "created_at": now})
        outbox.insert_deliveries(conn, message_id, account_id, [to], now)
        delivery_id = conn.execute(select(D.c.id).where(D.c.message_id == message_id)).scalar_one()
        if stored:
            key = CaptureTransport(maildir).send(f"bounce+x@{sender.split('@')[1]}", [to], raw).capture_key
            conn.execute(update(D).where(D.c.id == delivery_id).values(capture_key=key, status="sent", sent_at=now))
        else:  # never captured (and out of the queue: no later worker run may pick it up)
            conn.execute(update(D).where(D.c.id == delivery_id).values(status="failed", reason="test: not sent"))
    return delivery_id, raw


def download(api: Api, delivery_id: object):
    return api.client.get(f"/capture/messages/{delivery_id}.eml", headers=api.headers)


# ---------------------------------------------------------------- the Maildir location

def test_capture_dir(tmp_path):
    assert capture_dir("capture://", tmp_path) == tmp_path / "mail"
    assert capture_dir(f"capture://{tmp_path}/box", Path("/elsewhere")) == tmp_path / "box"
    assert capture_dir("capture://relative/box", tmp_path) == Path("relative/box")
    for url in ("smtp://127.0.0.1:25", "mx://", "memory://"):
        assert capture_dir(url, tmp_path) is None
    transport = from_url("capture://", tmp_path)
    assert isinstance(transport, CaptureTransport) and transport.path == tmp_path / "mail"


# ---------------------------------------------------------------- listing

def test_list_newest_first_with_filters_and_paging(ctx, maildir, mine):
    first, _ = capture(ctx, maildir, mine.id, to="ann@example.com", subject="Your order 1001")
    second, raw2 = capture(ctx, maildir, mine.id, to="bob@example.com", subject="Welcome, Bob", kind="system")
    third, _ = capture(ctx, maildir, mine.id, to="ann@example.com", subject="Your ORDER 1002 shipped")
    capture(ctx, maildir, mine.id, to="queued@example.com", stored=False)  # not sent yet: not listed

    listed = mine.get("/capture/messages").json
    assert [m["id"] for m in listed] == [third, second, first]
    entry = listed[1]
    assert set(entry) == {"id", "message_id", "from", "from_name", "to", "subject", "size", "created_at", "kind"}
    assert (entry["from"], entry["to"], entry["subject"], entry["kind"]) == \
        ("shop@example.com", "bob@example.com", "Welcome, Bob", "system")
    assert entry["size"] == len(raw2) and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", entry["created_at"])
    assert re.fullmatch(r"[0-9a-f]{32}", entry["message_id"])

    assert [m["id"] for m in mine.get("/capture/messages", params={"recipient": "ANN@example.com"}).json] == \
        [third, first]
    assert [m["id"] for m in mine.get("/capture/messages", params={"subject": "order"}).json] == [third, first]
    assert [m["id"] for m in mine.get("/capture/messages", params={"subject": "100%"}).json] == []
    assert [m["id"] for m in mine.get("/capture/messages",
                                      params={"recipient": "ann@example.com", "subject": "shipped"}).json] == [third]
    assert [m["id"] for m in mine.get("/capture/messages", params={"limit": 1, "offset": 1}).json] == [second]
    assert mine.get("/capture/messages", params={"limit": -1}).error_code == 8
    assert mine.get("/capture/messages", params={"subject": "x" * 2000}).error_code == 800


def test_list_is_empty_when_the_transport_is_not_capture(ctx, api, maildir):
    delivery_id, _ = capture(ctx, maildir, api.id, to="a@example.com")
    assert api.get("/capture/messages").json == []  # the test app runs memory://
    assert api.get(f"/capture/messages/{delivery_id}").json == NOT_FOUND
    assert api.delete("/capture/messages").json == {"result": True, "deleted": 0}


# ---------------------------------------------------------------- one message

def test_read_decodes_headers_bodies_and_attachments(ctx, maildir, mine):
    delivery_id, raw = capture(
        ctx, maildir, mine.id, to="zoe@example.com", subject="Привет, Zoë ✓",
        text="Plain body — ünïcode\n", html="<p>HTML body</p>\n",
        attachments=(("invoice.pdf", "application", "pdf", b"%PDF-1.4 fake" * 10),
                     ("notes.txt", "text", "plain", b"remember")))
    answer = mine.get(f"/capture/messages/{delivery_id}")
    assert answer.status == 200, answer.json
    message = answer.json
    assert message["id"] == delivery_id and message["to"] == "zoe@example.com"
    assert message["subject"] == "Привет, Zoë ✓" and message["size"] == len(raw)
    headers = dict(message["headers"])
    assert headers["Subject"] == "Привет, Zoë ✓" and headers["From"] == "Shop <shop@example.com>"
    assert not any(name.lower().startswith("x-pulsebox-envelope") for name, _ in message["headers"])
    assert message["envelope"] == {"mail_from": "bounce+x@example.com", "rcpt_to": ["zoe@example.com"]}
    assert message["text"] == "Plain body — ünïcode\n" and message["html"] == "<p>HTML body</p>\n"
    assert message["attachments"] == [
        {"filename": "invoice.pdf", "content_type": "application/pdf", "size": 130},
        {"filename": "notes.txt", "content_type": "text/plain", "size": 8},
    ]


def test_text_only_message(ctx, maildir, mine):
    delivery_id, _ = capture(ctx, maildir, mine.id, to="t@example.com", text="only text\n")
    message = mine.get(f"/capture/messages/{delivery_id}").json
    assert (message["text"], message["html"], message["attachments"]) == ("only text\n", None, [])


def test_eml_download_is_the_message_as_sent(ctx, maildir, mine):
    delivery_id, raw = capture(ctx, maildir, mine.id, to="dl@example.com", subject="Download me",
                               html="<b>hi</b>")
    response = download(mine, delivery_id)
    assert response.status_code == 200
    assert response.headers["content-type"] == "message/rfc822"
    assert response.headers["content-disposition"] == f'attachment; filename="{delivery_id}.eml"'
    assert response.content == raw
    assert message_from_bytes(response.content, policy=policy.default)["Subject"] == "Download me"


# ---------------------------------------------------------------- tenancy and missing ids

def test_another_accounts_message_answers_like_a_missing_one(ctx, maildir, mine, theirs):
    secret, _ = capture(ctx, maildir, theirs.id, to="secret@example.com", subject="Their secret")
    own, _ = capture(ctx, maildir, mine.id, to="own@example.com", subject="Mine")
    never = secret + own + 1_000_000
    assert [m["id"] for m in mine.get("/capture/messages").json] == [own]
    assert [m["id"] for m in theirs.get("/capture/messages").json] == [secret]
    assert mine.get("/capture/messages", params={"recipient": "secret@example.com"}).json == []
    for ref in (secret, never):
        answer = mine.get(f"/capture/messages/{ref}")
        assert (answer.status, answer.json) == (404, NOT_FOUND)
        response = download(mine, ref)
        assert (response.status_code, response.json()) == (404, NOT_FOUND)
    # clearing mine leaves theirs alone
    assert mine.delete("/capture/messages").json == {"result": True, "deleted": 1}
    assert theirs.get(f"/capture/messages/{secret}").json["subject"] == "Their secret"
    assert download(theirs, secret).status_code == 200


@pytest.mark.parametrize("ref", ["0", "-1", "abc", "1e3", "99999999999999999999", "%20", "１２"])
def test_malformed_ids_answer_like_missing_ones(mine, ref):
    answer = mine.get(f"/capture/messages/{ref}")
    assert (answer.status, answer.json) == (404, NOT_FOUND)
    response = download(mine, ref)
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_a_message_whose_file_is_gone_answers_404(ctx, maildir, mine):
    delivery_id, _ = capture(ctx, maildir, mine.id, to="gone@example.com")
    for path in (maildir / "new").iterdir():
        path.unlink()
    assert mine.get(f"/capture/messages/{delivery_id}").json == NOT_FOUND
    assert download(mine, delivery_id).status_code == 404
    assert mine.get("/capture/messages").json[0]["size"] == 0


def test_a_message_a_mail_client_has_seen_is_still_found(ctx, maildir, mine):
    """Mail clients move read messages to ``cur/`` and append flags to the file name."""
    delivery_id, raw = capture(ctx, maildir, mine.id, to="seen@example.com")
    [path] = list((maildir / "new").iterdir())
    path.rename(maildir / "cur" / f"{path.name}:2,S")
    assert download(mine, delivery_id).content == raw
    assert mine.get("/capture/messages").json[0]["size"] == len(raw)


def test_bearer_is_required(capture_client):
    for method, path in (("GET", "/capture/messages"), ("GET", "/capture/messages/1"),
                         ("GET", "/capture/messages/1.eml"), ("DELETE", "/capture/messages")):
        response = capture_client.request(method, path)
        assert response.status_code == 401 and response.json()["error_code"] == 401


# ---------------------------------------------------------------- clearing

def test_delete_clears_files_and_keys(ctx, maildir, mine):
    ids = [capture(ctx, maildir, mine.id, to=f"c{i}@example.com")[0] for i in range(3)]
    assert len(list((maildir / "new").iterdir())) == 3
    assert mine.delete("/capture/messages").json == {"result": True, "deleted": 3}
    assert list((maildir / "new").iterdir()) == []
    assert mine.get("/capture/messages").json == []
    with ctx.db.transaction(write=False) as conn:
        assert conn.execute(select(D.c.capture_key, D.c.status).where(D.c.id.in_(ids))).all() == [(None, "sent")] * 3
    assert mine.delete("/capture/messages").json == {"result": True, "deleted": 0}


# ---------------------------------------------------------------- with the real worker

def test_system_notice_sent_by_the_worker_is_captured(ctx, capture_ctx, maildir, mine):
    """Sender activation end to end: queued by the API, sent by the outbox worker into the Maildir,
    read back through the capture API, and its code activates the sender."""
    from pulsebox.worker.runner import Worker

    assert mine.post("/senders", json={"email": "me@shop.example", "name": "Me"}).json == {"result": True}
    assert mine.get("/senders/me@shop.example/code").json["result"] is True
    worker = Worker(capture_ctx, CaptureTransport(maildir))
    while worker.run_once():
        pass
    [entry] = mine.get("/capture/messages", params={"recipient": "me@shop.example"}).json
    assert entry["kind"] == "system" and entry["subject"] == "Confirm your sender address"
    message = mine.get(f"/capture/messages/{entry['id']}").json
    code = re.search(r"Activation code: (\w+)", message["text"])[1]
    assert mine.post("/senders/me@shop.example/code", json={"code": code}).json["result"] is True
    assert code.encode() in download(mine, entry["id"]).content


@pytest.mark.parametrize("ref", ["1" * 5000, "9" * 50, str(2**64), str(2**63), "9" * 19, str(2**63 - 1), "00"])
def test_ids_out_of_range_answer_like_missing_ones(mine, ref):
    """Digits past 64 bits (even past int()'s 4,300-digit limit) name no message: 404, never 500."""
    answer = mine.get(f"/capture/messages/{ref}")
    assert (answer.status, answer.json) == (404, NOT_FOUND)
    response = download(mine, ref)
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_a_delivery_id_past_32_bits_is_found(ctx, maildir, mine):
    """Delivery ids are 64-bit: a copy numbered past 2**31 is read and downloaded like any other."""
    delivery_id, raw = capture(ctx, maildir, mine.id, to="far@example.com", subject="Far")
    big = 2**40 + delivery_id
    with ctx.db.transaction() as conn:
        conn.execute(update(D).where(D.c.id == delivery_id).values(id=big))
    try:
        assert mine.get(f"/capture/messages/{big}").json["subject"] == "Far"
        assert download(mine, big).content == raw
    finally:  # SQLite numbers the next rowid after the largest: leave no far one behind
        with ctx.db.transaction() as conn:
            conn.execute(D.delete().where(D.c.id == big))
