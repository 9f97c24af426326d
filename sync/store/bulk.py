"""Bulk inserts straight through the driver's executemany (no per-row SQLAlchemy work).

For tables of plain columns (no JSON): the customers, the xref and its history,
the look-up keys; the 1M-account run writes millions of such rows. ``rows`` may
be a generator: only ``batch_size`` of them are held at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import islice
from typing import Any

import sqlalchemy as sa

__all__ = ["bulk_insert"]


def bulk_insert(connection: sa.Connection, table: sa.Table,
                rows: Iterable[Mapping[str, Any]], *, batch_size: int = 5000) -> None:
    it = iter(rows)
    part = list(islice(it, batch_size))
    if not part:
        return
    columns = list(part[0])
    compiled = table.insert().compile(dialect=connection.dialect, column_keys=columns)
    sql = str(compiled)
    order = compiled.positiontup
    while part:
        if compiled.positional and order is not None:
            connection.exec_driver_sql(sql, [tuple(row[c] for c in order) for row in part])
        else:
            connection.exec_driver_sql(sql, [dict(row) for row in part])
        part = list(islice(it, batch_size))
