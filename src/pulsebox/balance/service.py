"""Ledger arithmetic. Each account has a plan set by the operator: emails per 30-day period
(``email_quota``), a subscriber cap, and a price per email beyond the plan, in its currency.
Money comes in as ledger credits (main) and bonuses, and goes out as charges; emails sent are
ledger ``emails`` entries. A send that would need more money than the balance is error 707."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sqlalchemy import Connection

from pulsebox.accounts import service as accounts
from pulsebox.accounts.service import Limits
from pulsebox.addressbooks import service as books
from pulsebox.balance import repository as ledger
from pulsebox.errors import ApiError
from pulsebox.models import utcnow

PERIOD = timedelta(days=30)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Standing:
    currency: str
    main: Decimal
    bonus: Decimal
    period_start: datetime
    period_end: datetime
    emails_left: int


def current_period(started: datetime, now: datetime) -> tuple[datetime, datetime]:
    """The 30-day plan period that contains ``now``, counted from the account's start."""
    periods = max(0, (now - started) // PERIOD)
    start = started + periods * PERIOD
    return start, start + PERIOD


def standing(conn: Connection, account: dict, limits: Limits) -> Standing:
    money = ledger.money_by_kind(conn, account["id"])
    start, end = current_period(account["period_started_at"], utcnow())
    used = ledger.emails_used_since(conn, account["id"], start)
    return Standing(
        currency=account["currency"],
        main=money.get("credit", Decimal(0)) - money.get("charge", Decimal(0)),
        bonus=money.get("bonus", Decimal(0)),
        period_start=start,
        period_end=end,
        emails_left=max(0, limits.email_quota - used),
    )


def balance(conn: Connection, account: dict, limits: Limits, currency: str | None = None) -> dict:
    now = standing(conn, account, limits)
    if currency and currency.upper() != now.currency:
        raise ApiError(800, f"This account's balance is kept in {now.currency} only")
    return {"currency": now.currency, "balance_currency": float((now.main + now.bonus).quantize(CENT))}


def detail(conn: Connection, account: dict, limits: Limits) -> dict:
    now = standing(conn, account, limits)
    end = now.period_end.strftime("%Y-%m-%d %H:%M:%S")
    return {
        "balance": {"main": str(now.main.quantize(CENT, ROUND_HALF_UP)),
                    "bonus": str(now.bonus.quantize(CENT, ROUND_HALF_UP)), "currency": now.currency},
        "email": {"tariff_name": account["tariff_name"], "finished_time": end, "emails_left": now.emails_left,
                  "maximum_subscribers": limits.max_subscribers,
                  "current_subscribers": books.deliverable_count(conn, account["id"])},
        "smtp": {"tariff_name": f"SMTP {account['tariff_name']}", "end_date": end, "auto_renew": 1},
        "push": {"tariff_name": f"Push {account['tariff_name']}", "end_date": end, "auto_renew": 1},
    }


def charge_emails(conn: Connection, account: dict, limits: Limits, emails: int, *, note: str) -> None:
    """``emails`` messages sent: the plan's emails first, the rest charged at the plan's price."""
    if emails <= 0:
        return
    beyond = max(0, emails - standing(conn, account, limits).emails_left)
    ledger.add_ledger_entry(conn, account["id"], "emails", emails=emails, note=note)
    if beyond:
        price = (Decimal(beyond) * Decimal(account["price_per_email"])).quantize(CENT, ROUND_HALF_UP)
        ledger.add_ledger_entry(conn, account["id"], "charge", amount=price, note=f"{note}: {beyond} beyond the plan")


def credit(conn: Connection, account_id: int, amount: Decimal, *, bonus: bool, note: str) -> None:
    ledger.add_ledger_entry(conn, account_id, "bonus" if bonus else "credit", amount=amount, note=note)


def credit_account(conn: Connection, account_ref: str, amount: str, *, bonus: bool = False, note: str = "") -> dict:
    """The operator's ``pulsebox accounts credit ACCOUNT AMOUNT``: money (or a bonus) on the ledger."""
    account = accounts.find(conn, account_ref)
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise accounts.AccountError("the amount must be a decimal number") from None
    credit(conn, account["id"], value, bonus=bonus, note=note)
    return {"id": account["id"], "credited": str(value), "bonus": bonus}


def book_cost(conn: Connection, account: dict, limits: Limits, book_id: int) -> dict:
    """What one campaign to the book's deliverable addresses would cost (``/addressbooks/{id}/cost``);
    a book the account does not have answers like a missing one."""
    books.book(conn, account["id"], book_id)
    return campaign_cost(conn, account, limits, books.deliverable_count(conn, account["id"], book_id))


def campaign_cost(conn: Connection, account: dict, limits: Limits, recipients: int) -> dict:
    """What sending one message to ``recipients`` addresses would cost, from the plan's emails
    left and then the balance."""
    now = standing(conn, account, limits)
    from_plan = min(recipients, now.emails_left)
    from_balance = recipients - from_plan
    owed = Decimal(from_balance) * Decimal(account["price_per_email"])  # compared unrounded: 0.004 is not free
    price = owed.quantize(CENT, ROUND_HALF_UP)
    return {
        "cur": now.currency,
        "sent_emails_qty": recipients,
        "overdraftAllEmailsPrice": int(price) if price == price.to_integral_value() else float(price),
        "addressesDeltaFromBalance": from_balance,
        "addressesDeltaFromTariff": from_plan,
        "max_emails_per_task": limits.email_quota,
        "result": owed <= now.main + now.bonus,
    }
