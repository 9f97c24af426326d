"""Tables made and dropped by revisions, statement by statement through ``op.execute``.

What ``MetaData.create_all`` would emit, but as single statements handed to Alembic, so
that a revision both runs on a connection (``esb db upgrade``) and writes its SQL out
(``esb db upgrade --sql``, where there is no connection to create on). For revisions
that add whole tables, the baseline first.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import CreateIndex, CreateTable, DropTable, SetColumnComment, SetTableComment

__all__ = ["create_tables", "drop_tables"]


def create_tables(tables: Iterable[sa.Table]) -> None:
    """``CREATE TABLE``, then (PostgreSQL) ``COMMENT ON``, then ``CREATE INDEX`` of each, in
    the order given (dependencies first: ``MetaData.sorted_tables``)."""
    dialect = op.get_context().dialect
    separate_comments = dialect.supports_comments and not dialect.inline_comments
    for table in tables:
        op.execute(CreateTable(table))
        if separate_comments:
            if table.comment is not None:
                op.execute(SetTableComment(table))
            for column in table.columns:
                if column.comment is not None:
                    op.execute(SetColumnComment(column))
        for index in sorted(table.indexes, key=lambda index: str(index.name)):
            op.execute(CreateIndex(index))


def drop_tables(tables: Iterable[sa.Table]) -> None:
    """``DROP TABLE`` of each, in the order given (dependents first)."""
    for table in tables:
        op.execute(DropTable(table))
