"""Campaigns: one message to every deliverable contact of one or more mailing lists.

A campaign row holds what was asked (sender, subject, body, lists, schedule, tracking switches),
its plan figures as answered at creation, and the state of its send: ``status`` (document 004's
codes), the outbox message its copies belong to (``message_id``, once it starts), and the copy
checkpoint: contacts are copied into the outbox in address order, a batch a transaction that also
holds the campaign's row lock and moves ``cursor`` (the last address copied) past the batch. A
worker killed mid-batch rolls its batch back; the next round resumes from the last commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pulsebox.models.base import Base, utcnow
from pulsebox.models.outbox import BigId


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        Index("ix_campaigns_account", "account_id", "id"),
        Index("ix_campaigns_due", "status", "send_date"),
        Index("ix_campaigns_message", "message_id"),
        {"sqlite_autoincrement": True},  # ids are in answers and links: never handed out again
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[int] = mapped_column(SmallInteger)
    sender_name: Mapped[str] = mapped_column(String(255), default="")
    sender_email: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)  # html, from ``body`` or the template, as it will be sent
    body_amp: Mapped[str | None] = mapped_column(Text)
    template_id: Mapped[str | None] = mapped_column(String(64))
    attachments: Mapped[list] = mapped_column(JSON, default=list)  # [{filename, content_type, content: base64}]
    list_ids: Mapped[list] = mapped_column(JSON, default=list)
    segment_id: Mapped[int | None] = mapped_column(Integer)
    send_date: Mapped[datetime | None] = mapped_column(DateTime)  # when it starts (or started)
    is_test: Mapped[bool] = mapped_column(Boolean, default=False)
    dynamic: Mapped[bool] = mapped_column(Boolean, default=False)  # use_dynamic_list
    track_opens: Mapped[bool] = mapped_column(Boolean, default=True)
    track_clicks: Mapped[bool] = mapped_column(Boolean, default=True)
    utm_campaign: Mapped[str | None] = mapped_column(String(255))
    all_email_qty: Mapped[int] = mapped_column(Integer, default=0)
    tariff_email_qty: Mapped[int] = mapped_column(Integer, default=0)
    paid_email_qty: Mapped[int] = mapped_column(Integer, default=0)
    overdraft_price: Mapped[str] = mapped_column(String(20), default="0")
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    message_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id", ondelete="SET NULL"))
    cursor: Mapped[str] = mapped_column(String(320), default="")  # the last address copied
    copied: Mapped[int] = mapped_column(Integer, default=0)  # copies made, suppressed ones included
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
