"""Every query on books, their variables and their contacts. Bulk paths use Core executemany."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import orjson
from sqlalchemy import (JSON, BigInteger, Connection, Float, Integer, LargeBinary, Numeric, String, Text, and_,
                        bindparam, case, cast, delete, exists, false, func, insert, literal, literal_column, not_, or_,
                        select, true, type_coerce, update)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Subquery
from sqlalchemy.types import NullType

from pulsebox import filters
from pulsebox.db.bulk import Bulk
from pulsebox.db.insert import InsertNew
from pulsebox.models import Book, Contact, ContactImport, ContactValue, Segment, Variable
from pulsebox.models.books import value_block, value_key, value_keys

B = Book.__table__
V = Variable.__table__
C = Contact.__table__
CV = ContactValue.__table__
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
_INSERT_CONTACTS = InsertNew(C, ["book_id", "email"], returning=(C.c.id, C.c.email))


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
    conn.execute(delete(CV).where(CV.c.book_id == book_id))
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
    """Insert the rows (of one book) whose address is not in the book yet, with their value keys;
    returns the addresses inserted.
    One statement, no lookup first: a lookup by ``email IN (...)`` degrades badly on PostgreSQL
    while a fast-growing table has no statistics yet (bench/README.md)."""
    if not rows:
        return set()
    inserted = {cid: email for cid, email in conn.execute(_INSERT_CONTACTS(conn), rows)}
    variables = {row["email"]: row["variables"] for row in rows}
    _change_value_keys(conn, rows[0]["book_id"], ((cid, None, variables[email]) for cid, email in inserted.items()))
    return set(inserted.values())


def update_contacts(conn: Connection, book_id: int, rows: list[dict]) -> None:
    """rows: {"cid": id, "before": its variables now, "variables": ..., "phone": ...}"""
    if rows:
        conn.execute(update(C).where(C.c.id == bindparam("cid"))
                     .values(variables=bindparam("variables"), phone=bindparam("phone")),
                     [{"cid": r["cid"], "variables": r["variables"], "phone": r["phone"]} for r in rows])
        _change_value_keys(conn, book_id, ((r["cid"], r["before"], r["variables"]) for r in rows))


def _keys_from_json(pg: bool) -> Insert:
    """INSERT of the value keys in the JSON array ``rows`` ([block, key, contact id] each) for book ``book_id``:
    thousands of rows a batch of contacts in one statement. A statement a key (executemany) cost PostgreSQL a
    round of its protocol each: 9,028 contacts/s added against 10,492 (bench/run.py, three variables each)."""
    rows = bindparam("rows", type_=String)
    if pg:
        each = func.json_array_elements(cast(rows, JSON)).table_valued("value").alias("e")
        cells = [cast(each.c.value.op("->>")(literal_column(str(i))), kind) for i, kind in
                 enumerate((Integer, BigInteger, Integer))]
        statement = pg_insert(CV)
    else:
        each = func.json_each(rows).table_valued("value").alias("e")
        cells = [each.c.value.op("->>")(literal_column(str(i))) for i in range(3)]
        statement = sqlite_insert(CV)
    chosen = select(bindparam("book_id", type_=Integer), *cells).where(true())  # SQLite: WHERE before ON CONFLICT
    return statement.from_select(["book_id", "block", "key", "contact_id"], chosen).on_conflict_do_nothing()


_ADD_VALUE_KEYS = {"postgresql": _keys_from_json(True), "sqlite": _keys_from_json(False)}
_DELETE_VALUE_KEYS = Bulk(delete(CV).where(CV.c.book_id == bindparam("book_id"), CV.c.block == bindparam("block"),
                                           CV.c.key == bindparam("key"), CV.c.contact_id == bindparam("contact_id")))


def _change_value_keys(conn: Connection, book_id: int, changes: Iterable[tuple[int, dict | None, dict | None]]) -> None:
    """Keep contact_values in step with contacts' variables: ``changes`` are (contact id, variables
    before (None: a new contact), variables after (None: a removed one))."""
    added: list[tuple[int, int, int]] = []
    removed: list[dict] = []
    for contact_id, before, after in changes:
        old, new = value_keys(before), value_keys(after)
        if old != new:
            block = value_block(contact_id)
            added += ((block, k, contact_id) for k in new - old)
            removed += ({"block": block, "key": k, "contact_id": contact_id} for k in old - new)
    _DELETE_VALUE_KEYS(conn, removed, book_id=book_id)
    if added:
        conn.execute(_ADD_VALUE_KEYS[conn.dialect.name], {"book_id": book_id, "rows": orjson.dumps(added).decode()})


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


def contacts_after(conn: Connection, book_id: int, after: int, limit: int) -> list[dict]:
    """The book's contacts in id order after contact ``after``: a page of a million-contact list costs
    one index range whatever page it is (OFFSET would walk every row before it)."""
    result = conn.execute(select(*CONTACT_COLUMNS).where(C.c.book_id == book_id, C.c.id > after)
                          .order_by(C.c.id).limit(limit))
    names = list(result.keys())
    return [dict(zip(names, row, strict=True)) for row in result]  # a third of RowMapping's dict() (an export)


def contacts_with_variable(conn: Connection, book_id: int, contacts: int, name: str, wanted: str | int | float,
                           limit: int, offset: int) -> list[RowMapping]:
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
    elif '"' not in name and "\\" not in name:
        # the value by its path first, its type only when it is equal: one JSON parse a candidate
        path = f'$."{name}"'
        types = ("integer", "real") if number else ("text",)
        condition = and_(func.json_extract(C.c.variables, path) == wanted,
                         func.json_type(C.c.variables, path).in_(types))
    else:
        # json_each by key, not json_extract by path: a name with a quote is not a path syntax error
        each = func.json_each(C.c.variables).table_valued("key", "value", "type").alias("var")
        types = ("integer", "real") if number else ("text",)
        condition = exists(select(each.c.key).where(each.c.key == name, each.c.type.in_(types),
                                                    each.c.value == wanted))
    # Candidates by value key, block after block of the list's ids (one index seek each), each checked by the
    # value itself. The contact by its id alone: a key's row is written and removed with its contact, in the
    # book's transaction; with "contacts.book_id = ?" as well, PostgreSQL (no statistics yet) walked the
    # list's (book_id, id) index for each candidate (tests/test_value_keys.py).
    key, wanted_rows = value_key(name, wanted), offset + limit
    first = select(func.min(C.c.id)).where(C.c.book_id == book_id).scalar_subquery()
    last = select(func.max(C.c.id)).where(C.c.book_id == book_id).scalar_subquery()
    low, high = conn.execute(select(first, last)).one()
    if low is None:
        return []
    if (value_block(high) - value_block(low) + 1) * _CONTACTS_A_SEEK > contacts:
        # a list spread thin over the ids (other lists' contacts added between its own): reading its ``contacts``
        # costs less than a seek for each block between its first and last
        return list(conn.execute(select(*CONTACT_COLUMNS).where(C.c.book_id == book_id, condition)
                                 .order_by(C.c.id).limit(limit).offset(offset)).mappings())
    found: list[RowMapping] = []
    block, span = value_block(low), _FIRST_BLOCKS
    while block <= value_block(high) and len(found) < wanted_rows:
        blocks = list(range(block, min(value_block(high), block + span - 1) + 1))
        found += conn.execute(select(*CONTACT_COLUMNS).select_from(CV).join(C, C.c.id == CV.c.contact_id)
                              .where(CV.c.book_id == book_id, CV.c.block.in_(blocks), CV.c.key == key, condition)
                              .order_by(CV.c.contact_id).limit(wanted_rows - len(found))).mappings().all()
        block, span = blocks[-1] + 1, min(span * 4, _MOST_BLOCKS)
    return found[offset:]


# A search's blocks a statement: few at first (a common value fills a page from the first blocks, and each statement
# sorts what it found), then more (a rare one asks a million contacts' 245 blocks of 4,096 in four statements).
_FIRST_BLOCKS, _MOST_BLOCKS = 4, 256
_CONTACTS_A_SEEK = 16  # a block's seek costs about what reading this many contacts' values does


def delete_contacts(conn: Connection, book_id: int, emails: Sequence[str]) -> list[RowMapping]:
    removed: list[RowMapping] = []
    for chunk in _chunks(emails):
        removed += conn.execute(delete(C).where(C.c.book_id == book_id, C.c.email.in_(chunk))
                                .returning(C.c.id, C.c.email, C.c.status, C.c.phone, C.c.variables)).mappings().all()
    _change_value_keys(conn, book_id, ((r["id"], r["variables"], None) for r in removed))
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


def set_variables(conn: Connection, book_id: int, contact_id: int, before: dict | None, variables: dict) -> None:
    conn.execute(update(C).where(C.c.id == contact_id).values(variables=variables))
    _change_value_keys(conn, book_id, [(contact_id, before, variables)])


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
    removed = conn.execute(delete(C).where(C.c.account_id == account_id, C.c.email == email)
                           .returning(C.c.id, C.c.book_id, C.c.status, C.c.phone, C.c.variables)).mappings().all()
    for row in removed:
        _change_value_keys(conn, row["book_id"], [(row["id"], row["variables"], None)])
    return removed


def lock_memberships(conn: Connection, account_id: int, email: str, not_status: int) -> list[RowMapping]:
    """The address's contacts in every book of the account whose status is not ``not_status``,
    locked on PostgreSQL until commit."""
    return conn.execute(select(C.c.id, C.c.book_id, C.c.status, C.c.phone)
                        .where(C.c.account_id == account_id, C.c.email == email, C.c.status != not_status)
                        .order_by(C.c.book_id).with_for_update()).mappings().all()


def count_active_contacts(conn: Connection, account_id: int, book_ids: Sequence[int] | None = None) -> int:
    """Distinct New/Active addresses, from the (account, email, status) index alone. PostgreSQL counts the
    groups of the index's email order (its count(DISTINCT) sorts every row first: 330 -> 220 ms a million)."""
    where = [C.c.account_id == account_id, C.c.status.in_((0, 1))]
    if book_ids is not None:
        where.append(C.c.book_id.in_(list(book_ids)))
    if conn.dialect.name == "postgresql":
        groups = select(C.c.email).where(*where).group_by(C.c.email).subquery()
        return conn.execute(select(func.count()).select_from(groups)).scalar_one()
    return conn.execute(select(func.count(func.distinct(C.c.email))).where(*where)).scalar_one()


# ---- segments ----

def insert_segment(conn: Connection, values: dict) -> int:
    return conn.execute(insert(SG).returning(SG.c.id), values).scalar_one()


def segments(conn: Connection, book_id: int) -> list[RowMapping]:
    return list(conn.execute(select(SG).where(SG.c.book_id == book_id).order_by(SG.c.id)).mappings())


def account_segments(conn: Connection, account_id: int, limit: int) -> list[RowMapping]:
    """The account's segments with their list's name, by list name (the books' (account, name) index,
    then each book's segments)."""
    return list(conn.execute(select(SG.c.id, SG.c.name, SG.c.book_id, B.c.name.label("book_name"))
                             .select_from(B.join(SG, SG.c.book_id == B.c.id))
                             .where(B.c.account_id == account_id, SG.c.account_id == account_id)
                             .order_by(B.c.name, SG.c.id).limit(limit)).mappings())


def segment(conn: Connection, account_id: int, segment_id: int) -> RowMapping | None:
    return conn.execute(select(SG).where(SG.c.account_id == account_id, SG.c.id == segment_id)).mappings().first()


def delete_segment(conn: Connection, segment_id: int) -> None:
    conn.execute(delete(SG).where(SG.c.id == segment_id))


def count_segments(conn: Connection, book_id: int) -> int:
    return conn.execute(select(func.count()).select_from(SG).where(SG.c.book_id == book_id)).scalar_one()


# ---- a segment's count: what SQL can decide exactly as ``filters.matches`` would, in one pass ----
#
# Each condition is read in SQL as three-valued: surely true, surely false, or undecided. SQL decides a
# contact only where it reads the value exactly as Python does: a missing, null or empty value; a string of
# ASCII characters (its case folded by an ASCII-only lower(), which is what casefold() does to ASCII; on
# PostgreSQL without escapes in its JSON text); an integer (str() writes it as JSON does; on SQLite up to 15
# digits); on PostgreSQL also a decimal without exponent (strtod rounds as Python's float() does); a valid
# YYYY-MM-DD date. Anything else (accented text, booleans, SQLite's floats...) is left undecided, and those
# contacts are matched in Python by the caller: the answer is the same, only its cost differs.
#
# The query is layered, each layer kept apart from the next by an OFFSET (merged, every use of a column
# would compute it again: the JSON parsed once per use): each variable read from the JSON (one parse a
# variable a contact), then what it holds (its class and its text), then the verdict.

_TEXT_OPS = ("startwith", "endwith", "likewith", "notlikewith")
MISSING, TEXT, DATE, INTEGER, DECIMAL, OTHER = 0, 1, 2, 3, 4, 9  # what a contact's variable holds
NOT, UNDECIDED, SURELY = 0, 1, 2  # a condition's verdict on a contact
_SAFE = 10**15 - 1  # an integer up to this is the same number as a float in Python and in SQL


def _read(conn: Connection, name: str) -> ColumnElement | None:
    """The variable ``name`` as the first layer reads it, one JSON parse a contact: on PostgreSQL its JSON
    text (``'30'``, ``'"Kyiv"'``; NULL: none), on SQLite its value as SQL types it (``->>``: 30, 'Kyiv';
    NULL: none or null). None when SQLite's JSON path syntax cannot name it (a quote or a backslash)."""
    if conn.dialect.name == "postgresql":
        return cast(C.c.variables[name], Text)
    path = _path(name)
    return None if path is None else type_coerce(C.c.variables.op("->>")(literal(path, String)), NullType())


def _path(name: str) -> str | None:
    return None if '"' in name or "\\" in name else f'$."{name}"'


def _class_pg(j: ColumnElement, kind: str) -> ColumnElement:
    """What the JSON text ``j`` holds, as one of MISSING ... OTHER. A number without an exponent is read by
    strtod, correctly rounded as Python's float() is; an integer's JSON text is what str() writes (JSON has
    no leading zeros; "-0" aside). Plain string functions: a regular expression a row cost twice as much."""
    plain = and_(func.substr(j, 1, 1) == '"', func.strpos(j, "\\") == 0, func.octet_length(j) == func.char_length(j))
    text_class = (case((_valid_date(True, func.substr(j, 2, func.length(j) - 2)), DATE), else_=TEXT)
                  if kind == "date" else literal(TEXT))
    number = and_(func.strpos("-0123456789", func.substr(j, 1, 1)) > 0, func.strpos(j, "e") == 0,
                  func.strpos(j, "E") == 0, func.length(j) <= 300)  # 300 characters: never out of float8's range
    numbers = [(number, case((and_(func.strpos(j, ".") == 0, j != "-0"), INTEGER), else_=DECIMAL))]
    texts = [(plain, text_class)]
    # the first WHEN that holds decides: what the variable's type usually holds is tried first
    whens = numbers + texts if kind == "number" else texts + numbers
    return case((or_(j.is_(None), j == "null", j == '""'), MISSING), *whens, else_=OTHER)


def _class_sqlite(v: ColumnElement, variables: ColumnElement, path: str, kind: str) -> ColumnElement:
    """What the typed value ``v`` (``->>``) holds, as one of MISSING ... OTHER. ``->>`` reads true and false
    as 1 and 0, and an array or object as its JSON text: only then is the JSON's own type asked."""
    json_type = func.json_type(variables, path)
    integer = case((and_(or_(and_(v != 0, v != 1), json_type == "integer"), v.between(-_SAFE, _SAFE)), INTEGER),
                   else_=OTHER)
    text_class = case((_valid_date(False, v), DATE), else_=TEXT) if kind == "date" else literal(TEXT)
    text_ = case((v == "", MISSING), (and_(v.op("GLOB")("[[{]*"), json_type != "text"), OTHER),
                 (func.length(v) == func.length(cast(v, LargeBinary)), text_class), else_=OTHER)
    numbers, texts = [(func.typeof(v) == "integer", integer)], [(func.typeof(v) == "text", text_)]
    whens = numbers + texts if kind == "number" else texts + numbers
    return case((v.is_(None), MISSING), *whens, else_=OTHER)


def _valid_date(pg: bool, text_: ColumnElement) -> ColumnElement:
    """Whether the first 10 characters of ``text_`` are a date ``date.fromisoformat`` reads."""
    head = func.substr(text_, 1, 10)
    shaped = (head.op("~")(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$") if pg
              else head.op("GLOB")("[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"))
    year, month, day = (cast(func.substr(text_, start, size), Integer) for start, size in ((1, 4), (6, 2), (9, 2)))
    leap = or_(and_(year % 4 == 0, year % 100 != 0), year % 400 == 0)
    last = case((month == 2, case((leap, 29), else_=28)), (month.in_((4, 6, 9, 11)), 30), else_=31)
    return case((shaped, and_(year >= 1, month.between(1, 12), day >= 1, day <= last)), else_=false())


def _want(condition: filters.Condition, kind: str) -> object:
    """The condition's value as ``filters`` compares it (None: nothing compares equal to it)."""
    if kind == "number":
        number = filters._number(condition.value)
        return None if number is None or math.isnan(number) else number  # NaN equals nothing either
    if kind == "date":
        day = filters._date(condition.value)
        return day.isoformat() if day is not None else None
    return condition.value.casefold()


@dataclass(frozen=True)
class _Held:
    """A variable in the verdict's layer: its class, its text (a string's characters), lower-cased."""

    pg: bool
    cls: ColumnElement
    text: ColumnElement
    lower: ColumnElement


def _condition(held: _Held, condition: filters.Condition, kind: str) -> ColumnElement:
    """One condition's verdict: SURELY (true), NOT (false) or UNDECIDED."""
    op = condition.operator
    on_missing = SURELY if op in ("notequal", "notlikewith") else NOT
    if op in _TEXT_OPS:
        want = condition.value.casefold()
        sure, have = _one_of(held.cls, TEXT, DATE, INTEGER), held.lower
        if not want:
            holds = true() if op != "notlikewith" else false()
        elif op == "startwith":
            holds = func.substr(have, 1, len(want)) == want
        elif op == "endwith":
            holds = and_(func.length(have) >= len(want), func.substr(have, func.length(have) - len(want) + 1) == want)
        else:
            found = (func.strpos(have, want) if held.pg else func.instr(have, want)) > 0
            holds = found if op == "likewith" else not_(found)
    else:
        want = _want(condition, kind)
        if want is None:  # filters: not comparable, so only "notequal" holds, whatever the contact has
            return literal(SURELY if op == "notequal" else NOT)
        if kind == "number":
            sure, have = _one_of(held.cls, INTEGER, DECIMAL), cast(held.text, Float)  # read only when sure
        elif kind == "date":
            sure, have = held.cls == DATE, func.substr(held.text, 1, 10)
        else:
            sure, have = _one_of(held.cls, TEXT, DATE, INTEGER), held.lower
        if kind != "number" and held.pg:
            have = have.collate("C")  # code point order, as Python compares strings
        holds = {"equal": have == want, "notequal": have != want, "greaterthan": have > want,
                 "lessthan": have < want}[op]
    return case((held.cls == MISSING, on_missing), (sure, case((holds, SURELY), else_=NOT)), else_=UNDECIDED)


def _one_of(column: ColumnElement, *values: int) -> ColumnElement:
    return or_(*(column == v for v in values))  # PostgreSQL: "= ANY (array)" a row costs more


def _joined(pg: bool, parts: list[ColumnElement], join: str) -> ColumnElement:
    """Kleene's and/or: NOT < UNDECIDED < SURELY, so "and" is the least of the verdicts, "or" the greatest."""
    if len(parts) == 1:
        return parts[0]
    if join == "and":
        return func.least(*parts) if pg else func.min(*parts)
    return func.greatest(*parts) if pg else func.max(*parts)


def _verdicts(conn: Connection, account_id: int, book_id: int, join: str, rules: Sequence[filters.Filter],
              types: dict[str, str], *, first: int = 0, last: int | None = None, keep: Sequence = ()) -> Subquery:
    """A subquery of the book's contacts with ids in (first, last]: ``status``, ``verdict`` (SURELY matched,
    NOT, UNDECIDED) and the contact columns ``keep``."""
    pg = conn.dialect.name == "postgresql"
    names = sorted({r.variable for r in rules})
    reads = {n: _read(conn, n) for n in names}
    where = [C.c.account_id == account_id, C.c.book_id == book_id, C.c.id > first]
    if last is not None:
        where.append(C.c.id <= last)
    passed = [C.c.status, *keep]
    parsed = select(*passed, *([] if pg else [C.c.variables.label("variables_")]),
                    *(r.label(f"j{i}") for i, r in enumerate(reads.values()) if r is not None)).where(*where)
    if not pg:
        parsed = parsed.order_by(C.c.id)  # the (book_id, id) index: the table's pages in order, not at random
    parsed = parsed.offset(0).subquery()
    columns = []
    for i, (name, read) in enumerate(reads.items()):
        j, kind = parsed.c[f"j{i}"] if read is not None else None, types.get(name, "string")
        if j is None:  # Python decides
            cls, text_ = literal(OTHER), literal("")
        elif pg:  # a string's characters between its quotes
            cls, text_ = _class_pg(j, kind), case((func.substr(j, 1, 1) == '"', func.substr(j, 2, func.length(j) - 2)),
                                                  else_=j)
        else:
            cls, text_ = _class_sqlite(j, parsed.c.variables_, _path(name), kind), j
        columns += [cls.label(f"c{i}"), text_.label(f"t{i}")]
    held = select(*(parsed.c[c.name] for c in passed), *columns).offset(0).subquery()
    values = {name: _Held(pg, held.c[f"c{i}"], held.c[f"t{i}"],
                          # ASCII letters only ("C": PostgreSQL's lower() leaves the rest alone, as SQLite's does)
                          func.lower(held.c[f"t{i}"].collate("C")) if pg else func.lower(held.c[f"t{i}"]))
              for i, name in enumerate(reads)}
    verdict = _joined(pg, [_joined(pg, [_condition(values[r.variable], c, types.get(r.variable, "string"))
                                        for c in r.conditions], r.join) for r in rules], join)
    return select(*(held.c[c.name] for c in passed), verdict.label("verdict")).offset(0).subquery()


def segment_tally(conn: Connection, account_id: int, book_id: int, join: str, rules: Sequence[filters.Filter],
                  types: dict[str, str], active: tuple[int, ...], *, first: int = 0,
                  last: int | None = None) -> tuple[int, int, int]:
    """(contacts surely matched, of which ``active``, contacts left undecided) of the book's contacts with ids
    in (first, last], in one pass."""
    sub = _verdicts(conn, account_id, book_id, join, rules, types, first=first, last=last)
    surely = sub.c.verdict == SURELY
    row = conn.execute(select(func.count().filter(surely), func.count().filter(and_(surely, sub.c.status.in_(active))),
                              func.count().filter(sub.c.verdict == UNDECIDED))).one()
    return row[0], row[1], row[2]


def segment_contacts(conn: Connection, account_id: int, book_id: int, join: str, rules: Sequence[filters.Filter],
                     types: dict[str, str], first: int, last: int | None) -> list[RowMapping]:
    """The book's contacts with ids in (first, last] that ``segment_tally`` does not rule out, in id order,
    each with its ``verdict``: SURELY matched, or UNDECIDED (for ``filters`` to decide)."""
    sub = _verdicts(conn, account_id, book_id, join, rules, types, first=first, last=last,
                    keep=[c for c in CONTACT_COLUMNS if c.name != "status"])
    return list(conn.execute(select(sub).where(sub.c.verdict != NOT).order_by(sub.c.id)).mappings())


def nth_contact_after(conn: Connection, account_id: int, book_id: int, after: int, n: int) -> int | None:
    """The id of the book's ``n``-th contact after id ``after`` (a bounded offset on the (book_id, id) index),
    or None when fewer are left."""
    return conn.execute(select(C.c.id).where(C.c.book_id == book_id, C.c.account_id == account_id, C.c.id > after)
                        .order_by(C.c.id).offset(n - 1).limit(1)).scalar()


def undecided_contacts(conn: Connection, account_id: int, book_id: int, join: str, rules: Sequence[filters.Filter],
                       types: dict[str, str], after: int, batch: int,
                       until: int | None = None) -> tuple[list[RowMapping], int | None]:
    """The contacts ``segment_tally`` left undecided (id, status, variables) among the next ``batch`` of the
    book after id ``after``, up to id ``until`` when given, and the id to go on after (None: the last batch)."""
    last = nth_contact_after(conn, account_id, book_id, after, batch)
    if until is not None and (last is None or last >= until):
        last = until
    sub = _verdicts(conn, account_id, book_id, join, rules, types, first=after, last=last,
                    keep=(C.c.id, C.c.variables))
    rows = list(conn.execute(select(sub.c.id, sub.c.status, sub.c.variables).where(sub.c.verdict == UNDECIDED))
                .mappings())
    return rows, None if last == until else last


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
