"""Who may consume, on the SQL broker: single active consumers and exclusive queues.

**Ordered queues** (``QueueSpec.single_active_consumer``, RabbitMQ's single
active consumer): a row per queue in ``esb_broker_active_consumers`` says whose
turn it is and until when. Only the consumer holding the turn claims messages;
it renews the turn with its message leases (``Store.renew``), gives it up when
it stops (``Store.unregister``), and another takes it when it is free or has
lapsed, the dead one's unsettled messages first.

**Exclusive queues** (reply queues, per-instance subscriptions) are deleted by
the transport that declared them when it closes. A process that dies cannot:
once such a queue has had no live consumer for ``ABANDONED_AFTER_LEASES``
leases, any other process's consumer heartbeat deletes it (:class:`Sweeper`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

import sqlalchemy as sa

from bus.transport.sql.tables import ACTIVE_CONSUMERS, CONSUMERS, MESSAGES, QUEUES

if TYPE_CHECKING:
    from bus.transport.sql.transport import SqlTransport

__all__ = ["ABANDONED_AFTER_LEASES", "Sweeper", "Turns"]

log = logging.getLogger("bus.transport.sql")

ABANDONED_AFTER_LEASES = 10
"""Leases without a live consumer after which an exclusive queue is taken for abandoned."""


class Turns:
    def __init__(self, engine: sa.Engine, lease: float) -> None:
        self.engine = engine
        self.lease = lease

    def single_active(self, queue: str) -> bool:
        """Whether ``queue`` takes one consumer at a time (declared so by any process)."""
        with self.engine.connect() as connection:
            return connection.scalar(sa.select(ACTIVE_CONSUMERS.c.queue)
                                     .where(ACTIVE_CONSUMERS.c.queue == queue)) is not None

    def take(self, queue: str, owner: str) -> bool:
        """Become (or stay) the active consumer of ``queue`` if the turn is free or lapsed.

        Taking it over from a consumer that went silent also ends that consumer's
        message leases, so its unsettled messages come next, in their order, not
        after the lease has run out under the newcomer.
        """
        now = time.time()
        turn = ACTIVE_CONSUMERS.c
        with self.engine.begin() as connection:
            taken = connection.execute(
                sa.update(ACTIVE_CONSUMERS)
                .where(turn.queue == queue,
                       sa.or_(turn.owner.is_(None), turn.owner == owner, turn.lease_until < now))
                .values(owner=owner, lease_until=now + self.lease)
            ).rowcount == 1
            if taken:
                connection.execute(
                    sa.update(MESSAGES)
                    .where(MESSAGES.c.queue == queue, MESSAGES.c.lease_owner.is_not(None),
                           MESSAGES.c.lease_owner != owner, MESSAGES.c.lease_until.is_not(None))
                    .values(lease_until=None)
                )
        return taken

    def abandoned_queues(self, grace: float) -> list[str]:
        """Exclusive queues older than ``grace`` seconds with no consumer alive within it:
        their process died without deleting them."""
        cutoff = time.time() - grace
        alive = (sa.select(CONSUMERS.c.queue)
                 .where(CONSUMERS.c.heartbeat_at >= cutoff).scalar_subquery())
        with self.engine.connect() as connection:
            return list(connection.scalars(
                sa.select(QUEUES.c.name).where(QUEUES.c.exclusive.is_(True),
                                               QUEUES.c.created_at < cutoff,
                                               QUEUES.c.name.not_in(alive))
            ))


class Sweeper:
    """Deletes abandoned exclusive queues, in the background, at most once a lease."""

    def __init__(self, transport: SqlTransport) -> None:
        self.transport = transport
        self._next = 0.0
        self._task: asyncio.Task[None] | None = None

    def poke(self) -> None:
        """Sweep now unless a sweep ran within the last lease (called by heartbeats)."""
        now = time.monotonic()
        if now < self._next or (self._task is not None and not self._task.done()):
            return
        self._next = now + self.transport.options.lease
        self._task = asyncio.get_running_loop().create_task(self._sweep(), name="esb-sql-sweep")

    async def stop(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _sweep(self) -> None:
        transport = self.transport
        try:
            abandoned = await transport.run(transport.store.turns.abandoned_queues,
                                            ABANDONED_AFTER_LEASES * transport.options.lease)
            for queue in abandoned:
                if not transport.owns(queue):
                    await transport.run(transport.store.delete_queue, queue)
                    log.info("deleted exclusive queue %s: its process is gone", queue)
        except Exception as error:
            log.warning("could not delete abandoned exclusive queues: %s", error)
