"""``esb db upgrade``: an empty database gets the schema; one made by a release before
migrations is checked against the baseline and stamped, or refused with the differences.
Each test runs on a SQLite file and on a PostgreSQL schema of its own."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from bus.db import ensure_tables
from bus.transport.sql.tables import METADATA as BROKER_METADATA
from migrations import registry
from migrations.cli import db
from migrations.scripts import BASELINE, PROJECT
from migrations.state import Standing, differences
from migrations.upgrade import downgrade, upgrade
from tests.migrations.conftest import Database, esb_db, make_the_old_way

HEAD = ", ".join(sorted(PROJECT.heads))


def test_upgrade_of_an_empty_database_makes_the_schema_of_the_models(database: Database
                                                                      ) -> None:
    outcome = upgrade(database.engine)

    with database.engine.connect() as connection:
        found = differences(connection)
    assert outcome.before == frozenset() and outcome.after == PROJECT.heads
    assert not outcome.adopted
    assert found == []
    assert database.tables() == set(registry.tables()) | {"alembic_version"}


def test_downgrade_to_base_leaves_no_table_of_ours(database: Database) -> None:
    upgrade(database.engine)

    where = downgrade(database.engine, "base")

    assert where == frozenset()
    assert database.tables() & set(registry.tables()) == set()
    assert database.state().empty


def test_a_database_made_the_old_way_is_stamped_at_the_baseline_and_then_current(
        database: Database) -> None:
    make_the_old_way(database)
    assert database.state().standing(PROJECT.heads, PROJECT.known) is Standing.UNVERSIONED

    upgraded = esb_db("upgrade", "--url", database.url)
    current = esb_db("current", "--url", database.url, "--json")
    check = esb_db("check", "--url", database.url)

    assert upgraded.exit_code == 0, upgraded.output
    assert f"match revision {BASELINE}: stamped" in upgraded.output
    assert orjson.loads(current.stdout) == {
        "revision": HEAD, "head": HEAD, "standing": "current", "next_step": None}
    assert check.exit_code == 0, check.output


def test_a_database_made_the_old_way_with_a_column_dropped_by_hand_is_refused_as_it_is(
        database: Database) -> None:
    make_the_old_way(database)
    database.execute("DROP INDEX ix_pbx_calls_queue", "ALTER TABLE pbx_calls DROP COLUMN queue")

    refused = esb_db("upgrade", "--url", database.url)

    assert refused.exit_code == 1
    assert "- column pbx_calls.queue: missing" in refused.output
    assert "- index ix_pbx_calls_queue on pbx_calls (queue, started_us): missing" \
        in refused.output
    assert database.state().revisions == frozenset()  # not stamped, nothing created


def test_a_column_of_another_type_is_refused_too(database: Database) -> None:
    make_the_old_way(database)
    database.execute("DROP TABLE esb_files_ingested",
                     "CREATE TABLE esb_files_ingested (content_hash VARCHAR(64) PRIMARY KEY, "
                     "file_name VARCHAR(255) NOT NULL, profile VARCHAR(100) NOT NULL, "
                     "messages VARCHAR(20) NOT NULL, ingested_at FLOAT NOT NULL)")

    refused = esb_db("upgrade", "--url", database.url)

    assert refused.exit_code == 1
    assert "column esb_files_ingested.messages: type is VARCHAR(length=20) in the database, " \
        "expected Integer()" in refused.output


def test_tables_a_component_never_made_are_created_when_its_database_is_adopted(
        database: Database) -> None:
    """An old deployment without the PBX adapter never made the pbx_* tables."""
    make_the_old_way(database, registry.MIGRATED[:1])  # the bus's own tables only

    outcome = upgrade(database.engine)

    with database.engine.connect() as connection:
        found = differences(connection)
    assert outcome.adopted and outcome.after == PROJECT.heads
    assert {"pbx_calls", "sync_records", "crm_bitrix_calls"} <= set(outcome.created)
    assert "esb_outbox" not in outcome.created
    assert found == []


def test_tables_that_are_not_ours_are_neither_compared_nor_dropped(database: Database
                                                                   ) -> None:
    """The embedded broker may share the database; so may another application."""
    ensure_tables(BROKER_METADATA, database.engine)
    database.execute("CREATE TABLE legacy_accounts (id INTEGER PRIMARY KEY, name TEXT)")
    make_the_old_way(database)

    upgraded = esb_db("upgrade", "--url", database.url)
    check = esb_db("check", "--url", database.url)
    downgrade(database.engine, "base")

    assert upgraded.exit_code == 0, upgraded.output
    assert check.exit_code == 0, check.output
    assert {"legacy_accounts", "esb_broker_messages"} <= database.tables()


def test_upgrade_twice_does_nothing_the_second_time(database: Database) -> None:
    first = esb_db("upgrade", "--url", database.url)
    second = esb_db("upgrade", "--url", database.url)

    assert f"upgraded from revision none to {HEAD}" in first.output
    assert f"at revision {HEAD}: nothing to do" in second.output


def test_the_log_of_an_upgrade_names_the_revisions_run_not_alembics_preamble(
        database: Database, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="alembic"):
        upgrade(database.engine)

    said = [record.getMessage() for record in caplog.records]
    assert any(line.startswith(f"Running upgrade  -> {BASELINE}") for line in said), said
    assert not [line for line in said if line.startswith(("Context impl", "Will assume"))]


def _unreachable(database: Database, tmp_path: Path) -> str:
    """A URL of the database's dialect that no connection could use."""
    if database.url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'absent' / 'never.db'}"
    return "postgresql+psycopg://nobody@127.0.0.1:1/nowhere"


def _run_script(database: Database, script: str) -> None:
    """As a DBA would: the whole script, on a connection of its own, in autocommit."""
    raw: Any = database.engine.raw_connection()
    try:
        if database.url.startswith("sqlite"):
            raw.driver_connection.executescript(script)
        else:
            raw.driver_connection.autocommit = True
            raw.driver_connection.execute(script)
    finally:
        raw.close()


def test_the_sql_for_a_dba_makes_the_schema_the_upgrade_makes_without_connecting(
        database: Database, tmp_path: Path) -> None:
    unreachable = _unreachable(database, tmp_path)

    written = esb_db("upgrade", "--sql", "--url", unreachable)

    assert written.exit_code == 0, written.output
    assert not (tmp_path / "absent").exists()  # nothing connected, nothing was made
    _run_script(database, written.stdout)
    with database.engine.connect() as connection:
        found = differences(connection)
    assert database.state().revisions == PROJECT.heads
    assert found == []


def test_the_sql_since_the_head_has_nothing_to_create(database: Database, tmp_path: Path
                                                     ) -> None:
    written = esb_db("upgrade", "--sql", "--since", HEAD, "--url",
                     _unreachable(database, tmp_path))

    assert written.exit_code == 0, written.output
    assert "CREATE TABLE" not in written.stdout


def test_since_without_sql_is_refused(database: Database) -> None:
    result = CliRunner().invoke(db, ["upgrade", "--since", BASELINE, "--url", database.url])

    assert result.exit_code == 2 and "--since goes with --sql" in result.output
    assert database.state().empty
