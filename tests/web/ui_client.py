"""What every admin UI test uses: a TestClient on an app whose mail is captured (the inbox's), signing
in through the sign-in form, the CSRF token of a page, and the worker's rounds to deliver what was queued.
Import the fixtures with the helpers (``from ui_client import browser, ui_ctx, maildir, sign_in, ...``)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from pulsebox.accounts import service as accounts
from pulsebox.app import build
from pulsebox.context import Context
from pulsebox.delivery.transports import from_url
from pulsebox.worker.runner import Worker


@pytest.fixture
def maildir(tmp_path) -> Path:
    return tmp_path / "mail"


@pytest.fixture
def ui_ctx(ctx, maildir) -> Context:
    settings = dataclasses.replace(ctx.settings, mail_url=f"capture://{maildir}", public_rate_limits="off")
    return Context(settings=settings, db=ctx.db, limiter=ctx.limiter)


@pytest.fixture
def browser(ui_ctx):
    with TestClient(build(ui_ctx), raise_server_exceptions=False, base_url="http://testserver") as client:
        yield client


def deliver(ctx: Context) -> None:
    """The worker's rounds until nothing is left, sending through the capture transport (the inbox's)."""
    worker = Worker(ctx, from_url(ctx.settings.mail_url, ctx.settings.data_dir))
    while worker.run_once():
        pass
    worker.pool.shutdown()


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page)[1]


def name_of(ctx, account: dict) -> str:  # noqa: ANN001
    with ctx.db.transaction(write=False) as conn:
        return accounts.get(conn, account["id"])["name"]


def sign_in(client: TestClient, who: str, secret: str):
    page = client.get("/ui/signin")
    return client.post("/ui/signin", data={"csrf": csrf_of(page.text), "account": who, "secret": secret},
                       follow_redirects=False)
