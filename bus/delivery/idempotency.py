"""The idempotent consumer: processed message ids per subscriber, in SQL.

The broker delivers at least once; this table makes the side effects happen
once. A handler that writes to the bus database does so through
:meth:`ProcessedMessages.run_once`, in the same transaction that records the
id, so the write and the record commit together or not at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from bus.db import METADATA, insert_or_ignore

__all__ = ["AlreadyProcessed", "ProcessedMessages", "processed_messages"]

T = TypeVar("T")

processed_messages = sa.Table(
    "esb_processed_messages",
    METADATA,
    sa.Column("subscriber", sa.String(200), primary_key=True),
    sa.Column("message_id", sa.String(64), primary_key=True),
    sa.Column("processed_at", sa.Float, nullable=False),
)


class AlreadyProcessed(Exception):
    """The subscriber has processed this message before; skip it."""


class ProcessedMessages:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def seen(self, subscriber: str, message_id: str) -> bool:
        query = sa.select(sa.literal(1)).where(
            processed_messages.c.subscriber == subscriber,
            processed_messages.c.message_id == message_id,
        )
        with self.engine.connect() as connection:
            return connection.scalar(query) is not None

    def seen_many(self, subscriber: str, message_ids: list[str]) -> set[str]:
        query = sa.select(processed_messages.c.message_id).where(
            processed_messages.c.subscriber == subscriber,
            processed_messages.c.message_id.in_(message_ids),
        )
        with self.engine.connect() as connection:
            return set(connection.scalars(query))

    def mark(self, subscriber: str, message_id: str) -> bool:
        """Record the id; False if it was already there (a concurrent duplicate)."""
        try:
            with self.engine.begin() as connection:
                self._insert(connection, subscriber, message_id)
        except IntegrityError:
            return False
        return True

    def run_once(
        self, subscriber: str, message_id: str, effect: Callable[[sa.Connection], T]
    ) -> T:
        """Run ``effect`` and record the id in one transaction.

        Raises :class:`AlreadyProcessed` (and rolls ``effect`` back) when the
        id was recorded before.
        """
        try:
            with self.engine.begin() as connection:
                self._insert(connection, subscriber, message_id)
                return effect(connection)
        except IntegrityError as clash:
            if self.seen(subscriber, message_id):
                raise AlreadyProcessed(message_id) from clash
            raise

    def mark_many(self, keys: list[tuple[str, str]]) -> None:
        """Record many (subscriber, message id) pairs in one transaction; repeats are ignored."""
        now = time.time()
        with self.engine.begin() as connection:
            insert_or_ignore(connection, processed_messages, [
                {"subscriber": subscriber, "message_id": message_id, "processed_at": now}
                for subscriber, message_id in keys
            ])

    @staticmethod
    def _insert(connection: sa.Connection, subscriber: str, message_id: str) -> None:
        connection.execute(
            processed_messages.insert().values(
                subscriber=subscriber, message_id=message_id, processed_at=time.time()
            )
        )

    def forget_older_than(self, seconds: float) -> int:
        """Housekeeping: drop records past the redelivery horizon."""
        cutoff = time.time() - seconds
        with self.engine.begin() as connection:
            result = connection.execute(
                processed_messages.delete().where(processed_messages.c.processed_at < cutoff)
            )
            return result.rowcount
