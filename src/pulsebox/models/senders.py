"""Sender addresses an account may send from, and their activation state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pulsebox.models.base import Base, utcnow


class Sender(Base):
    __tablename__ = "senders"
    __table_args__ = (UniqueConstraint("account_id", "email", name="uq_senders_account_email"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    is_allowed_for_smtp: Mapped[bool] = mapped_column(Boolean, default=True)
    code_hash: Mapped[str | None] = mapped_column(String(64))  # sha256 of the mailed code
    code_sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
