"""The commands that open the bus's database on their own (`esb messages`, `esb dlq`,
`esb sync`) go through the schema gates as a starting bus does: an empty database gets
the schema at the head revision, an outdated one a one-line answer naming the next step."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from bus.cli.main import cli
from migrations.scripts import PROJECT
from migrations.state import differences
from migrations.upgrade import upgrade
from sync.cli import sync
from tests.migrations.conftest import Database
from tests.migrations.test_startup import GATE, NEXT_RELEASE_GATE, InstallGate

COMMANDS = [["messages", "search", "--json"], ["dlq", "list", "--json"], ["sync", "status"]]


def esb(database: Database, args: list[str]) -> tuple[int, str]:
    group = sync if args[0] == "sync" else cli
    result = CliRunner().invoke(group, args[1:] if args[0] == "sync" else args,
                                env={"ESB_DATABASE_URL": database.url})
    return result.exit_code, result.output


@pytest.mark.parametrize("args", COMMANDS, ids=lambda args: " ".join(args[:2]))
def test_a_command_on_an_empty_database_makes_the_schema_at_the_head(
        database: Database, install_schema_gate: InstallGate, args: list[str]) -> None:
    install_schema_gate(GATE)

    code, output = esb(database, args)

    assert code == 0, output
    assert database.state().revisions == PROJECT.heads
    with database.engine.connect() as connection:
        assert differences(connection) == []


@pytest.mark.parametrize("args", COMMANDS, ids=lambda args: " ".join(args[:2]))
def test_a_command_on_an_outdated_database_says_to_upgrade_it(
        database: Database, install_schema_gate: InstallGate, args: list[str]) -> None:
    upgrade(database.engine)  # this release's schema; the next release has one more revision
    install_schema_gate(NEXT_RELEASE_GATE)

    code, output = esb(database, args)

    assert code == 1
    assert "run `esb db upgrade`" in output and "Traceback" not in output
