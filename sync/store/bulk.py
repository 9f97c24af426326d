"""Bulk inserts of plain tuples straight through the driver.

For the synchronizer's big tables (customers, xref and its history, golden records,
look-up keys): a first run of a million accounts writes millions of rows, and a dict
per row, or SQLAlchemy's per-row parameter and JSON processing, cost more than the
database's own work. Rows are tuples in the order of ``columns``; JSON columns take
text the caller encoded. ``rows`` may be a generator: only ``batch_size`` of them are
held at a time.

SQLite gets the driver's executemany. PostgreSQL gets ``COPY … FROM STDIN`` through
psycopg (in the caller's transaction, like any statement): an INSERT per row, even
pipelined, made a full run's write stage 2.7 times SQLite's at 200 k accounts
(bench/sync_scale.py ``--persist-on sqlite,postgres``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import islice
from typing import Any

import sqlalchemy as sa

__all__ = ["insert_rows"]


def insert_rows(connection: sa.Connection, table: sa.Table, columns: Sequence[str],
                rows: Iterable[tuple[Any, ...]], *, batch_size: int = 5000) -> int:
    """Insert ``rows`` (values in the order of ``columns``); returns how many.

    SQLite's driver takes the tuples as they are; a driver with named parameters
    (psycopg) gets a mapping per row.
    """
    if connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg":
        return _copy_rows(connection, table, columns, rows)
    it = iter(rows)
    part = list(islice(it, batch_size))
    if not part:
        return 0
    compiled = table.insert().compile(dialect=connection.dialect, column_keys=list(columns))
    sql = str(compiled)
    order = compiled.positiontup
    where: list[int] | None = None
    if compiled.positional and order is not None:
        where = [list(columns).index(name) for name in order]
        if where == list(range(len(columns))):
            where = None  # already in the statement's order: pass the tuples through
    count = 0
    while part:
        count += len(part)
        params: list[Any]
        if not compiled.positional:
            params = [dict(zip(columns, row, strict=True)) for row in part]
        elif where is not None:
            params = [tuple(row[i] for i in where) for row in part]
        else:
            params = part
        connection.exec_driver_sql(sql, params)
        part = list(islice(it, batch_size))
    return count


def _copy_rows(connection: sa.Connection, table: sa.Table, columns: Sequence[str],
               rows: Iterable[tuple[Any, ...]]) -> int:
    """``rows`` through one ``COPY table (columns) FROM STDIN`` (psycopg adapts and
    escapes each value as it would a parameter)."""
    quote = connection.dialect.identifier_preparer
    statement = (f"COPY {quote.format_table(table)} "
                 f"({', '.join(quote.quote(name) for name in columns)}) FROM STDIN")
    driver = connection.connection.driver_connection
    assert driver is not None
    count = 0
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count
