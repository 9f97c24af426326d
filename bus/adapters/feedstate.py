"""What a polling change feed remembers, in the bus database: watermarks and what it published.

Two tables per feed, declared by the adapter on its own ``MetaData`` (so each
keeps its table names) and handled here:

* :class:`Watermarks` (``name``, ``value``, ``updated_at``): where the next
  poll starts from, per source, and a *lock row*: :meth:`Watermarks.take_turn`
  updates it first thing in a staging transaction, so feeds in several
  processes take turns instead of publishing the same change twice;
* :class:`PublishedLedger` (a key column, a value column, ``published_at``):
  per record, what was last published (a modification date, field hashes), so
  a record read again (the overlap before a watermark, a restart mid-poll) is
  published only if it really changed.

A feed's ``stage`` opens one transaction (``engine.begin()``), takes its turn,
adds the changed records' events with :func:`bus.delivery.outbox.add_to_outbox`,
remembers them in the ledger and moves the watermark: a change is published
exactly once across restarts.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

__all__ = ["PublishedLedger", "Watermarks", "ledger_table", "watermark_table"]

LOCK = "lock"
"""The name of the row :meth:`Watermarks.take_turn` updates."""


def watermark_table(name: str, metadata: sa.MetaData) -> sa.Table:
    """A feed's watermark table, ``name``, on the adapter's ``metadata``."""
    return sa.Table(
        name, metadata,
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("value", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def ledger_table(name: str, metadata: sa.MetaData, key: sa.Column[Any], value: sa.Column[Any]
                 ) -> sa.Table:
    """A feed's :class:`PublishedLedger` table: ``key`` (the primary key), ``value`` and
    ``published_at``."""
    return sa.Table(name, metadata, key, value,
                    sa.Column("published_at", sa.Float, nullable=False))


class Watermarks:
    """Named values in a :func:`watermark_table`; ``prefix:`` before each name when given."""

    def __init__(self, table: sa.Table, *, prefix: str = "") -> None:
        self.table = table
        self.prefix = prefix

    def read(self, engine: sa.Engine, name: str) -> str | None:
        """The stored value of ``name`` (its own connection), or None before the first poll."""
        with engine.connect() as connection:
            return self.get(connection, name)

    def get(self, db: sa.Connection, name: str) -> str | None:
        value: str | None = db.scalar(
            sa.select(self.table.c.value).where(self.table.c.name == self._name(name)))
        return value

    def put(self, db: sa.Connection, name: str, value: str) -> None:
        now = time.time()
        key = self._name(name)
        result = db.execute(self.table.update().where(self.table.c.name == key)
                            .values(value=value, updated_at=now))
        if result.rowcount == 0:
            db.execute(self.table.insert().values(name=key, value=value, updated_at=now))

    def take_turn(self, db: sa.Connection) -> None:
        """Update the lock row: a second feed's transaction waits until this one ends."""
        self.put(db, LOCK, str(time.time()))

    def _name(self, name: str) -> str:
        return f"{self.prefix}:{name}" if self.prefix else name


class PublishedLedger:
    """Per record key, the value last published, in ``table`` (``key``, ``value``,
    ``published_at`` columns; the first two named by the adapter)."""

    def __init__(self, table: sa.Table, *, key: str, value: str) -> None:
        self.table = table
        self.key = table.c[key]
        self.value = table.c[value]

    def known(self, db: sa.Connection, keys: Iterable[str]) -> dict[str, Any]:
        """Key -> value last published, for those of ``keys`` published before."""
        rows = db.execute(sa.select(self.key, self.value).where(self.key.in_(list(keys))))
        return {row[0]: row[1] for row in rows}

    def remember(self, db: sa.Connection, key: str, value: Any, *, exists: bool) -> None:
        """Record ``value`` as published for ``key`` (``exists``: it has a row already)."""
        values = {self.value.name: value, "published_at": time.time()}
        if exists:
            db.execute(self.table.update().where(self.key == key).values(values))
        else:
            db.execute(self.table.insert().values({self.key.name: key, **values}))
