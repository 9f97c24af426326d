"""The embedded default's database file: many connections open a new one at once.

A starting process opens its SQLite file from several components together (the journal
writer, the outbox relay, the consumers' ledger); two processes may start together
too. Each connection puts the file in WAL mode, and SQLite answers "database is
locked" at once, without waiting, to all but one of those that try it together.
"""

from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa

from bus.db import create_engine


def test_connections_opening_a_new_file_together_all_get_it_in_wal_mode(
        tmp_path: Path) -> None:
    failures: list[BaseException] = []
    modes: list[str] = []
    for attempt in range(30):
        url = f"sqlite:///{tmp_path / f'new-{attempt}.db'}"
        starting_line = threading.Barrier(4)

        def connect(url: str = url, starting_line: threading.Barrier = starting_line) -> None:
            engine = create_engine(url)  # a pool of its own, as another component has
            try:
                starting_line.wait()
                with engine.connect() as connection:
                    modes.append(str(connection.scalar(sa.text("PRAGMA journal_mode"))))
            except BaseException as failure:
                failures.append(failure)
            finally:
                engine.dispose()

        openers = [threading.Thread(target=connect) for _ in range(4)]
        for opener in openers:
            opener.start()
        for opener in openers:
            opener.join()

    assert failures == []
    assert modes == ["wal"] * 120
