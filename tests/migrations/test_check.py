"""``esb db check``, ``current`` and ``history``: what an operator or a deploy script reads."""

from __future__ import annotations

import orjson

from migrations import registry
from migrations.scripts import BASELINE, PROJECT
from migrations.upgrade import upgrade
from tests.migrations.conftest import Database, esb_db, make_the_old_way

HEAD = ", ".join(sorted(PROJECT.heads))


def test_check_passes_on_a_database_at_the_head(database: Database) -> None:
    upgrade(database.engine)

    check = esb_db("check", "--url", database.url)

    assert check.exit_code == 0
    assert f"matches this release's schema (revision {HEAD})" in check.stdout


def test_check_fails_on_an_empty_database(database: Database) -> None:
    check = esb_db("check", "--url", database.url)

    assert check.exit_code == 1
    assert check.stdout.splitlines() == [
        f"- revision none, this release's is {HEAD}: run `esb db upgrade` (or start the bus) "
        "to create the schema",
        f"- none of the {len(registry.tables())} tables exist"]


def test_check_fails_and_names_a_column_changed_by_hand(database: Database) -> None:
    upgrade(database.engine)
    database.execute("ALTER TABLE sync_golden DROP COLUMN digest",
                     "ALTER TABLE sync_golden ADD COLUMN checksum VARCHAR(40)")

    check = esb_db("check", "--url", database.url)

    assert check.exit_code == 1
    assert check.stdout.splitlines() == [
        "- column sync_golden.digest: missing",
        "- column sync_golden.checksum: in the database but not expected"]
    assert "differs from this release's schema (2)" in check.stderr


def test_check_fails_on_a_database_made_before_migrations_until_it_is_stamped(
        database: Database) -> None:
    make_the_old_way(database)

    before = esb_db("check", "--url", database.url)
    esb_db("upgrade", "--url", database.url)
    after = esb_db("check", "--url", database.url)

    assert before.exit_code == 1
    assert before.stdout.splitlines() == [
        f"- revision none, this release's is {HEAD}: made before migrations: "
        "run `esb db upgrade` to check and stamp it"]
    assert after.exit_code == 0


def test_current_of_an_empty_database_says_what_to_do(database: Database) -> None:
    current = esb_db("current", "--url", database.url, "--json")

    assert orjson.loads(current.stdout) == {
        "revision": "none", "head": HEAD, "standing": "empty",
        "next_step": "run `esb db upgrade` (or start the bus) to create the schema"}


def test_history_lists_the_revisions_newest_first_down_to_the_baseline() -> None:
    history = esb_db("history", "--json")

    rows = [orjson.loads(line) for line in history.stdout.splitlines()]
    assert [row["revision"] for row in rows if row["head"]] == sorted(PROJECT.heads)
    assert rows[-1]["revision"] == BASELINE and rows[-1]["after"] == "none"
    assert rows[-1]["message"].startswith("Baseline")
