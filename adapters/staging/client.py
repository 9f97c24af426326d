"""The staging table: the only module that reads and writes the legacy system's database.

Rows are claimed oldest first with ``SELECT ... FOR UPDATE SKIP LOCKED`` on
PostgreSQL (and MySQL/Oracle): two bus processes polling one table get
disjoint batches. SQLite has no row locks; there a second poller waits for
the first one's write (and the published-rows ledger stops a double publish).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from adapters.staging.settings import StagingSettings
from bus.errors import ConfigurationError, ExternalSystemUnavailable

__all__ = ["StagingTable"]

_SKIP_LOCKED = frozenset({"postgresql", "mysql", "mariadb", "oracle"})


class StagingTable:
    def __init__(self, engine: sa.Engine, settings: StagingSettings) -> None:
        self.engine = engine
        self.settings = settings
        self._table: sa.Table | None = None

    @property
    def table(self) -> sa.Table:
        """The table as the database describes it (read once)."""
        if self._table is None:
            schema, _, name = self.settings.table.rpartition(".")
            try:
                self._table = sa.Table(name, sa.MetaData(), schema=schema or None,
                                       autoload_with=self.engine)
            except sa.exc.NoSuchTableError:
                raise ConfigurationError(
                    f"there is no staging table {self.settings.table} at "
                    f"{self.engine.url.render_as_string()}") from None
            except sa.exc.OperationalError as error:
                raise ExternalSystemUnavailable(
                    f"the staging database does not answer: {error.orig}") from None
        return self._table

    def expected_columns(self) -> set[str]:
        s = self.settings
        return {s.id_column, s.status_column, s.error_column,
                *(column.column for column in s.fields.values())}

    def missing_columns(self) -> list[str]:
        return sorted(self.expected_columns() - {c.name for c in self.table.columns})

    def claim(self, connection: sa.Connection, limit: int) -> Sequence[sa.RowMapping]:
        """Lock up to ``limit`` new rows, oldest id first, skipping rows others hold."""
        table = self.table
        query = (sa.select(table)
                 .where(table.c[self.settings.status_column] == self.settings.new_status)
                 .order_by(table.c[self.settings.id_column]).limit(limit))
        if connection.dialect.name in _SKIP_LOCKED:
            query = query.with_for_update(skip_locked=True)
        return connection.execute(query).mappings().all()

    def mark(self, connection: sa.Connection, ids: Sequence[Any], status: str,
             error: str | None = None) -> None:
        if not ids:
            return
        table = self.table
        connection.execute(table.update().where(table.c[self.settings.id_column].in_(list(ids)))
                           .values({self.settings.status_column: status,
                                    self.settings.error_column: error}))

    def count(self, status: str) -> int:
        table = self.table
        query = (sa.select(sa.func.count()).select_from(table)
                 .where(table.c[self.settings.status_column] == status))
        with self.engine.connect() as connection:
            return int(connection.scalar(query) or 0)
