"""The outbox: every message Pulsebox sends, and what became of each copy.

A *message* is what one send request (or one system notice) asked for: sender, subject, bodies,
attachments, stored once. A *delivery* is one recipient's copy of it: the unit the worker claims,
personalises (tracking links, unsubscribe links, VERP return path), hands to the transport and
records the outcome of. Deliveries are also the delivery queue (``status`` queued/deferred with
``next_attempt_at`` and a lease in ``locked_until``), so a million-copy campaign later is the same
rows and the same claim. The public id of a message is the ``id`` ``POST /smtp/emails`` answers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pulsebox.models.base import Base, utcnow

# sqlite's INTEGER PRIMARY KEY is its rowid only when declared plain INTEGER
BigId = BigInteger().with_variant(Integer(), "sqlite")


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_account", "account_id", "id"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10), default="smtp")  # smtp | system | campaign
    sender_email: Mapped[str] = mapped_column(String(320))
    sender_name: Mapped[str] = mapped_column(String(255), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    # bodies, visible recipients, headers, attachments, links: outbox/content.py reads and writes it
    content: Mapped[dict] = mapped_column(JSON, default=dict)
    track_opens: Mapped[bool] = mapped_column(Boolean, default=True)
    track_clicks: Mapped[bool] = mapped_column(Boolean, default=True)
    size: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    task_id: Mapped[int | None] = mapped_column(BigInteger)  # a campaign's message: the campaign (events name it)


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_account", "account_id", "id"),
        # a message's copies waiting (0008); with the id (0014): the first and last copy of each status, and a
        # page of one status's copies in id order, are index seeks on PostgreSQL too (SQLite's indexes end with it)
        Index("ix_deliveries_message_status", "message_id", "status", "id"),
        Index("ix_deliveries_account_email", "account_id", "email"),  # one address's copies (/emails/...)
        # the account's queue depth and its copies by day (the admin UI's dashboard), read from the index (0014)
        Index("ix_deliveries_account_status", "account_id", "status", "updated_at", "sent_at"),
        {"sqlite_autoincrement": True},  # ids in signed links are never handed out again
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox_messages.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    # the recipient's own values for the message's {{placeholders}} (a campaign's contact), or NULL
    variables: Mapped[dict | None] = mapped_column(JSON)
    # queued -> sent | deferred (-> queued again) | bounced | failed | suppressed; sent -> bounced
    # (a DSN came back) | complained (an ARF report)
    status: Mapped[str] = mapped_column(String(12), default="queued")
    reason: Mapped[str | None] = mapped_column(String(40))  # suppressed: blacklist | unsubscribed | ...
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    smtp_answer_code: Mapped[int | None] = mapped_column(Integer)
    smtp_answer_subcode: Mapped[str | None] = mapped_column(String(12))  # enhanced status, 5.1.1
    smtp_answer_data: Mapped[str | None] = mapped_column(Text)
    capture_key: Mapped[str | None] = mapped_column(String(120))  # capture:// only: Maildir key
    size: Mapped[int | None] = mapped_column(Integer)  # bytes of the copy as sent (what total_size shows)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    opens: Mapped[int] = mapped_column(Integer, default=0)
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class TrackingEvent(Base):
    """An open, a click or an unsubscribe, with where it came from. A copy has at most one of
    each, and one click per distinct link (``uq_tracking_events_once``): the first is kept, and a
    replayed pixel or link adds nothing, however often and however concurrently it comes."""

    __tablename__ = "tracking_events"
    __table_args__ = (
        # also serves "the events of these copies" and the cascade from deliveries
        Index("uq_tracking_events_once", "delivery_id", "kind", "link", unique=True),
        # events by day (the dashboard): by time first, so no query of a message's events is drawn to it (0014)
        Index("ix_tracking_events_time", "created_at", "account_id", "kind"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(12))  # open | click | unsubscribe
    # click: index of the first of the message's links with this URL (one click per URL); else 0
    link: Mapped[int] = mapped_column(Integer, default=0)
    url: Mapped[str | None] = mapped_column(Text)
    ip: Mapped[str] = mapped_column(String(45), default="")
    country: Mapped[str] = mapped_column(String(64), default="")
    browser: Mapped[str] = mapped_column(String(120), default="")
    os: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SmtpUnsubscribe(Base):
    """The account's SMTP unsubscribe list (``/smtp/unsubscribe``, one-click unsubscribes)."""

    __tablename__ = "smtp_unsubscribes"
    __table_args__ = (Index("ix_smtp_unsubscribes_day", "account_id", "created_at"),)

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    comment: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Bounce(Base):
    """A hard or soft bounce, or a complaint: from a 5xx during delivery or a DSN/ARF that came back."""

    __tablename__ = "bounces"
    __table_args__ = (
        Index("ix_bounces_account_time", "account_id", "created_at"),
        Index("ix_bounces_delivery", "delivery_id"),  # deleting a copy sets it NULL here: no table scan
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id", ondelete="SET NULL"))
    email: Mapped[str] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(10))  # hard | soft | complaint
    status: Mapped[str] = mapped_column(String(12), default="")  # RFC 3463 enhanced code, 5.1.1
    smtp_code: Mapped[int | None] = mapped_column(Integer)
    diagnostic: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(10), default="smtp")  # smtp (during delivery) | dsn | arf
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SendingDomain(Base):
    """A domain the account may send from over SMTP (``/smtp/domains``), verified by a mailed code."""

    __tablename__ = "sending_domains"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    domain: Mapped[str] = mapped_column(String(255), primary_key=True)
    email: Mapped[str] = mapped_column(String(320))  # where the verification code goes
    code_hash: Mapped[str | None] = mapped_column(String(64))
    code_sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
