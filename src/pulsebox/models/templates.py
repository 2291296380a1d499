"""Email templates: an account's own ("me") and the built-in system ones (account_id NULL)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pulsebox.models.base import Base, utcnow


class Template(Base):
    __tablename__ = "templates"
    # Slugs are unique per account (a second "My Template" gets "my-template-2"), enforced by the
    # database too: two concurrent creates on PostgreSQL would both pass a check-then-insert.
    # System templates (account_id NULL) are not constrained: NULLs never collide in an index.
    __table_args__ = (Index("uq_templates_account_slug", "account_id", "name_slug", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # SendPulse's "real_id"
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)  # SendPulse's "id": new on every edit
    name: Mapped[str] = mapped_column(String(255))
    name_slug: Mapped[str] = mapped_column(String(255))
    lang: Mapped[str] = mapped_column(String(5))
    body: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(50), default="")
    full_description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
