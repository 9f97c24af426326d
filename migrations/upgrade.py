"""Moving a database between revisions, one process at a time.

A database made before migrations (our tables, no ``alembic_version``) is first
*adopted*: its tables are compared with the baseline revision's, and only if they
match is it stamped at the baseline, after which the later revisions run as for any
database. Tables of the baseline that a component never created (an adapter that
never ran there) are created then.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final, TextIO

import sqlalchemy as sa
from alembic import command

from bus.errors import SchemaDrift
from migrations.scripts import BASELINE, PROJECT, Scripts
from migrations.state import differences, read_state

__all__ = ["LOCK_KEY", "Upgraded", "adopt", "downgrade", "exclusive", "upgrade", "write_sql"]

log = logging.getLogger(__name__)

LOCK_KEY: Final = 0x6573_625F_6462
"""PostgreSQL advisory lock of every process that migrates ("esb_db" in ASCII)."""


@dataclass(frozen=True, slots=True)
class Upgraded:
    before: frozenset[str]
    after: frozenset[str]
    adopted: bool = False
    """Made by a release before migrations, checked and stamped at the baseline."""
    created: tuple[str, ...] = ()
    """Baseline tables that were missing when it was adopted."""


@contextmanager
def exclusive(engine: sa.Engine) -> Iterator[sa.Connection]:
    """One transaction that migrating processes take in turn, in which DDL commits or
    rolls back as a whole: PostgreSQL's advisory lock; on SQLite the write lock, taken
    at ``BEGIN IMMEDIATE`` rather than at the first write, so that two processes never
    both find the database empty."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        elif connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        yield connection


def upgrade(engine: sa.Engine, revision: str = "heads", *, scripts: Scripts = PROJECT,
            stdout: TextIO | None = None) -> Upgraded:
    """Upgrade to ``revision``, adopting a database made before migrations first.

    Raises :class:`~bus.errors.SchemaDrift` (and changes nothing) when such a
    database's tables are not the baseline's."""
    with exclusive(engine) as connection:
        before = read_state(connection)
        created = adopt(connection, scripts) if before.unversioned else ()
        command.upgrade(scripts.config(connection, stdout=stdout), revision)
        after = read_state(connection).revisions
    return Upgraded(before.revisions, after, adopted=before.unversioned, created=created)


def adopt(connection: sa.Connection, scripts: Scripts = PROJECT) -> tuple[str, ...]:
    """Stamp a database made before migrations at the baseline if its tables are the
    baseline's; returns the baseline tables it lacked, created here."""
    baseline = scripts.baseline_metadata()
    existing = set(sa.inspect(connection).get_table_names())
    present = sa.MetaData()
    for table in baseline.sorted_tables:
        if table.name in existing:
            table.to_metadata(present)
    drift = differences(connection, present)
    if drift:
        raise SchemaDrift(
            f"the database has no schema revision and its tables differ from revision "
            f"{BASELINE} (the schema releases before migrations made), so it cannot be "
            "stamped:\n" + "\n".join(f"  - {line}" for line in drift)
            + "\nMake them match by hand (or restore a backup), then run `esb db upgrade` "
            "again.")
    missing = [table for table in baseline.sorted_tables if table.name not in existing]
    baseline.create_all(connection, tables=missing, checkfirst=False)
    command.stamp(scripts.config(connection), BASELINE)
    log.info("the database made before migrations matches revision %s: stamped", BASELINE)
    return tuple(table.name for table in missing)


def write_sql(url: str, stdout: TextIO, *, since: str | None = None,
              revision: str = "heads", scripts: Scripts = PROJECT) -> None:
    """Write the SQL of the upgrade to ``revision`` for the database at ``url`` (its
    dialect) to ``stdout``, without connecting: for a DBA to review and run. From an
    empty database, or from revision ``since``. A database made before migrations is
    adopted by ``esb db upgrade`` itself (it compares the tables first), not by a script."""
    target = f"{since}:{revision}" if since else revision
    command.upgrade(scripts.config(stdout=stdout, sql_for=url), target, sql=True)


def downgrade(engine: sa.Engine, revision: str, *, scripts: Scripts = PROJECT,
              stdout: TextIO | None = None) -> frozenset[str]:
    """Downgrade to ``revision`` (``base``: drop every migrated table); returns where it is."""
    with exclusive(engine) as connection:
        command.downgrade(scripts.config(connection, stdout=stdout), revision)
        return read_state(connection).revisions
