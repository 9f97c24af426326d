"""Bulk inserts straight through the driver's executemany (no per-row SQLAlchemy work).

For tables of plain columns (no JSON): the xref and its history, the look-up keys;
the 1M-account run writes millions of such rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

__all__ = ["bulk_insert"]


def bulk_insert(connection: sa.Connection, table: sa.Table,
                rows: Sequence[Mapping[str, Any]], *, batch_size: int = 5000) -> None:
    if not rows:
        return
    columns = list(rows[0])
    compiled = table.insert().compile(dialect=connection.dialect, column_keys=columns)
    sql = str(compiled)
    order = compiled.positiontup
    for start in range(0, len(rows), batch_size):
        part = rows[start:start + batch_size]
        if compiled.positional and order is not None:
            connection.exec_driver_sql(sql, [tuple(row[c] for c in order) for row in part])
        else:
            connection.exec_driver_sql(sql, [dict(row) for row in part])
