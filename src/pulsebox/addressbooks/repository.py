"""Every query on books, their variables and their contacts. Bulk paths use Core executemany."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, Numeric, and_, bindparam, case, cast, delete, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.engine import RowMapping

from pulsebox.db.insert import InsertNew
from pulsebox.models import Book, Contact, ContactImport, Segment, Variable

B = Book.__table__
V = Variable.__table__
C = Contact.__table__
I = ContactImport.__table__
SG = Segment.__table__
_IN_CHUNK = 500  # bound parameters per IN (...) list, well under SQLite's limit

CONTACT_COLUMNS = (C.c.id, C.c.book_id, C.c.email, C.c.status, C.c.phone, C.c.variables, C.c.added_at, C.c.source)
COUNTERS = ("all_email_qty", "active_email_qty", "new_phones_qty", "active_phones_qty", "exc_phones_qty")


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), _IN_CHUNK):
        yield items[i:i + _IN_CHUNK]


# ---- books ----

_INSERT_BOOK = InsertNew(B, ["account_id", "name"], returning=B.c.id)
_INSERT_CONTACTS = InsertNew(C, ["book_id", "email"], returning=C.c.email)


def insert_book(conn: Connection, account_id: int, name: str) -> int | None:
    """The new book's id, or None when the account has a book of that name already."""
    return conn.execute(_INSERT_BOOK(conn), {"account_id": account_id, "name": name}).scalar()


# Built once: every book method starts with this lookup (building a select costs ~100 us).
_GET_BOOK = select(B).where(B.c.id == bindparam("book_id"), B.c.account_id == bindparam("account_id"))


def get_book(conn: Connection, account_id: int, book_id: int) -> RowMapping | None:
    return conn.execute(_GET_BOOK, {"book_id": book_id, "account_id": account_id}).mappings().first()


def lock_book(conn: Connection, account_id: int, book_id: int) -> RowMapping | None:
    """The book row, locked on PostgreSQL until commit (SQLite's write lock covers it already)."""
    return conn.execute(select(B).where(B.c.id == book_id, B.c.account_id == account_id)
                        .with_for_update()).mappings().first()


def list_books(conn: Connection, account_id: int, limit: int, offset: int) -> list[RowMapping]:
    return list(conn.execute(select(B).where(B.c.account_id == account_id).order_by(B.c.id)
                             .limit(limit).offset(offset)).mappings())


def rename_book(conn: Connection, book_id: int, name: str) -> bool:
    """False when another book of the account has that name (checked by the unique constraint)."""
    try:
        with conn.begin_nested():
            conn.execute(update(B).where(B.c.id == book_id).values(name=name))
    except IntegrityError:
        return False
    return True


def delete_book(conn: Connection, book_id: int) -> None:
    # Children first: SQLite only cascades when foreign keys are on, and this way both agree.
    conn.execute(delete(C).where(C.c.book_id == book_id))
    conn.execute(delete(V).where(V.c.book_id == book_id))
    conn.execute(delete(B).where(B.c.id == book_id))


def add_to_counters(conn: Connection, book_id: int, delta: dict[str, int]) -> None:
    changes = {name: getattr(B.c, name) + amount for name, amount in delta.items() if amount}
    if changes:
        conn.execute(update(B).where(B.c.id == book_id).values(**changes))


# ---- variables ----

def variable_types(conn: Connection, book_id: int) -> dict[str, str]:
    rows = conn.execute(select(V.c.name, V.c.type).where(V.c.book_id == book_id).order_by(V.c.position, V.c.name))
    return dict(rows.all())


def variable_type(conn: Connection, book_id: int, name: str) -> str | None:
    return conn.execute(select(V.c.type).where(V.c.book_id == book_id, V.c.name == name)).scalar()


def variable_types_for_books(conn: Connection, book_ids: Iterable[int]) -> dict[int, dict[str, str]]:
    out: dict[int, dict[str, str]] = {}
    ids = list(set(book_ids))
    if ids:
        for book_id, name, var_type in conn.execute(select(V.c.book_id, V.c.name, V.c.type)
                                                    .where(V.c.book_id.in_(ids))):
            out.setdefault(book_id, {})[name] = var_type
    return out


def insert_variables(conn: Connection, book_id: int, types: dict[str, str], first_position: int) -> None:
    if types:
        conn.execute(insert(V), [{"book_id": book_id, "name": n, "type": t, "position": first_position + i}
                                 for i, (n, t) in enumerate(types.items())])


# ---- contacts ----

def contacts_by_email(conn: Connection, book_id: int, emails: Sequence[str]) -> dict[str, RowMapping]:
    found: dict[str, RowMapping] = {}
    for chunk in _chunks(emails):
        for row in conn.execute(select(*CONTACT_COLUMNS).where(C.c.book_id == book_id, C.c.email.in_(chunk))).mappings():
            found[row["email"]] = row
    return found


def insert_new_contacts(conn: Connection, rows: list[dict]) -> set[str]:
    """Insert the rows whose address is not in the book yet; returns the addresses inserted.
    One statement, no lookup first: a lookup by ``email IN (...)`` degrades badly on PostgreSQL
    while a fast-growing table has no statistics yet (bench/README.md)."""
    if not rows:
        return set()
    return set(conn.execute(_INSERT_CONTACTS(conn), rows).scalars())


def update_contacts(conn: Connection, rows: list[dict]) -> None:
    """rows: {"cid": id, "variables": ..., "phone": ...}"""
    if rows:
        conn.execute(update(C).where(C.c.id == bindparam("cid"))
                     .values(variables=bindparam("variables"), phone=bindparam("phone")), rows)


def contact(conn: Connection, book_id: int, email: str) -> RowMapping | None:
    return conn.execute(select(*CONTACT_COLUMNS).where(C.c.book_id == book_id, C.c.email == email)).mappings().first()


def recipients_after(conn: Connection, account_id: int, book_ids: Sequence[int], after: str, limit: int,
                     added_before: datetime | None) -> list[RowMapping]:
    """Up to ``limit`` contacts of the books whose address sorts after ``after``, in address
    order (keyset paging on the unique (book, email) index: no OFFSET however far in); an
    address in several books comes once per book, its best status first."""
    query = select(C.c.email, C.c.status, C.c.variables).where(
        C.c.account_id == account_id, C.c.book_id.in_(list(book_ids)), C.c.email > after)
    if added_before is not None:
        query = query.where(C.c.added_at <= added_before)
    return list(conn.execute(query.order_by(C.c.email, C.c.status).limit(limit)).mappings())


def contacts_page(conn: Connection, book_id: int, limit: int, offset: int,
                  statuses: tuple[int, ...] | None) -> list[RowMapping]:
    query = select(*CONTACT_COLUMNS).where(C.c.book_id == book_id)
    if statuses is not None:
        query = query.where(C.c.status.in_(statuses))
    return list(conn.execute(query.order_by(C.c.id).limit(limit).offset(offset)).mappings())


def contacts_after(conn: Connection, book_id: int, after: int, limit: int) -> list[RowMapping]:
    """The book's contacts in id order after contact ``after``: a page of a million-contact list costs
    one index range whatever page it is (OFFSET would walk every row before it)."""
    return list(conn.execute(select(*CONTACT_COLUMNS).where(C.c.book_id == book_id, C.c.id > after)
                             .order_by(C.c.id).limit(limit)).mappings())


def contacts_with_variable(conn: Connection, book_id: int, name: str, wanted: str | int | float, limit: int,
                           offset: int) -> list[RowMapping]:
    """Contacts whose variable ``name`` is the JSON string ``wanted`` (a str) or the JSON number
    ``wanted`` (an int or float, compared exactly: no cast to float, no 2**53 rounding). Only a
    value of the matching JSON type is ever compared, so no row can make a cast fail."""
    number = not isinstance(wanted, str)
    if conn.dialect.name == "postgresql":
        element = C.c.variables[name]  # json -> key: the key is a bound parameter, never a path
        if number:
            stored = case((func.json_typeof(element) == "number", cast(element.as_string(), Numeric)), else_=None)
            condition = stored == Decimal(str(wanted))
        else:
            condition = and_(func.json_typeof(element) == "string", element.as_string() == wanted)
    else:
        # json_each by key, not json_extract by path: a name with a quote is not a path syntax error
        each = func.json_each(C.c.variables).table_valued("key", "value", "type").alias("var")
        types = ("integer", "real") if number else ("text",)
        condition = exists(select(each.c.key).where(each.c.key == name, each.c.type.in_(types),
                                                    each.c.value == wanted))
    return list(conn.execute(select(*CONTACT_COLUMNS).where(C.c.book_id == book_id, condition)
                             .order_by(C.c.id).limit(limit).offset(offset)).mappings())


def delete_contacts(conn: Connection, book_id: int, emails: Sequence[str]) -> list[RowMapping]:
    removed: list[RowMapping] = []
    for chunk in _chunks(emails):
        removed += conn.execute(delete(C).where(C.c.book_id == book_id, C.c.email.in_(chunk))
                                .returning(C.c.email, C.c.status, C.c.phone)).mappings().all()
    return removed


def set_status(conn: Connection, contact_ids: Sequence[int], status: int) -> None:
    for chunk in _chunks(contact_ids):
        conn.execute(update(C).where(C.c.id.in_(chunk)).values(status=status))


def confirm(conn: Connection, contact_id: int, from_status: int, to_status: int) -> RowMapping | None:
    """Move one contact from ``from_status`` to ``to_status`` in one statement (two concurrent
    clicks cannot both count); its book and phone when it moved, else None."""
    return conn.execute(update(C).where(C.c.id == contact_id, C.c.status == from_status).values(status=to_status)
                        .returning(C.c.book_id, C.c.phone, C.c.account_id, C.c.email, C.c.variables)).mappings().first()


def contact_status(conn: Connection, contact_id: int) -> int | None:
    return conn.execute(select(C.c.status).where(C.c.id == contact_id)).scalar()


def contact_email(conn: Connection, contact_id: int) -> str | None:
    return conn.execute(select(C.c.email).where(C.c.id == contact_id)).scalar()


def book_of_contact(conn: Connection, contact_id: int) -> int | None:
    return conn.execute(select(C.c.book_id).where(C.c.id == contact_id)).scalar()


def books_of_address(conn: Connection, account_id: int, email: str) -> list[int]:
    return list(conn.execute(select(C.c.book_id).where(C.c.account_id == account_id, C.c.email == email)).scalars())


def lock_books(conn: Connection, book_ids: Iterable[int]) -> None:
    """Lock books in id order (PostgreSQL; SQLite's write lock covers it): every write that
    touches contacts of several books takes their locks in the same order, so none deadlock."""
    ids = sorted(set(book_ids))
    if ids:
        conn.execute(select(B.c.id).where(B.c.id.in_(ids)).order_by(B.c.id).with_for_update()).all()


def set_phone(conn: Connection, contact_id: int, phone: str) -> None:
    conn.execute(update(C).where(C.c.id == contact_id).values(phone=phone))


def set_variables(conn: Connection, contact_id: int, variables: dict) -> None:
    conn.execute(update(C).where(C.c.id == contact_id).values(variables=variables))


# ---- one address across an account's books ----

def memberships(conn: Connection, account_id: int, emails: Sequence[str]) -> list[RowMapping]:
    """Every contact of these addresses in the account, with its book's name."""
    rows: list[RowMapping] = []
    for chunk in _chunks(emails):
        rows += conn.execute(
            select(*CONTACT_COLUMNS, B.c.name.label("book_name"))
            .join(B, and_(B.c.id == C.c.book_id))
            .where(C.c.account_id == account_id, C.c.email.in_(chunk))
            .order_by(C.c.email, C.c.book_id)).mappings().all()
    return rows


def delete_memberships(conn: Connection, account_id: int, email: str) -> list[RowMapping]:
    return conn.execute(delete(C).where(C.c.account_id == account_id, C.c.email == email)
                        .returning(C.c.book_id, C.c.status, C.c.phone)).mappings().all()


def lock_memberships(conn: Connection, account_id: int, email: str, not_status: int) -> list[RowMapping]:
    """The address's contacts in every book of the account whose status is not ``not_status``,
    locked on PostgreSQL until commit."""
    return conn.execute(select(C.c.id, C.c.book_id, C.c.status, C.c.phone)
                        .where(C.c.account_id == account_id, C.c.email == email, C.c.status != not_status)
                        .order_by(C.c.book_id).with_for_update()).mappings().all()


def count_active_contacts(conn: Connection, account_id: int, book_ids: Sequence[int] | None = None) -> int:
    query = select(func.count(func.distinct(C.c.email))).where(C.c.account_id == account_id,
                                                               C.c.status.in_((0, 1)))
    if book_ids is not None:
        query = query.where(C.c.book_id.in_(list(book_ids)))
    return conn.execute(query).scalar_one()


# ---- segments ----

def insert_segment(conn: Connection, values: dict) -> int:
    return conn.execute(insert(SG).returning(SG.c.id), values).scalar_one()


def segments(conn: Connection, book_id: int) -> list[RowMapping]:
    return list(conn.execute(select(SG).where(SG.c.book_id == book_id).order_by(SG.c.id)).mappings())


def segment(conn: Connection, account_id: int, segment_id: int) -> RowMapping | None:
    return conn.execute(select(SG).where(SG.c.account_id == account_id, SG.c.id == segment_id)).mappings().first()


def delete_segment(conn: Connection, segment_id: int) -> None:
    conn.execute(delete(SG).where(SG.c.id == segment_id))


def count_segments(conn: Connection, book_id: int) -> int:
    return conn.execute(select(func.count()).select_from(SG).where(SG.c.book_id == book_id)).scalar_one()


# ---- CSV imports ----

def insert_import(conn: Connection, values: dict) -> int:
    return conn.execute(insert(I).returning(I.c.id), values).scalar_one()


def import_of(conn: Connection, account_id: int, import_id: int) -> RowMapping | None:
    """The import without its file (the pages ask for it every second)."""
    columns = [c for c in I.c if c.name != "data"]
    return conn.execute(select(*columns).where(I.c.account_id == account_id, I.c.id == import_id)).mappings().first()


def set_import(conn: Connection, import_id: int, **values: object) -> None:
    conn.execute(update(I).where(I.c.id == import_id).values(**values))


def any_import_due(conn: Connection, now: datetime) -> bool:
    return conn.execute(select(I.c.id).where(I.c.status == "queued", or_(I.c.locked_until.is_(None),
                                                                          I.c.locked_until < now)).limit(1)).first() \
        is not None


def lock_import(conn: Connection, now: datetime) -> RowMapping | None:
    """The oldest queued import not leased to a live worker, its row locked for the transaction."""
    return conn.execute(select(I).where(I.c.status == "queued", or_(I.c.locked_until.is_(None), I.c.locked_until < now))
                        .order_by(I.c.id).limit(1).with_for_update(skip_locked=True)).mappings().first()
