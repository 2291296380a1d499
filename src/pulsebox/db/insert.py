"""``INSERT ... ON CONFLICT (keys) DO NOTHING`` on both backends, built once per table.

A row that is already there, or that a concurrent transaction is writing (two identical requests at
once), is skipped by the unique index instead of failing: the check-then-insert race of a SELECT
before the INSERT cannot happen. With ``returning``, a skipped row returns nothing.
"""

from __future__ import annotations

from sqlalchemy import Column, Connection, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.dml import Insert


class InsertNew:
    """``InsertNew(table, keys)(conn)``: the statement for ``conn``'s backend, made once."""

    def __init__(self, table: Table, keys: list[str], returning: Column | tuple[Column, ...] = ()) -> None:
        self._statements: dict[str, Insert] = {}
        columns = returning if isinstance(returning, tuple) else (returning,)
        for dialect, insert_ in (("postgresql", pg_insert), ("sqlite", sqlite_insert)):
            statement = insert_(table).on_conflict_do_nothing(index_elements=keys)
            self._statements[dialect] = statement.returning(*columns) if columns else statement

    def __call__(self, conn: Connection) -> Insert:
        return self._statements[conn.dialect.name]
