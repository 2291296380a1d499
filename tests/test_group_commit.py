"""Group commit (db/group.py): units share one transaction, each in a savepoint; a refused unit
rolls back alone; every future resolves only after the commit."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import insert, select

from pulsebox.db.group import GroupCommit
from pulsebox.errors import ApiError
from pulsebox.models import BlacklistEntry

T = BlacklistEntry.__table__


def test_a_refused_unit_rolls_back_alone(ctx, make_account_id):
    account_id = make_account_id()
    group = GroupCommit(ctx.db, max_batch=16)

    def add(email: str, fail: bool = False):  # noqa: ANN202
        def work(conn):  # noqa: ANN001, ANN202
            conn.execute(insert(T).values(account_id=account_id, email=email))
            if fail:
                raise ApiError(800, "refused")
            return email
        return work

    async def scenario() -> list:
        futures = [group.submit(add(f"u{i}@example.com", fail=i == 3)) for i in range(8)]
        return await asyncio.gather(*futures, return_exceptions=True)

    results = asyncio.run(scenario())
    assert isinstance(results[3], ApiError)
    assert [r for i, r in enumerate(results) if i != 3] == [f"u{i}@example.com" for i in range(8) if i != 3]
    with ctx.db.transaction(write=False) as conn:
        stored = set(conn.execute(select(T.c.email).where(T.c.account_id == account_id)).scalars())
    assert stored == {f"u{i}@example.com" for i in range(8) if i != 3}


def test_a_database_error_rolls_back_only_its_unit(ctx, make_account_id):
    account_id = make_account_id()
    group = GroupCommit(ctx.db)

    def duplicate(conn):  # noqa: ANN001, ANN202 - the second run breaks the primary key
        conn.execute(insert(T).values(account_id=account_id, email="d@example.com"))
        return "ok"

    async def scenario() -> list:
        return await asyncio.gather(group.submit(duplicate), group.submit(duplicate), return_exceptions=True)

    first, second = asyncio.run(scenario())
    assert first == "ok" and isinstance(second, Exception)
    with ctx.db.transaction(write=False) as conn:  # the first unit's row was committed all the same
        assert list(conn.execute(select(T.c.email).where(T.c.account_id == account_id)).scalars()) == ["d@example.com"]


@pytest.fixture
def make_account_id(ctx):  # noqa: ANN001, ANN201
    from conftest import make_account

    return lambda: make_account(ctx)["id"]


def test_a_send_run_twice_by_the_group_is_personalised_once(api, ctx):
    """When one unit of a group fails, the others run again: the same request must give the same message."""
    from pulsebox.smtp import schemas, service

    request = schemas.send_request({"email": {"subject": "Hi {{name}}", "from": {"email": "f@example.com"},
                                              "to": [{"email": "t@example.com"}], "text": "Dear {{name}}",
                                              "variables": {"name": "{{name}} the Second"}}})
    with ctx.db.transaction() as conn:
        service.accept(conn, api.id, request, ctx.settings)
        service.accept(conn, api.id, request, ctx.settings)
    subjects = [e["subject"] for e in api.get("/smtp/emails").json]
    assert subjects == ["Hi {{name}} the Second"] * 2
