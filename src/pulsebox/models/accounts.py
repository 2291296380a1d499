"""Accounts (tenants), their OAuth access tokens and their money/usage ledger."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from pulsebox.models.base import Base, utcnow


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(200))  # scrypt, see accounts/service.py
    ui_password_hash: Mapped[str | None] = mapped_column(String(200))  # scrypt; set by `accounts set-password`
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Per-account overrides; NULL means "the PULSEBOX_* environment default".
    rate_limits: Mapped[str | None] = mapped_column(String(200))
    email_quota: Mapped[int | None] = mapped_column(Integer)
    max_subscribers: Mapped[int | None] = mapped_column(Integer)
    campaigns_per_hour: Mapped[int | None] = mapped_column(Integer)
    same_list_interval: Mapped[int | None] = mapped_column(Integer)
    send_rate: Mapped[str | None] = mapped_column(String(200))  # copies sent, e.g. "50/second;100000/day"
    # The plan the operator sets: its name, the price of one email over the plan, the currency.
    tariff_name: Mapped[str] = mapped_column(String(100), default="Free")
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    price_per_email: Mapped[Decimal] = mapped_column(Numeric(12, 5), default=Decimal("0.00100"))
    period_started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AccessToken(Base):
    __tablename__ = "access_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)  # unix seconds


class LedgerEntry(Base):
    """Money in (credit, bonus) and out (overdraft charges), and emails consumed per period."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(20))  # credit | bonus | charge | emails
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 5), default=Decimal(0))
    emails: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(String(500), default="")
