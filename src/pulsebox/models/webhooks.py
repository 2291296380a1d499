"""Webhooks: an account's subscriptions to events, the events waiting to be posted, and the log of
what each post got back.

A *webhook* is one (url, action) row, as SendPulse's API has it (creating two actions makes two
rows, sharing one signing secret). Events are written in the transaction of the change that
caused them (an outbox: nothing committed is lost, nothing rolled back is sent), as rows of up to
100 events each (a campaign's round of 500 copies is 5 rows, not 500), and posted by the worker in
id order, up to 100 events to a POST. The webhook row is also its delivery queue's head: its
lease (``locked_until``), its back-off (``next_attempt_at``) and the batch being retried
(``batch_end``: a retry sends the same events under the same ``webhook-id``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pulsebox.models.base import Base, utcnow
from pulsebox.models.outbox import BigId


class Webhook(Base):
    __tablename__ = "webhooks"
    __table_args__ = (Index("ix_webhooks_account_action", "account_id", "service", "action"),
                      {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    action: Mapped[str] = mapped_column(String(40))
    service: Mapped[str] = mapped_column(String(10), default="email")  # email | smtp (ours: the SMTP webhook)
    secret: Mapped[str] = mapped_column(Text)  # the whsec_ signing secret, encrypted (webhooks/service.py)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # posts failed in a row
    last_error: Mapped[str | None] = mapped_column(String(500))
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    batch_end: Mapped[int | None] = mapped_column(BigId)  # the last event of the batch being retried


class WebhookEvent(Base):
    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_pending", "webhook_id", "status", "id"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    payload: Mapped[list] = mapped_column(JSON)  # the events, in the order they happened
    events: Mapped[int] = mapped_column(Integer)  # how many
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | delivered | dropped
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_webhook", "webhook_id", "id"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    events: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)  # the receiver's HTTP status; None: no answer
    latency_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    delivered: Mapped[bool] = mapped_column(Boolean)
