"""Writing journal rows: straight to the driver, a few statements per batch.

The writer's rows are already in the driver's terms (tuples of str, int,
float, None), so the inserts skip SQLAlchemy's per-row parameter processing
and most of the driver's per-row work:

* SQLite: multi-row ``INSERT … VALUES (…), (…) …`` statements of 1, 2, 4 …
  rows (so a handful of statement texts, all in sqlite3's statement cache),
  on the driver's cursor. One ``sqlite3_step`` per statement rather than one
  per row: less CPU, and the writer gives up the GIL a few times a batch
  instead of three times a message.
* PostgreSQL: ``COPY … FROM STDIN`` for every table. Messages and keys are
  ``ON CONFLICT DO NOTHING`` (a message seen twice keeps its first row): COPY
  cannot skip conflicts, so when one clashes the batch is written again with
  ``INSERT … ON CONFLICT DO NOTHING`` (``executemany``) for those two tables,
  and so are the next few batches (re-journaled messages tend to come in runs).

Driver errors reach the caller as SQLAlchemy's (:class:`~sqlalchemy.exc.DBAPIError`),
with lost connections invalidated, as if SQLAlchemy had executed the statement.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Sequence
from itertools import chain
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from bus.errors import ConfigurationError
from bus.journal.rows import Row
from bus.journal.tables import (
    EVENT_COLUMNS,
    EVENTS,
    KEY_COLUMNS,
    KEYS,
    MESSAGE_COLUMNS,
    MESSAGES,
)

__all__ = ["JournalStore", "insert_sql"]

log = logging.getLogger(__name__)

_MARKS = {"qmark": "?", "format": "%s", "pyformat": "%s"}
_UNIQUE_VIOLATION = "23505"
MAX_ROWS_PER_STATEMENT = 128
INSERTS_AFTER_CLASH = 20
"""PostgreSQL: batches written with INSERT … ON CONFLICT after one whose COPY clashed."""


def insert_sql(dialect: sa.Dialect, table: sa.Table, columns: Sequence[str], *, rows: int = 1,
               skip_conflicts: bool, casts: dict[str, str] | None = None) -> str:
    """``INSERT INTO table (columns) VALUES (?, …), …`` in the driver's own parameter style."""
    mark = _MARKS.get(str(dialect.paramstyle))
    if mark is None:
        raise ConfigurationError(f"the journal cannot write with paramstyle {dialect.paramstyle}")
    quote = dialect.identifier_preparer.quote
    casts = casts or {}
    names = ", ".join(quote(column) for column in columns)
    values = "(" + ", ".join(mark + casts.get(column, "") for column in columns) + ")"
    sql = (f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({names}) "
           f"VALUES {', '.join([values] * rows)}")
    return sql + " ON CONFLICT DO NOTHING" if skip_conflicts else sql


def _chunks(count: int, largest: int) -> Iterator[tuple[int, int]]:
    """``(start, size)`` covering ``count`` rows with sizes that are powers of two."""
    start, size = 0, largest
    while start < count:
        while size > count - start:
            size //= 2
        yield start, size
        start += size


class _Table:
    __slots__ = ("columns", "copy", "dialect", "skip_conflicts", "statements", "table")

    def __init__(self, dialect: sa.Dialect, table: sa.Table, columns: Sequence[str], *,
                 skip_conflicts: bool) -> None:
        self.dialect = dialect
        self.table = table
        self.columns = tuple(columns)
        self.skip_conflicts = skip_conflicts
        self.statements: dict[int, str] = {}
        preparer = dialect.identifier_preparer
        self.copy = (f"COPY {preparer.format_table(table)} "
                     f"({', '.join(preparer.quote(column) for column in columns)}) FROM STDIN")

    def insert(self, rows: int = 1) -> str:
        sql = self.statements.get(rows)
        if sql is None:
            casts = {"payload": "::jsonb"} if self.dialect.name == "postgresql" else {}
            sql = self.statements[rows] = insert_sql(
                self.dialect, self.table, self.columns, rows=rows,
                skip_conflicts=self.skip_conflicts, casts=casts)
        return sql


class JournalStore:
    """The journal's three tables on one engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        dialect = engine.dialect
        if dialect.name not in ("sqlite", "postgresql"):
            raise ConfigurationError(
                f"the journal supports SQLite and PostgreSQL, not {dialect.name}")
        self._postgres = dialect.name == "postgresql"
        self.tables = (
            _Table(dialect, MESSAGES, MESSAGE_COLUMNS, skip_conflicts=True),
            _Table(dialect, KEYS, KEY_COLUMNS, skip_conflicts=True),
            _Table(dialect, EVENTS, EVENT_COLUMNS, skip_conflicts=False),
        )
        self._largest = MAX_ROWS_PER_STATEMENT
        self._inserts_left = 0

    def create_tables(self) -> None:
        MESSAGES.metadata.create_all(self.engine, tables=[MESSAGES, EVENTS, KEYS])
        with self.engine.connect() as connection:
            if not self._postgres:  # at least 999 (SQLite < 3.32), 32766 since
                driver: Any = connection.connection.driver_connection
                limit = driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
                widest = max(len(table.columns) for table in self.tables)
                while self._largest * widest > limit:
                    self._largest //= 2
            at = next(c for c in sa.inspect(connection).get_columns(EVENTS.name)
                      if c["name"] == "at")
        if isinstance(at["type"], sa.DateTime | sa.Date):
            log.error("the journal tables %s have an older layout (times as dates); drop them "
                      "so the bus creates them anew (they held no deployed data)",
                      ", ".join(table.name for table in (MESSAGES, EVENTS, KEYS)))

    def write(self, messages: list[Row], keys: list[Row], events: list[Row]) -> None:
        """Every row in one transaction."""
        batch = (messages, keys, events)
        if not self._postgres:
            with self.engine.begin() as connection:
                self._insert_many(connection, batch)
            return
        if self._inserts_left:
            self._inserts_left -= 1
        else:
            try:
                with self.engine.begin() as connection:
                    for table, rows in zip(self.tables, batch, strict=True):
                        self._copy(connection, table, rows)
                return
            except IntegrityError as error:
                if getattr(error.orig, "sqlstate", None) != _UNIQUE_VIOLATION:
                    raise
                self._inserts_left = INSERTS_AFTER_CLASH
        with self.engine.begin() as connection:  # a message seen before: skip it
            for table, rows in zip(self.tables[:2], batch, strict=False):
                if rows:
                    connection.exec_driver_sql(table.insert(), rows)
            self._copy(connection, self.tables[2], events)

    def _insert_many(self, connection: sa.Connection, batch: tuple[list[Row], ...]) -> None:
        """SQLite: multi-row ``INSERT`` statements on the driver's cursor."""
        driver: Any = connection.connection.driver_connection
        cursor = driver.cursor()
        sql = ""
        try:
            for table, rows in zip(self.tables, batch, strict=True):
                for start, size in _chunks(len(rows), self._largest):
                    sql = table.insert(size)
                    cursor.execute(sql, list(chain.from_iterable(rows[start:start + size])))
        except connection.dialect.loaded_dbapi.Error as error:
            raise _wrapped(connection, error, sql) from error
        finally:
            cursor.close()

    def _copy(self, connection: sa.Connection, table: _Table, rows: list[Row]) -> None:
        if not rows:
            return
        driver: Any = connection.connection.driver_connection
        try:
            with driver.cursor() as cursor, cursor.copy(table.copy) as copy:
                write = copy.write_row
                for row in rows:
                    write(row)
        except connection.dialect.loaded_dbapi.Error as error:
            raise _wrapped(connection, error, table.copy) from error

    def write_one_by_one(self, messages: list[Row], keys: list[Row], events: list[Row]
                         ) -> list[tuple[sa.Table, SQLAlchemyError]]:
        """Each row in its own transaction; returns the table and error of each row refused."""
        refused: list[tuple[sa.Table, SQLAlchemyError]] = []
        for table, rows in zip(self.tables, (messages, keys, events), strict=True):
            for row in rows:
                try:
                    with self.engine.begin() as connection:
                        connection.exec_driver_sql(table.insert(), row)
                except SQLAlchemyError as error:
                    refused.append((table.table, error))
        return refused

def _wrapped(connection: sa.Connection, error: Any, statement: str) -> BaseException:
    """The driver's ``error`` as SQLAlchemy would raise it; a lost connection is invalidated."""
    dialect = connection.dialect
    lost = dialect.is_disconnect(error, connection.connection.dbapi_connection, None)
    wrapped: BaseException = DBAPIError.instance(statement, None, error, dialect.loaded_dbapi.Error,
                                                 connection_invalidated=lost, dialect=dialect)
    if lost and not connection.invalidated:
        connection.invalidate(wrapped)
    return wrapped
