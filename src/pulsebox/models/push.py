"""Web push (document 002, "Web Push Notifications"): an account's websites, their subscribers, the
variables those carry, push campaigns (SendPulse: push tasks) and one send per subscriber reached.

A *website* owns a VAPID key pair (RFC 8292; the private key sealed like webhook secrets) and a
public ``appkey`` that its snippet names when a browser subscribes. A *subscription* is one browser's
PushSubscription (endpoint and keys, RFC 8291) with what the snippet told about it. A *push task*
is copied into ``push_sends`` in subscription-id order, a batch a transaction that moves its
``cursor`` (the checkpoint, as campaigns do); each send is then claimed with a lease by the push
pump, so a killed worker loses nothing and repeats at most what was in flight.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (JSON, Boolean, DateTime, ForeignKey, Index, Integer, LargeBinary, SmallInteger, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column

from pulsebox.models.base import Base, utcnow
from pulsebox.models.outbox import BigId


class PushWebsite(Base):
    __tablename__ = "push_websites"
    __table_args__ = (Index("ix_push_websites_account", "account_id", "id"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    appkey: Mapped[str] = mapped_column(String(40), unique=True)  # public: the snippet and /push/subscribe name it
    vapid_private: Mapped[str] = mapped_column(Text)  # the VAPID private key (PEM), sealed
    vapid_public: Mapped[str] = mapped_column(String(100))  # base64url of the uncompressed P-256 point
    status: Mapped[int] = mapped_column(SmallInteger, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_task_at: Mapped[datetime | None] = mapped_column(DateTime)  # one push task per interval


class PushVariable(Base):
    __tablename__ = "push_variables"
    __table_args__ = (UniqueConstraint("website_id", "name"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    website_id: Mapped[int] = mapped_column(ForeignKey("push_websites.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(10), default="string")  # string | number | date


class PushSubscription(Base):
    __tablename__ = "push_subscriptions"
    __table_args__ = (UniqueConstraint("website_id", "endpoint"),
                      Index("ix_push_subscriptions_website", "website_id", "status", "id"),
                      {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    website_id: Mapped[int] = mapped_column(ForeignKey("push_websites.id", ondelete="CASCADE"))
    endpoint: Mapped[str] = mapped_column(String(1000))
    p256dh: Mapped[str] = mapped_column(String(100))
    auth: Mapped[str] = mapped_column(String(40))
    browser: Mapped[str] = mapped_column(String(40), default="")
    lang: Mapped[str] = mapped_column(String(10), default="")
    os: Mapped[str] = mapped_column(String(40), default="")
    country_code: Mapped[str] = mapped_column(String(2), default="")
    url: Mapped[str] = mapped_column(String(2000), default="")  # the page it subscribed on
    variables: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[int] = mapped_column(SmallInteger, default=1)  # 1 active, 0 deactivated, 6 unsubscribed
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class PushTask(Base):
    __tablename__ = "push_tasks"
    __table_args__ = (Index("ix_push_tasks_account", "account_id", "id"),
                      Index("ix_push_tasks_due", "copied_all", "send_date"),
                      {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    website_id: Mapped[int] = mapped_column(ForeignKey("push_websites.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str] = mapped_column(String(2000))
    ttl: Mapped[int] = mapped_column(Integer)
    icon: Mapped[str | None] = mapped_column(String(2000))
    image: Mapped[str | None] = mapped_column(String(2000))
    buttons: Mapped[list] = mapped_column(JSON, default=list)  # [{"text", "link"}], at most 2
    filters: Mapped[dict] = mapped_column(JSON, default=dict)  # lang, browser, region, url, filter
    send_date: Mapped[datetime] = mapped_column(DateTime)  # when sending starts
    stretch_time: Mapped[int] = mapped_column(Integer, default=0)  # seconds the sends are spread over
    status: Mapped[int] = mapped_column(SmallInteger, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    cursor: Mapped[int] = mapped_column(BigId, default=0)  # the last subscription copied
    copied: Mapped[int] = mapped_column(Integer, default=0)
    planned: Mapped[int] = mapped_column(Integer, default=0)  # subscriptions active at the start (spreading)
    copied_all: Mapped[bool] = mapped_column(Boolean, default=False)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class PushSend(Base):
    __tablename__ = "push_sends"
    __table_args__ = (Index("ix_push_sends_due", "status", "due_at"),
                      Index("ix_push_sends_task", "task_id", "status"),
                      {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("push_tasks.id", ondelete="CASCADE"))
    subscription_id: Mapped[int] = mapped_column(ForeignKey("push_subscriptions.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(10), default="queued")  # queued | sent | gone | failed | expired
    due_at: Mapped[datetime] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)  # the service worker reported it shown
    clicked_at: Mapped[datetime | None] = mapped_column(DateTime)
    error: Mapped[str | None] = mapped_column(String(500))


class PushPicture(Base):
    """An icon or image uploaded with a push task (SendPulse's ``{name, data}``): a notification names
    pictures by URL, so Pulsebox serves these at a signed public link."""

    __tablename__ = "push_pictures"
    __table_args__ = (Index("ix_push_pictures_task", "task_id"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("push_tasks.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(20))
    data: Mapped[bytes] = mapped_column(LargeBinary)
