"""Books (mailing lists), their variables and their contacts (an email in a book)."""

from __future__ import annotations

import hashlib
import math
from datetime import datetime

from sqlalchemy import (JSON, BigInteger, DateTime, ForeignKey, Index, Integer, LargeBinary, SmallInteger, String,
                        UniqueConstraint)
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


class ContactValue(Base):
    """A contact's variable value as a value key (``value_key`` below): a search by value reads the
    keys of its matches from this table's primary key, not every contact of the list. No foreign key
    to the contact (the cascade would need a second index, on ``contact_id``): the contact's writes
    delete its keys by their primary key (``addressbooks/repository.py``)."""

    __tablename__ = "contact_values"
    __table_args__ = {"sqlite_with_rowid": False}  # the primary key is the table: one B-tree a row (0015)

    book_id: Mapped[int] = mapped_column(ForeignKey("books.id", ondelete="CASCADE"), primary_key=True)
    block: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # value_block(contact_id)
    key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    contact_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


# A value key: a variable's value as one 64-bit number, BLAKE2b over its name and the value as a search
# compares it (text as text, a number by its value: 30 and 30.0 are one key). A key only picks candidates:
# the search compares the value itself too (``addressbooks/repository.py`` ``contacts_with_variable``), so a
# collision, or a key left behind, finds nothing wrong; a key missing would hide a contact, so every write of
# contacts' variables writes their keys in its transaction. The keys are data: a change to how they are made
# needs a migration that computes them again (0015 computed the first ones).
#
# The keys are kept in blocks of 4,096 contacts (by id), block before key: contacts are added in id order, so
# a batch's keys go into one block's few pages. Ordered by key alone, each key landed on a page of its own
# anywhere in the index, and every commit wrote thousands of pages: adding contacts ran 2.4x slower
# (bench/run.py). A search asks each block of the list for the key: one index seek a block.

BLOCK_BITS = 12
_SIGNED = 1 << 63


def value_block(contact_id: int) -> int:
    return contact_id >> BLOCK_BITS


def value_key(name: str, value: object) -> int | None:
    """The key of variable ``name`` holding ``value``; None for a value no search can ask for
    (true/false, null, a list or an object, a number that is not finite)."""
    if isinstance(value, str):
        kind, text = b"s", value
    elif isinstance(value, bool):  # before int: True is an int to Python, not a number to JSON
        return None
    elif isinstance(value, int):
        kind, text = b"n", str(value)
    elif isinstance(value, float) and math.isfinite(value):
        # one spelling per value: 30.0 is the integer 30 (exactly: a float that is integral converts
        # without loss), any other float its shortest repr
        kind, text = b"n", str(int(value)) if value.is_integer() else repr(value)
    else:
        return None
    name_bytes = name.encode("utf-8", "surrogatepass")  # its length first: no name and value run together
    data = b"%b%d:%b%b" % (kind, len(name_bytes), name_bytes, text.encode("utf-8", "surrogatepass"))
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big") - _SIGNED  # BIGINT's range


def value_keys(variables: object) -> set[int]:
    """The keys of every value in a contact's variables (none unless they are an object)."""
    if not variables or not isinstance(variables, dict):
        return set()
    keys = {value_key(name, value) for name, value in variables.items()}
    keys.discard(None)
    return keys  # type: ignore[return-value]


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
