"""The broker's storage primitives: short synchronous transactions on one engine.

Every method runs on the transport's worker thread, never on the event loop
(``describe`` aside). Each is one statement or a short transaction. pysqlite
begins a transaction at its first write, so SQLite takes its write lock with
that statement, waiting on ``busy_timeout``, and never has to upgrade a read
snapshot (which fails at once instead of waiting).

Claiming is the heart of it. On PostgreSQL a consumer locks the next ready
rows with ``SELECT ... FOR UPDATE SKIP LOCKED`` and leases them in the same
transaction, so competing consumers never wait on or see each other's rows.
SQLite serialises writers, so one ``UPDATE ... WHERE id IN (SELECT ... LIMIT
n) RETURNING`` is already atomic.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bus.transport.base import QueueSpec, dead_letter_queue
from bus.transport.patterns import topic_matches
from bus.transport.sql.tables import (
    ACTIVE_CONSUMERS,
    BINDINGS,
    CONSUMERS,
    EXCHANGES,
    MESSAGES,
    METADATA,
    QUEUES,
    TOPOLOGY,
)
from bus.transport.sql.turns import Turns

__all__ = ["Store", "Topology"]

_DELIVERED = (
    MESSAGES.c.id, MESSAGES.c.message_id, MESSAGES.c.routing_key, MESSAGES.c.body,
    MESSAGES.c.headers, MESSAGES.c.correlation_id, MESSAGES.c.reply_to, MESSAGES.c.type,
    MESSAGES.c.redelivered,
)
"""What a claim returns: a delivery's fields."""


_IN_CHUNK = 500
"""Names per ``IN (...)`` list, well under SQLite's bound-parameter limit."""


def _unleased(now: float) -> sa.ColumnElement[bool]:
    return sa.or_(MESSAGES.c.lease_until.is_(None), MESSAGES.c.lease_until < now)


def _ready(queue: str, now: float) -> sa.ColumnElement[bool]:
    return sa.and_(MESSAGES.c.queue == queue, MESSAGES.c.available_at <= now, _unleased(now))


class Topology:
    """A snapshot of exchanges, bindings and queues, with memoised routes."""

    def __init__(
        self, bindings: Mapping[str, Sequence[tuple[str, str]]], queues: Mapping[str, bool],
        version: int | None = None,
    ) -> None:
        self.bindings = bindings
        self.queues = queues
        """Queue name to whether it dead-letters."""
        self.version = version
        self._routes: dict[tuple[str, str], tuple[str, ...]] = {}

    def route(self, exchange: str, routing_key: str) -> tuple[str, ...]:
        if exchange not in self.bindings:
            raise LookupError(f"exchange {exchange!r} is not declared")
        key = (exchange, routing_key)
        route = self._routes.get(key)
        if route is None:
            route = tuple(sorted({queue for pattern, queue in self.bindings[exchange]
                                  if topic_matches(pattern, routing_key)}))
            self._routes[key] = route
        return route


class Store:
    def __init__(self, engine: sa.Engine, lease: float) -> None:
        self.engine = engine
        self.lease = lease
        self.postgres = engine.dialect.name == "postgresql"
        self.turns = Turns(engine, lease)
        self.topology = Topology({}, {}, version=-1)
        """The bindings as of the last publish; only the publishing thread replaces it."""

    # -- topology ---------------------------------------------------------------

    def create_tables(self) -> None:
        try:
            METADATA.create_all(self.engine)
        except sa.exc.DBAPIError:
            # Another process created them between the check and the CREATE.
            METADATA.create_all(self.engine)
        with self.engine.begin() as connection:
            connection.execute(self._insert_ignore(TOPOLOGY), [{"id": 1, "version": 0}])

    def load_topology(self, connection: sa.Connection | None = None) -> Topology:
        if connection is None:
            with self.engine.connect() as connection:
                return self.load_topology(connection)
        version = connection.scalar(sa.select(TOPOLOGY.c.version))
        exchanges = connection.scalars(sa.select(EXCHANGES.c.name)).all()
        rows = connection.execute(
            sa.select(BINDINGS.c.exchange, BINDINGS.c.pattern, BINDINGS.c.queue)
        ).all()
        queues = connection.execute(sa.select(QUEUES.c.name, QUEUES.c.dead_letter)).all()
        bindings: dict[str, list[tuple[str, str]]] = {name: [] for name in exchanges}
        for exchange, pattern, queue in rows:
            bindings.setdefault(exchange, []).append((pattern, queue))
        return Topology(bindings, {name: bool(dead) for name, dead in queues}, version)

    def _changed(self, connection: sa.Connection) -> None:
        connection.execute(sa.update(TOPOLOGY).values(version=TOPOLOGY.c.version + 1))

    def dead_letters(self, queue: str) -> bool:
        """Whether ``queue`` dead-letters; LookupError when it is not declared."""
        with self.engine.connect() as connection:
            found = connection.scalar(sa.select(QUEUES.c.dead_letter).where(QUEUES.c.name == queue))
        if found is None:
            raise LookupError(f"queue {queue!r} is not declared")
        return bool(found)

    def _insert_ignore(self, table: sa.Table) -> Any:
        dialect = postgresql if self.postgres else sqlite
        return dialect.insert(table).on_conflict_do_nothing()

    def declare_exchange(self, name: str) -> None:
        with self.engine.begin() as connection:
            self._changed(connection)
            connection.execute(self._insert_ignore(EXCHANGES), [{"name": name}])

    def declare_queue(self, spec: QueueSpec, exchange: str | None) -> None:
        now = time.time()
        queues = [{"name": spec.name, "dead_letter": spec.dead_letter, "exclusive": spec.exclusive,
                   "retry_delays": list(spec.retry_delays), "created_at": now}]
        if spec.dead_letter:
            queues.append({"name": dead_letter_queue(spec.name), "dead_letter": False,
                           "exclusive": False, "retry_delays": [], "created_at": now})
        with self.engine.begin() as connection:
            self._changed(connection)
            connection.execute(self._insert_ignore(QUEUES), queues)
            if exchange is not None:
                connection.execute(self._insert_ignore(EXCHANGES), [{"name": exchange}])
                if spec.bindings:
                    connection.execute(self._insert_ignore(BINDINGS), [
                        {"exchange": exchange, "pattern": pattern, "queue": spec.name}
                        for pattern in spec.bindings
                    ])
            if spec.single_active_consumer:
                connection.execute(self._insert_ignore(ACTIVE_CONSUMERS), [
                    {"queue": spec.name, "owner": None, "lease_until": 0.0}])

    def delete_queue(self, queue: str) -> None:
        names = [queue, dead_letter_queue(queue)]
        with self.engine.begin() as connection:
            self._changed(connection)
            connection.execute(sa.delete(MESSAGES).where(MESSAGES.c.queue.in_(names)))
            connection.execute(sa.delete(QUEUES).where(QUEUES.c.name.in_(names)))
            connection.execute(sa.delete(BINDINGS).where(BINDINGS.c.queue.in_(names)))
            connection.execute(sa.delete(ACTIVE_CONSUMERS)
                               .where(ACTIVE_CONSUMERS.c.queue.in_(names)))

    # -- messages ----------------------------------------------------------------

    def publish(self, route: Callable[[Topology], Sequence[Mapping[str, Any]]]) -> None:
        """Insert the rows ``route`` makes from the current bindings, in one transaction.

        Committed means confirmed. The bindings are reloaded first when another
        transaction (of any process) declared or deleted something since.
        """
        with self.engine.begin() as connection:
            version = connection.scalar(sa.select(TOPOLOGY.c.version))
            if version != self.topology.version:
                self.topology = self.load_topology(connection)
            rows = route(self.topology)
            if rows:
                connection.execute(MESSAGES.insert(), rows)

    def claim(self, queue: str, owner: str, limit: int) -> list[sa.Row[Any]]:
        """Lease up to ``limit`` ready messages, oldest first; expired leases count as ready."""
        now = time.time()
        oldest = (sa.select(MESSAGES.c.id).where(_ready(queue, now))
                  .order_by(MESSAGES.c.id).limit(limit))
        lease = {
            "lease_owner": owner,
            "lease_until": now + self.lease,
            # A row that still names an owner was leased and never settled: its
            # consumer died, so this is a redelivery.
            "redelivered": sa.case((MESSAGES.c.lease_owner.is_(None), MESSAGES.c.redelivered),
                                   else_=sa.true()),
        }
        with self.engine.begin() as connection:
            if self.postgres:
                ids = connection.scalars(oldest.with_for_update(skip_locked=True)).all()
                if not ids:
                    return []
                chosen: sa.ColumnElement[bool] = MESSAGES.c.id.in_(ids)
            else:
                chosen = MESSAGES.c.id.in_(oldest.scalar_subquery())
            rows = connection.execute(
                sa.update(MESSAGES).where(chosen).values(lease).returning(*_DELIVERED)
            ).all()
        # RETURNING has no order of its own.
        return sorted(rows, key=lambda row: int(row.id))

    def _mine(self, owner: str, ids: Iterable[int]) -> sa.ColumnElement[bool]:
        return sa.and_(MESSAGES.c.id.in_(list(ids)), MESSAGES.c.lease_owner == owner)

    def renew(self, owner: str, ids: Sequence[int], turn: str | None = None
              ) -> tuple[set[int], bool]:
        """Extend this consumer's leases, its heartbeat and its ``turn`` as the active
        consumer of that queue; returns the ids still leased, and whether the turn is."""
        now = time.time()
        with self.engine.begin() as connection:
            connection.execute(sa.update(CONSUMERS).where(CONSUMERS.c.id == owner)
                               .values(heartbeat_at=now))
            kept_turn = turn is not None and connection.execute(
                sa.update(ACTIVE_CONSUMERS)
                .where(ACTIVE_CONSUMERS.c.queue == turn, ACTIVE_CONSUMERS.c.owner == owner)
                .values(lease_until=now + self.lease)
            ).rowcount == 1
            if not ids:
                return set(), kept_turn
            return set(connection.scalars(
                sa.update(MESSAGES).where(self._mine(owner, ids))
                .values(lease_until=now + self.lease).returning(MESSAGES.c.id)
            )), kept_turn

    def delete(self, leases: Sequence[tuple[str, int]]) -> int:
        """Ack a batch of (owner, id); returns how many were still leased to their owner."""
        by_owner: dict[str, list[int]] = {}
        for owner, row_id in leases:
            by_owner.setdefault(owner, []).append(row_id)
        deleted = 0
        with self.engine.begin() as connection:
            for owner, ids in by_owner.items():
                deleted += connection.execute(
                    sa.delete(MESSAGES).where(self._mine(owner, ids))
                ).rowcount
        return deleted

    def release(self, owner: str, delivered: Sequence[int], undelivered: Sequence[int]) -> int:
        """Give leased rows back at once, in their place; delivered ones are redelivered."""
        released = 0
        with self.engine.begin() as connection:
            for ids, values in ((delivered, {"redelivered": True}), (undelivered, {})):
                if ids:
                    released += connection.execute(
                        sa.update(MESSAGES).where(self._mine(owner, ids))
                        .values(lease_owner=None, lease_until=None, **values)
                    ).rowcount
        return released

    def requeue(self, owner: str, row_id: int, headers: Mapping[str, Any] | None = None,
                available_at: float | None = None) -> bool:
        """Back into the queue in its place (nack: redelivered), or later with new headers
        (retry: a new attempt, not a redelivery, as from a RabbitMQ retry tier)."""
        values: dict[str, Any] = {"lease_owner": None, "lease_until": None,
                                  "redelivered": headers is None,
                                  "available_at": time.time() if available_at is None
                                  else available_at}
        if headers is not None:
            values["headers"] = dict(headers)
        with self.engine.begin() as connection:
            result = connection.execute(
                sa.update(MESSAGES).where(self._mine(owner, [row_id])).values(values)
            )
        return result.rowcount == 1

    def dead_letter(self, owner: str, row_id: int, target: str | None,
                    headers: Mapping[str, Any]) -> bool:
        """Move the row to ``target`` with the death headers; drop it when there is none."""
        mine = self._mine(owner, [row_id])
        statement: sa.Executable
        if target is None:
            statement = sa.delete(MESSAGES).where(mine)
        else:
            statement = sa.update(MESSAGES).where(mine).values(
                queue=target, headers=dict(headers), available_at=time.time(),
                redelivered=False, lease_owner=None, lease_until=None,
            )
        with self.engine.begin() as connection:
            result = connection.execute(statement)
        return result.rowcount == 1

    # -- counting ----------------------------------------------------------------

    def stats(self, queue: str) -> tuple[int, int]:
        """Ready messages and live consumers (heartbeat within a lease) of ``queue``."""
        self.dead_letters(queue)
        now = time.time()
        with self.engine.connect() as connection:
            ready = connection.scalar(
                sa.select(sa.func.count()).select_from(MESSAGES).where(_ready(queue, now))
            )
            consumers = connection.scalar(
                sa.select(sa.func.count()).select_from(CONSUMERS)
                .where(CONSUMERS.c.queue == queue, CONSUMERS.c.heartbeat_at >= now - self.lease)
            )
        return int(ready or 0), int(consumers or 0)

    def stats_many(self, queues: Sequence[str]) -> dict[str, tuple[int, int] | None]:
        """:meth:`stats` of many queues in one read: None for a queue not declared.

        Three statements whatever the number of queues (per chunk of
        ``_IN_CHUNK`` names): which are declared, then ready messages and live
        consumers, each counted with one GROUP BY.
        """
        now = time.time()
        answers: dict[str, tuple[int, int] | None] = {}
        names = list(dict.fromkeys(queues))
        with self.engine.connect() as connection:
            for start in range(0, len(names), _IN_CHUNK):
                chunk = names[start:start + _IN_CHUNK]
                declared = set(connection.scalars(
                    sa.select(QUEUES.c.name).where(QUEUES.c.name.in_(chunk))
                ))
                ready: dict[str, int] = dict(connection.execute(
                    sa.select(MESSAGES.c.queue, sa.func.count())
                    .where(MESSAGES.c.queue.in_(chunk), MESSAGES.c.available_at <= now,
                           _unleased(now))
                    .group_by(MESSAGES.c.queue)
                ).all())
                consumers: dict[str, int] = dict(connection.execute(
                    sa.select(CONSUMERS.c.queue, sa.func.count())
                    .where(CONSUMERS.c.queue.in_(chunk),
                           CONSUMERS.c.heartbeat_at >= now - self.lease)
                    .group_by(CONSUMERS.c.queue)
                ).all())
                for name in chunk:
                    answers[name] = ((int(ready.get(name, 0)), int(consumers.get(name, 0)))
                                     if name in declared else None)
        return answers

    def purge(self, queue: str) -> int:
        self.dead_letters(queue)
        with self.engine.begin() as connection:
            result = connection.execute(sa.delete(MESSAGES).where(_ready(queue, time.time())))
        return result.rowcount

    def register(self, owner: str, queue: str) -> None:
        now = time.time()
        with self.engine.begin() as connection:
            connection.execute(sa.insert(CONSUMERS).values(
                id=owner, queue=queue, host=socket.gethostname()[:255], pid=os.getpid(),
                started_at=now, heartbeat_at=now,
            ))
            # Consumers of crashed processes stop counting after a lease; forget
            # them for good after ten.
            connection.execute(sa.delete(CONSUMERS)
                               .where(CONSUMERS.c.heartbeat_at < now - 10 * self.lease))

    def unregister(self, owner: str) -> None:
        """Forget the consumer, and give up its turn where it was the active one."""
        with self.engine.begin() as connection:
            connection.execute(sa.delete(CONSUMERS).where(CONSUMERS.c.id == owner))
            connection.execute(sa.update(ACTIVE_CONSUMERS)
                               .where(ACTIVE_CONSUMERS.c.owner == owner)
                               .values(owner=None, lease_until=0.0))

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    def describe(self) -> dict[str, Any]:
        now = time.time()
        with self.engine.connect() as connection:
            topology = self.load_topology(connection)
            depths: dict[str, int] = dict(connection.execute(
                sa.select(MESSAGES.c.queue, sa.func.count())
                .where(MESSAGES.c.available_at <= now, _unleased(now))
                .group_by(MESSAGES.c.queue)
            ).all())
        return {
            "exchanges": {name: [{"pattern": p, "queue": q} for p, q in bindings]
                          for name, bindings in topology.bindings.items()},
            "queues": {name: int(depths.get(name, 0)) for name in sorted(topology.queues)},
        }
