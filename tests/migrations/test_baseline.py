"""Revision 0001 declares the schema the models declared when migrations began.

``compare_metadata`` (tests/migrations/test_upgrade.py) does not see everything:
column order, SQLite's ``WITHOUT ROWID`` (sync_keys), comments on SQLite. Here the
DDL itself is compared, statement for statement, as each dialect compiles it.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.schema import CreateIndex, CreateTable

from migrations import registry
from migrations.scripts import BASELINE, PROJECT


def _ddl(table: sa.Table, dialect: sa.Dialect) -> list[str]:
    return [str(CreateTable(table).compile(dialect=dialect)).strip(),
            *sorted(str(CreateIndex(index).compile(dialect=dialect))
                    for index in table.indexes)]


@pytest.mark.parametrize("dialect", [sa.create_engine(url).dialect  # no connection made
                                     for url in ("sqlite://", "postgresql+psycopg://")],
                         ids=["sqlite", "postgresql"])
def test_the_baseline_creates_the_tables_of_the_models_statement_for_statement(
        dialect: sa.Dialect) -> None:
    if PROJECT.heads != {BASELINE}:
        pytest.skip("a later revision exists: the models have moved on from the baseline")
    baseline = PROJECT.baseline_metadata().tables
    models = registry.tables()

    assert sorted(baseline) == sorted(models)
    for name, table in models.items():
        assert _ddl(baseline[name], dialect) == _ddl(table, dialect), name
