"""The embedded default's database file: many connections open a new one at once.

A starting process opens its SQLite file from several components together (the journal
writer, the outbox relay, the consumers' ledger); two processes may start together
too. Each connection puts the file in WAL mode, and SQLite answers "database is
locked" at once, without waiting, to all but one of those that try it together.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from bus.db import create_engine
from tests.conftest import all_at_once


def test_connections_opening_a_new_file_together_all_get_it_in_wal_mode(
        tmp_path: Path) -> None:
    failures: list[BaseException] = []
    modes: list[str] = []
    for attempt in range(30):
        url = f"sqlite:///{tmp_path / f'new-{attempt}.db'}"
        engines = [create_engine(url) for _ in range(4)]  # a pool each, as components have
        unused = list(engines)

        def connect(unused: list[sa.Engine] = unused) -> None:
            with unused.pop().connect() as connection:
                modes.append(str(connection.scalar(sa.text("PRAGMA journal_mode"))))

        failures += all_at_once(4, connect)
        for engine in engines:
            engine.dispose()

    assert failures == []
    assert modes == ["wal"] * 120
