"""Databases for the migration tests (a SQLite file, a fresh PostgreSQL schema), the
``esb db`` commands in-process, and schema gates installed as entry points."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from bus.db import create_engine, ensure_tables
from migrations import registry
from migrations.cli import db
from migrations.state import DatabaseState, read_state
from tests.entry_points import write_distribution
from tests.services import postgres_schema


@dataclass(frozen=True)
class Database:
    url: str
    engine: sa.Engine

    def tables(self) -> set[str]:
        return set(sa.inspect(self.engine).get_table_names())

    def state(self) -> DatabaseState:
        with self.engine.connect() as connection:
            return read_state(connection)

    def execute(self, *statements: str) -> None:
        with self.engine.begin() as connection:
            for statement in statements:
                connection.exec_driver_sql(statement)


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database: a SQLite file, or a PostgreSQL schema of this test's own."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'esb.db'}"
        engine = create_engine(url)
        yield Database(url, engine)
        engine.dispose()
        return
    with postgres_schema("migrations") as url:
        engine = create_engine(url)
        yield Database(url, engine)
        engine.dispose()


def make_the_old_way(database: Database,
                     metadatas: tuple[sa.MetaData, ...] = registry.MIGRATED) -> None:
    """What releases before migrations did at start: ``create_all``, no revision."""
    for metadata in metadatas:
        ensure_tables(metadata, database.engine)


def esb_db(*args: str) -> Result:
    """``esb db ARGS`` (the click group the ``esb.commands`` entry point names)."""
    return CliRunner().invoke(db, list(args), catch_exceptions=False)


@pytest.fixture
def install_schema_gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                        ) -> Callable[[str], None]:
    """Declare ``target`` in ``esb.schema`` for this test, as an installed package would."""
    def install(target: str) -> None:
        directory = write_distribution(tmp_path / "gate", "esb-test-gate",
                                       {"esb.schema": {"test": target}})
        monkeypatch.syspath_prepend(str(directory))

    return install
