"""The poison bound: a message that kills its consumer is not redelivered forever.

A handler that crashes its process (SIGKILL, a segfault, the OOM killer) never
settles the message, so the broker hands it back, marked redelivered, to the
next consumer, which dies too. Quorum queues stop that with their delivery
limit; classic queues and the embedded transports do not. So the bus counts
the redelivered deliveries of each attempt of a message per queue here, in SQL
(the count must survive the very crashes it counts), and the worker
dead-letters one redelivered more than ``ESB_DELIVERY__MAX_REDELIVERIES``
times. Only redelivered deliveries are counted: the first delivery of every
message costs nothing.

The attempt is part of the key because a retry is a new attempt, not a
redelivery: the count bounds the crashes of one attempt, the retry policy the
attempts.
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bus.db import METADATA

__all__ = ["Redeliveries", "poison_reason", "redeliveries"]

redeliveries = sa.Table(
    "esb_redeliveries",
    METADATA,
    sa.Column("queue", sa.String(255), primary_key=True),
    sa.Column("message_id", sa.String(255), primary_key=True),
    sa.Column("attempt", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("last_at", sa.Float, nullable=False),
)


def poison_reason(count: int) -> str:
    return (f"redelivered {count} times without being settled "
            "(the consumer died handling it?)")


class Redeliveries:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def count(self, queue: str, message_id: str, attempt: int) -> int:
        """One more redelivery of this attempt; returns how many there have been."""
        insert = (postgresql.insert if self.engine.dialect.name == "postgresql"
                  else sqlite.insert)(redeliveries)
        now = time.time()
        upsert = insert.values(
            queue=queue, message_id=message_id, attempt=attempt, count=1, last_at=now,
        ).on_conflict_do_update(
            index_elements=[redeliveries.c.queue, redeliveries.c.message_id,
                            redeliveries.c.attempt],
            set_={"count": redeliveries.c.count + 1, "last_at": now},
        ).returning(redeliveries.c.count)
        with self.engine.begin() as connection:
            return int(connection.execute(upsert).scalar_one())

    def forget_older_than(self, seconds: float) -> int:
        """Housekeeping: drop counts not touched for ``seconds``."""
        cutoff = time.time() - seconds
        with self.engine.begin() as connection:
            return connection.execute(
                redeliveries.delete().where(redeliveries.c.last_at < cutoff)).rowcount
