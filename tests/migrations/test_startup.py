"""A starting bus and the schema: an empty database is made at the head, an outdated one
refused. The gate is installed in ``esb.schema`` as the package installs it, so these
tests go through :class:`~bus.app.Bus` as ``esb run`` does."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import click
import pytest
import sqlalchemy as sa

from bus.app import Bus
from bus.cli.serve import serve
from bus.db import create_engine
from bus.errors import DatabaseOutdated
from bus.settings import Settings
from migrations.head import HEAD
from migrations.scripts import BASELINE, PROJECT
from migrations.startup import prepare_database
from migrations.state import differences
from migrations.upgrade import downgrade, upgrade
from tests.conftest import all_at_once
from tests.migrations.conftest import Database, make_the_old_way
from tests.migrations.gates import WITH_NEXT_REVISION

GATE = "migrations.startup:prepare_database"
NEXT_RELEASE_GATE = "tests.migrations.gates:gate_of_the_next_release"

InstallGate = Callable[[str], None]


def start_bus(database: Database) -> Bus:
    """A bus on ``database`` (built, not connected: the gate runs in the constructor)."""
    return Bus(Settings(broker_url="memory://migrations", database_url=database.url),
               source="migrations-test")


def test_a_bus_on_an_empty_database_makes_the_whole_schema_at_the_head(
        database: Database, install_schema_gate: InstallGate) -> None:
    install_schema_gate(GATE)

    start_bus(database).close()

    with database.engine.connect() as connection:
        found = differences(connection)
    assert database.state().revisions == PROJECT.heads
    assert found == []


def test_a_bus_refuses_to_start_on_a_database_behind_the_code(
        database: Database, install_schema_gate: InstallGate) -> None:
    upgrade(database.engine)  # this release's schema; the next release has one more revision
    install_schema_gate(NEXT_RELEASE_GATE)

    with pytest.raises(DatabaseOutdated) as refused:
        start_bus(database)

    assert f"at revision {', '.join(sorted(PROJECT.heads))}" in str(refused.value)
    assert "needs test_next: run `esb db upgrade`" in str(refused.value)


def test_after_the_upgrade_the_bus_starts_and_a_downgrade_undoes_the_revision(
        database: Database, install_schema_gate: InstallGate) -> None:
    upgrade(database.engine)
    install_schema_gate(NEXT_RELEASE_GATE)

    upgraded = upgrade(database.engine, scripts=WITH_NEXT_REVISION)
    start_bus(database).close()
    columns_then = {column["name"] for column in sa.inspect(database.engine)
                    .get_columns("esb_outbox")}
    back = downgrade(database.engine, BASELINE, scripts=WITH_NEXT_REVISION)
    columns_after = {column["name"] for column in sa.inspect(database.engine)
                     .get_columns("esb_outbox")}

    assert upgraded.after == {"test_next"}
    assert "test_note" in columns_then
    assert back == {BASELINE}
    assert "test_note" not in columns_after and "routing_key" in columns_after


def test_a_database_made_before_migrations_starts_with_a_warning_while_the_head_is_the_baseline(
        database: Database, install_schema_gate: InstallGate,
        caplog: pytest.LogCaptureFixture) -> None:
    if PROJECT.heads != {BASELINE}:
        pytest.skip("a later revision exists: such a database is refused (next test)")
    make_the_old_way(database)
    install_schema_gate(GATE)

    with caplog.at_level(logging.WARNING, logger="migrations.startup"):
        start_bus(database).close()

    assert "run `esb db upgrade` once to check and stamp it" in caplog.text
    assert database.state().revisions == frozenset()  # stamping is the upgrade's job


def test_a_database_made_before_migrations_is_refused_once_a_later_revision_exists(
        database: Database, install_schema_gate: InstallGate) -> None:
    make_the_old_way(database)
    install_schema_gate(NEXT_RELEASE_GATE)

    with pytest.raises(DatabaseOutdated, match="made by a release before migrations"):
        start_bus(database)


def test_a_database_a_newer_release_migrated_starts_with_a_warning(
        database: Database, install_schema_gate: InstallGate,
        caplog: pytest.LogCaptureFixture) -> None:
    """A worker of the release before restarting during a rolling upgrade."""
    upgrade(database.engine, scripts=WITH_NEXT_REVISION)
    install_schema_gate(GATE)

    with caplog.at_level(logging.WARNING, logger="migrations.startup"):
        start_bus(database).close()

    assert "at revision test_next, which this release does not know" in caplog.text


def test_two_processes_starting_on_an_empty_database_make_the_schema_once(
        database: Database) -> None:
    """Each takes the migration lock; the second finds the schema made."""
    engines = [create_engine(database.url) for _ in range(2)]  # a pool each, as processes have
    unused = list(engines)

    failures = all_at_once(2, lambda: prepare_database(unused.pop()))
    for engine in engines:
        engine.dispose()

    with database.engine.connect() as connection:
        versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    assert failures == []
    assert [row[0] for row in versions] == sorted(PROJECT.heads)


async def test_esb_run_on_a_database_behind_says_what_to_do_instead_of_a_traceback(
        database: Database, install_schema_gate: InstallGate) -> None:
    upgrade(database.engine)
    install_schema_gate(NEXT_RELEASE_GATE)

    with pytest.raises(click.ClickException, match="run `esb db upgrade`"):
        await serve(Settings(broker_url="memory://migrations", database_url=database.url))


def test_head_is_the_newest_revision_of_the_scripts() -> None:
    assert PROJECT.heads == {HEAD}


def test_a_bus_on_a_database_at_the_head_starts_without_loading_alembic(
        database: Database) -> None:
    upgrade(database.engine)
    starting = (
        "import sys\n"
        "from bus.db import create_engine\n"
        "from migrations.startup import prepare_database\n"
        f"prepare_database(create_engine({database.url!r}))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'adapters')))\n")

    started = subprocess.run([sys.executable, "-c", starting], capture_output=True, text=True,
                             check=True, cwd=Path(__file__).resolve().parents[2])

    assert started.stdout.strip() == "[]", started.stdout
