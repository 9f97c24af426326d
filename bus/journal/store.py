"""Writing journal rows: straight to the driver, one ``executemany`` per table.

The writer's rows are already in the driver's terms (tuples of str, int,
float, None), so the inserts skip SQLAlchemy's per-row parameter processing:
the SQL text is generated once per dialect (``?`` for sqlite3, ``%s`` for
psycopg) and executed with :meth:`sqlalchemy.engine.Connection.exec_driver_sql`,
which still wraps driver errors and notices lost connections. Messages and
keys are ``INSERT … ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL alike;
on PostgreSQL psycopg sends each ``executemany`` as one pipeline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

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


def insert_sql(dialect: sa.Dialect, table: sa.Table, columns: Sequence[str], *,
               skip_conflicts: bool, casts: dict[str, str] | None = None) -> str:
    """``INSERT INTO table (columns) VALUES (?, …)`` in the driver's own parameter style."""
    mark = _MARKS.get(str(dialect.paramstyle))
    if mark is None:
        raise ConfigurationError(f"the journal cannot write with paramstyle {dialect.paramstyle}")
    quote = dialect.identifier_preparer.quote
    casts = casts or {}
    names = ", ".join(quote(column) for column in columns)
    marks = ", ".join(mark + casts.get(column, "") for column in columns)
    sql = (f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({names}) "
           f"VALUES ({marks})")
    return sql + " ON CONFLICT DO NOTHING" if skip_conflicts else sql


class JournalStore:
    """The journal's three tables on one engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        dialect = engine.dialect
        if dialect.name not in ("sqlite", "postgresql"):
            raise ConfigurationError(
                f"the journal supports SQLite and PostgreSQL, not {dialect.name}")
        casts = {"payload": "::jsonb"} if dialect.name == "postgresql" else {}
        self.statements: tuple[tuple[sa.Table, str], ...] = (
            (MESSAGES, insert_sql(dialect, MESSAGES, MESSAGE_COLUMNS, skip_conflicts=True,
                                  casts=casts)),
            (KEYS, insert_sql(dialect, KEYS, KEY_COLUMNS, skip_conflicts=True)),
            (EVENTS, insert_sql(dialect, EVENTS, EVENT_COLUMNS, skip_conflicts=False)),
        )

    def create_tables(self) -> None:
        MESSAGES.metadata.create_all(self.engine, tables=[MESSAGES, EVENTS, KEYS])
        self._check_layout()

    def _check_layout(self) -> None:
        """Tell (once, at start) when the tables were made by a version storing times as dates."""
        columns = sa.inspect(self.engine).get_columns(EVENTS.name)
        at = next((column for column in columns if column["name"] == "at"), None)
        if at is not None and isinstance(at["type"], sa.DateTime | sa.Date):
            log.error("the journal tables %s have an older layout (times as dates); drop them "
                      "so the bus creates them anew (they held no deployed data)",
                      ", ".join(table.name for table in (MESSAGES, EVENTS, KEYS)))

    def write(self, messages: list[Row], keys: list[Row], events: list[Row]) -> None:
        """Every row in one transaction: one ``executemany`` per table."""
        with self.engine.begin() as connection:
            for (_table, sql), rows in zip(self.statements, (messages, keys, events), strict=True):
                if rows:
                    connection.exec_driver_sql(sql, rows)

    def write_one_by_one(self, messages: list[Row], keys: list[Row], events: list[Row],
                         refused: Callable[[sa.Table, SQLAlchemyError], None]) -> None:
        """Each row in its own transaction; ``refused`` hears of every row the database refuses."""
        for (table, sql), rows in zip(self.statements, (messages, keys, events), strict=True):
            for row in rows:
                try:
                    with self.engine.begin() as connection:
                        connection.exec_driver_sql(sql, row)
                except SQLAlchemyError as error:
                    refused(table, error)

