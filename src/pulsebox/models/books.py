"""Books (mailing lists), their variables and their contacts (an email in a book)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, LargeBinary, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pulsebox.models.base import Base, utcnow


class Book(Base):
    __tablename__ = "books"
    # Names are unique per account (error 203), enforced by the database too: two concurrent
    # creates on PostgreSQL would both pass a check-then-insert.
    __table_args__ = (Index("uq_books_account_name", "account_id", "name", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    status: Mapped[int] = mapped_column(SmallInteger, default=0)
    # Counters kept in step with contacts in the same transaction (a COUNT over a million-contact
    # book on every read would cost tens of milliseconds).
    all_email_qty: Mapped[int] = mapped_column(Integer, default=0)
    active_email_qty: Mapped[int] = mapped_column(Integer, default=0)
    new_phones_qty: Mapped[int] = mapped_column(Integer, default=0)
    active_phones_qty: Mapped[int] = mapped_column(Integer, default=0)
    exc_phones_qty: Mapped[int] = mapped_column(Integer, default=0)


class Variable(Base):
    __tablename__ = "variables"

    book_id: Mapped[int] = mapped_column(ForeignKey("books.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(10), default="string")  # string | number | date
    position: Mapped[int] = mapped_column(Integer, default=0)


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("book_id", "email", name="uq_contacts_book_email"),
        # one address's contacts; with the status: the account's distinct deliverable addresses from the index
        Index("ix_contacts_account_email_status", "account_id", "email", "status"),  # (0014)
        Index("ix_contacts_book_id", "book_id", "id"),  # a list's contacts in id order: keyset pages (0014)
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    book_id: Mapped[int] = mapped_column(ForeignKey("books.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    status: Mapped[int] = mapped_column(SmallInteger, default=1)
    phone: Mapped[str] = mapped_column(String(40), default="")
    variables: Mapped[dict] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(String(20), default="api")
    added_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Segment(Base):
    """A saved filter over a book's contact variables (ours: SendPulse makes segments in its UI).
    ``filters``: push-style filters (``pulsebox.filters``), all or any of them (``join``)."""

    __tablename__ = "segments"
    __table_args__ = (Index("ix_segments_book", "book_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    book_id: Mapped[int] = mapped_column(ForeignKey("books.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    join: Mapped[str] = mapped_column(String(3), default="and")
    filters: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ContactImport(Base):
    """A CSV file of contacts being added to a book by the worker, a batch of rows a transaction
    (``cursor``: the byte offset after the last row added, the checkpoint), so a file of a million
    rows neither holds a request nor restarts from the top when a worker dies."""

    __tablename__ = "contact_imports"
    __table_args__ = (Index("ix_contact_imports_due", "status", "id"), Index("ix_contact_imports_account", "account_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    book_id: Mapped[int] = mapped_column(ForeignKey("books.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(255), default="")
    data: Mapped[bytes] = mapped_column(LargeBinary)
    delimiter: Mapped[str] = mapped_column(String(1), default=",")
    columns: Mapped[list] = mapped_column(JSON, default=list)  # the header row
    mapping: Mapped[list] = mapped_column(JSON, default=list)  # per column: "email", "phone", "" (skip) or a variable
    status: Mapped[str] = mapped_column(String(10), default="uploaded")  # uploaded | queued | done | failed
    cursor: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)  # data rows in the file
    done: Mapped[int] = mapped_column(Integer, default=0)  # rows read so far
    added: Mapped[int] = mapped_column(Integer, default=0)  # new contacts
    skipped: Mapped[int] = mapped_column(Integer, default=0)  # rows without a valid address
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
