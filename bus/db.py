"""The bus's SQL state: one SQLAlchemy engine and one metadata for all its tables.

SQLite (the embedded default) and PostgreSQL run the same code. SQLite gets
WAL mode and a busy timeout so that a journal writer, a consumer and the CLI
can share one file.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

__all__ = ["METADATA", "SCHEMA_GATES", "create_engine", "create_tables", "insert_or_ignore",
           "prepare_database"]

log = logging.getLogger(__name__)

METADATA = sa.MetaData()
"""Every table the bus owns registers here (journal, idempotency, outbox, DLQ)."""

SCHEMA_GATES = "esb.schema"
"""Entry-point group of the functions a bus runs on its engine before using it."""


def create_engine(url: str, **options: Any) -> sa.Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                                  **options)

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            _switch_to_wal(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    options.setdefault("pool_pre_ping", True)
    options.setdefault("pool_size", 10)
    return sa.create_engine(url, **options)


_WAL_SWITCH_PATIENCE = 10.0
"""Seconds a new connection keeps trying to put a new SQLite file in WAL mode."""


def _switch_to_wal(cursor: sqlite3.Cursor) -> None:
    """``PRAGMA journal_mode=WAL``, tried again while another connection holds the lock.

    On a file that is not in WAL mode yet (a new database), connections switching it at
    the same moment (the components of one starting process, two processes) get
    "database is locked" at once: SQLite does not wait on its busy timeout there, as it
    would deadlock. Each try holds no lock after it fails; the first switch wins and the
    others find WAL set."""
    deadline = time.monotonic() + _WAL_SWITCH_PATIENCE
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def prepare_database(engine: sa.Engine) -> None:
    """Run the installed schema gates (``esb.schema``: the migrations' check that the
    database is at the code's revision, which makes the schema in an empty one), then
    create the bus's tables that are missing, as the bus always did.

    A gate's refusal (:class:`~bus.errors.DatabaseOutdated`) stops the start; a gate
    that cannot be loaded is reported and skipped, like any plug-in.
    """
    for entry in sorted(entry_points(group=SCHEMA_GATES), key=lambda e: e.name):
        try:
            gate = entry.load()
        except Exception as error:
            log.error("schema gate %s skipped: %s: %s", entry.name, type(error).__name__, error)
            continue
        gate(engine)
    create_tables(engine)


def create_tables(engine: sa.Engine) -> None:
    """Create every registered table that does not exist yet."""
    ensure_tables(METADATA, engine)


def ensure_tables(metadata: sa.MetaData, engine: sa.Engine) -> None:
    """``metadata.create_all`` that survives another thread or process creating the
    same tables at the same moment (two pollers, two workers starting together)."""
    try:
        metadata.create_all(engine)
    except sa.exc.DBAPIError:  # lost the race between the check and the CREATE
        metadata.create_all(engine)  # sees them now; a real error raises again


def upsert(
    connection: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]
) -> None:
    """Insert ``rows``, replacing the columns of those whose primary key exists already:
    safe when several processes write the same row at once (a delete then insert is not).
    PostgreSQL and SQLite; the rows must carry the whole primary key."""
    if not rows:
        return
    from sqlalchemy.dialects import postgresql, sqlite

    keys = [column.name for column in table.primary_key.columns]
    if connection.dialect.name == "postgresql":
        on_postgres = postgresql.insert(table)
        statement: sa.Executable = on_postgres.on_conflict_do_update(
            index_elements=keys, set_={name: on_postgres.excluded[name]
                                       for name in rows[0] if name not in keys})
    else:
        on_sqlite = sqlite.insert(table)
        statement = on_sqlite.on_conflict_do_update(
            index_elements=keys, set_={name: on_sqlite.excluded[name]
                                       for name in rows[0] if name not in keys})
    connection.execute(statement, rows)


def insert_or_ignore(
    connection: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]
) -> None:
    """Insert ``rows``, silently skipping those that clash with a unique key."""
    if not rows:
        return
    dialect = connection.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        connection.execute(pg_insert(table).on_conflict_do_nothing(), rows)
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        connection.execute(sqlite_insert(table).on_conflict_do_nothing(), rows)
    else:
        connection.execute(table.insert().prefix_with("IGNORE"), rows)
