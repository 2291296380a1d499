"""Balance from the account's plan and ledger."""

from conftest import Api, make_account


def test_balance_and_detail(api, ctx):
    from pulsebox.balance import service as balance

    assert api.get("/balance").json == {"currency": "USD", "balance_currency": 0.0}
    with ctx.db.transaction() as conn:
        balance.credit_account(conn, str(api.id), "9.36")
        balance.credit_account(conn, str(api.id), "5", bonus=True)
    assert api.get("/balance/").json == {"currency": "USD", "balance_currency": 14.36}
    assert api.get("/balance/usd").json["balance_currency"] == 14.36
    assert api.get("/balance/EUR").status == 400
    book = api.new_book()
    api.add_contacts(book, ["a@example.com", "b@example.com"])
    detail = api.get("/user/balance/detail").json
    assert detail["balance"] == {"main": "9.36", "bonus": "5.00", "currency": "USD"}
    assert detail["email"]["emails_left"] == 15000 and detail["email"]["current_subscribers"] == 2
    assert detail["email"]["maximum_subscribers"] == 500
    assert set(detail) == {"balance", "email", "smtp", "push"}


def test_cost_over_plan_uses_price_and_balance(ctx, client):
    api = Api(client, make_account(ctx, email_quota=1, price_per_email="0.5"))
    book = api.new_book()
    api.add_contacts(book, ["a@example.com", "b@example.com", "c@example.com"])
    cost = api.get(f"/addressbooks/{book}/cost").json
    assert (cost["addressesDeltaFromTariff"], cost["addressesDeltaFromBalance"], cost["overdraftAllEmailsPrice"],
            cost["result"]) == (1, 2, 1, False)
    from pulsebox.balance import service as balance

    with ctx.db.transaction() as conn:
        balance.credit_account(conn, str(api.id), "1.00")
    assert api.get(f"/addressbooks/{book}/cost").json["result"] is True
