"""The durable embedded transport: a broker kept in SQLite or PostgreSQL (``sqla+...``).

Messages are rows, so they survive a restart, and every process opened on
the same SQLite file or PostgreSQL database shares one broker: publishers,
competing consumers, the CLI. URL options (removed before SQLAlchemy sees
the URL): ``poll_interval`` (seconds, default 0.05), how often an idle
consumer looks for messages published by other processes; ``lease``
(seconds, default 30), how long a consumer may go silent before it is taken
for dead and its unsettled messages are redelivered.

All database work runs on a worker thread (one for SQLite, whose writers are
serialised anyway, four for PostgreSQL), never on the event loop, except
:meth:`SqlTransport.describe`, which the base class defines as synchronous.
Queue statistics are read-only and run on a thread of their own, so metrics
and topology do not wait behind every consumer's polling (SQLite is in WAL
mode: a reader never waits for the writer).

Publishing routes against a cached copy of the bindings that is reloaded,
inside the inserting transaction, whenever any process has declared or
deleted something since (a version row), then inserts one row per target
queue. Publishes made while a write is in flight are committed together in
the next transaction (group commit): gathered publishes share one commit,
and each returns once its transaction is committed, which is its confirm.
Acks are batched the same way but not waited for, like ``basic.ack``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bus.db import create_engine
from bus.errors import ConfigurationError
from bus.transport.base import (
    Consumer,
    DeliveryCallback,
    OutgoingMessage,
    QueueSpec,
    QueueStats,
    Transport,
)
from bus.transport.sql.consumer import SqlConsumer
from bus.transport.sql.group_commit import GroupCommit
from bus.transport.sql.store import Store, Topology
from bus.transport.sql.turns import Sweeper

__all__ = ["SqlTransport"]

log = logging.getLogger("bus.transport.sql")

T = TypeVar("T")

_LOCAL: dict[tuple[str, str], set[SqlConsumer]] = {}
"""Consumers in this process by (database, queue): a publish here wakes them at once."""


@dataclass(frozen=True, slots=True)
class BrokerOptions:
    database: sa.URL
    poll_interval: float = 0.05
    lease: float = 30.0

    @classmethod
    def parse(cls, url: str) -> BrokerOptions:
        if not url.startswith("sqla+"):
            raise ConfigurationError(f"not a SQL broker URL: {url!r}")
        database = make_url(url.removeprefix("sqla+"))
        if database.get_backend_name() == "sqlite" and database.database in (None, "", ":memory:"):
            raise ConfigurationError("a SQL broker needs a database file; for an in-process "
                                     "broker use memory://")
        if database.drivername == "postgresql":
            database = database.set(drivername="postgresql+psycopg")
        query = database.query
        try:
            poll_interval = float(str(query.get("poll_interval", 0.05)))
            lease = float(str(query.get("lease", 30.0)))
        except ValueError as error:
            raise ConfigurationError(f"bad option in broker URL: {error}") from None
        if poll_interval <= 0 or lease <= 0:
            raise ConfigurationError("poll_interval and lease must be positive")
        database = database.difference_update_query(["poll_interval", "lease"])
        return cls(database, poll_interval, lease)


@dataclass(slots=True)
class _Publish:
    messages: Sequence[OutgoingMessage]
    done: asyncio.Future[None]
    exchange: str | None = None
    queue: str | None = None
    delay: float = 0.0


@dataclass(slots=True)
class _Written:
    errors: list[Exception | None]
    ready: set[str] = field(default_factory=set)
    delayed: dict[str, float] = field(default_factory=dict)


class SqlTransport(Transport):
    """A durable broker in a SQLite file or a PostgreSQL database."""

    schemes: ClassVar[tuple[str, ...]] = ("sqla+sqlite", "sqla+postgresql",
                                          "sqla+postgresql+psycopg")
    connection_errors: ClassVar[tuple[type[BaseException], ...]] = (
        ConnectionError, OSError, sa.exc.OperationalError, sa.exc.InterfaceError,
    )
    durable: ClassVar[bool] = True

    def __init__(self, url: str, *, confirm_window: int = 1000) -> None:
        super().__init__(url, confirm_window=confirm_window)
        self.options = BrokerOptions.parse(url)
        self.poll_interval = self.options.poll_interval
        self._key = self.options.database.render_as_string(hide_password=False)
        self._store: Store | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._reader: ThreadPoolExecutor | None = None
        self._publishes = GroupCommit(self._flush_publishes, confirm_window,
                                       lambda item: len(item.messages))
        self._acks: GroupCommit[tuple[str, int]] = GroupCommit(self._flush_acks, 1000)
        self._consumers: list[SqlConsumer] = []
        self._exclusive: set[str] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        self.sweeper = Sweeper(self)

    # -- plumbing ----------------------------------------------------------------

    @property
    def store(self) -> Store:
        if self._store is None:
            raise ConnectionError("SQL transport is not connected")
        return self._store

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` on the worker thread."""
        if self._executor is None:
            raise ConnectionError("SQL transport is not connected")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(function, *args))

    async def read(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)``, read-only, on the statistics thread."""
        if self._reader is None:
            raise ConnectionError("SQL transport is not connected")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader, functools.partial(function, *args))

    def wake(self, queue: str, delay: float = 0.0) -> None:
        """Tell this process's consumers of ``queue`` it has messages (now or after ``delay``)."""
        if delay > 0:
            loop = asyncio.get_running_loop()
            handle = loop.call_later(delay, self._wake_timer, queue)
            self._timers.add(handle)
            return
        self._tell_local(queue, SqlConsumer.wake)

    def turn_given_up(self, queue: str) -> None:
        """Tell this process's standby consumers of ``queue`` that its turn is free."""
        self._tell_local(queue, SqlConsumer.turn_given_up)

    def _tell_local(self, queue: str, method: Callable[[SqlConsumer], None]) -> None:
        for consumer in tuple(_LOCAL.get((self._key, queue), ())):
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if consumer.loop is running:
                method(consumer)
            elif not consumer.loop.is_closed():
                consumer.loop.call_soon_threadsafe(method, consumer)

    def _wake_timer(self, queue: str) -> None:
        self._timers = {timer for timer in self._timers if not timer.cancelled()
                        and timer.when() > asyncio.get_running_loop().time()}
        self.wake(queue)

    def consumer_stopped(self, consumer: SqlConsumer) -> None:
        local = _LOCAL.get((self._key, consumer.queue))
        if local is not None:
            local.discard(consumer)
            if not local:
                del _LOCAL[(self._key, consumer.queue)]
        if consumer in self._consumers:
            self._consumers.remove(consumer)

    # -- lifecycle ---------------------------------------------------------------

    async def connect(self) -> None:
        if self._store is not None:
            return
        database = self.options.database
        sqlite = database.get_backend_name() == "sqlite"
        workers = 1 if sqlite else 4
        engine_options: dict[str, Any] = {} if sqlite else {"pool_size": workers}
        engine = create_engine(database.render_as_string(hide_password=False), **engine_options)
        self._executor = ThreadPoolExecutor(max_workers=workers,
                                            thread_name_prefix="esb-sql-broker")
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="esb-sql-stats")
        self._store = store = Store(engine, self.options.lease)
        try:
            await self.run(store.create_tables)
        except BaseException:
            await self._shutdown()
            raise

    async def close(self) -> None:
        if self._store is None:
            return
        for consumer in list(self._consumers):
            await consumer.cancel()
        await self._publishes.wait()
        await self._acks.wait()
        for queue in sorted(self._exclusive):
            try:
                await self.delete_queue(queue)
            except Exception as error:
                log.warning("could not delete exclusive queue %s: %s", queue, error)
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        await self.sweeper.stop()
        await self._shutdown()

    async def _shutdown(self) -> None:
        store, executor = self._store, self._executor
        if store is not None and executor is not None:
            await asyncio.get_running_loop().run_in_executor(executor, store.engine.dispose)
        if executor is not None:
            executor.shutdown(wait=True)
        if self._reader is not None:
            self._reader.shutdown(wait=True)
        self._store = self._executor = self._reader = None

    async def healthy(self) -> bool:
        if self._store is None:
            return False
        try:
            await self.run(self.store.ping)
        except Exception:
            return False
        return True

    # -- topology ----------------------------------------------------------------

    async def declare_exchange(self, name: str) -> None:
        await self.run(self.store.declare_exchange, name)

    async def declare_queue(self, spec: QueueSpec, exchange: str | None = None) -> None:
        await self.run(self.store.declare_queue, spec, exchange)
        if spec.exclusive:
            self._exclusive.add(spec.name)

    async def delete_queue(self, queue: str) -> None:
        await self.run(self.store.delete_queue, queue)
        self._exclusive.discard(queue)

    def owns(self, queue: str) -> bool:
        """Whether ``queue`` is an exclusive queue declared through this transport."""
        return queue in self._exclusive

    # -- publishing --------------------------------------------------------------

    async def _submit(self, item: _Publish) -> None:
        self.store  # noqa: B018 - raises when not connected
        self._publishes.add(item)
        await item.done

    def _new(self, messages: Sequence[OutgoingMessage], **target: Any) -> _Publish:
        return _Publish(messages, asyncio.get_running_loop().create_future(), **target)

    async def publish(self, exchange: str, message: OutgoingMessage) -> None:
        await self._submit(self._new((message,), exchange=exchange))

    async def publish_many(self, exchange: str, messages: Sequence[OutgoingMessage]) -> None:
        if messages:
            await self._submit(self._new(tuple(messages), exchange=exchange))

    async def send_to_queue(self, queue: str, message: OutgoingMessage, delay: float = 0) -> None:
        await self._submit(self._new((message,), queue=queue, delay=max(delay, 0.0)))

    def _write(self, batch: list[_Publish]) -> _Written:
        """Route and insert a batch in one transaction (worker thread)."""
        written = _Written([])

        def route(topology: Topology) -> list[dict[str, Any]]:
            now = time.time()
            rows: list[dict[str, Any]] = []
            for item in batch:
                try:
                    targets = _targets(topology, item)
                    for message in item.messages:
                        json.dumps(dict(message.headers))
                except (LookupError, TypeError, ValueError) as error:
                    written.errors.append(error)
                    continue
                written.errors.append(None)
                available_at = now + item.delay
                for message, queues in zip(item.messages, targets, strict=True):
                    for queue in queues:
                        rows.append(_row(queue, message, available_at, now))
                        if item.delay > 0:
                            written.delayed[queue] = max(item.delay,
                                                         written.delayed.get(queue, 0.0))
                        else:
                            written.ready.add(queue)
            return rows

        self.store.publish(route)
        return written

    async def _flush_publishes(self, batch: list[_Publish]) -> None:
        try:
            written = await self.run(self._write, batch)
        except Exception as error:
            for item in batch:
                if not item.done.done():
                    item.done.set_exception(error)
            return
        for item, failure in zip(batch, written.errors, strict=True):
            if item.done.done():
                continue
            if failure is None:
                item.done.set_result(None)
            else:
                item.done.set_exception(failure)
        for queue in written.ready:
            self.wake(queue)
        for queue, delay in written.delayed.items():
            self.wake(queue, delay)

    # -- consuming ---------------------------------------------------------------

    def ack_later(self, owner: str, row_id: int) -> None:
        self._acks.add((owner, row_id))

    async def flush_acks(self) -> None:
        """Until the acks made before this call are committed (not the ones made since)."""
        await self._acks.flushed()

    async def _flush_acks(self, batch: list[tuple[str, int]]) -> None:
        try:
            deleted = await self.run(self.store.delete, batch)
        except Exception as error:
            log.warning("could not commit %d acks; those messages return after their lease: %s",
                        len(batch), error)
            return
        if deleted < len(batch):
            log.debug("%d acks came after their lease was lost", len(batch) - deleted)

    async def consume(
        self, queue: str, callback: DeliveryCallback, *, prefetch: int = 100,
        paused: bool = False,
    ) -> Consumer:
        dead_letters = await self.run(self.store.dead_letters, queue)
        single_active = await self.run(self.store.turns.single_active, queue)
        consumer = SqlConsumer(self, queue, callback, prefetch, dead_letters=dead_letters,
                               single_active=single_active, paused=paused)
        if consumer.registered:
            await self.run(self.store.register, consumer.owner, queue)
        self._consumers.append(consumer)
        _LOCAL.setdefault((self._key, queue), set()).add(consumer)
        consumer.start()
        return consumer

    async def queue_stats(self, queue: str) -> QueueStats:
        ready, consumers = await self.read(self.store.stats, queue)
        return QueueStats(queue, ready, consumers)

    async def queue_stats_many(self, queues: Sequence[str]) -> dict[str, QueueStats | Exception]:
        """All in one short read on the statistics thread (see ``Store.stats_many``)."""
        found = await self.read(self.store.stats_many, queues)
        answers: dict[str, QueueStats | Exception] = {}
        for queue in queues:
            counts = found.get(queue)
            answers[queue] = (LookupError(f"queue {queue!r} is not declared") if counts is None
                              else QueueStats(queue, *counts))
        return answers

    async def purge(self, queue: str) -> int:
        return await self.run(self.store.purge, queue)

    def describe(self) -> dict[str, Any]:
        """Read straight from the database on the calling thread (for ``esb topology``)."""
        described = super().describe()
        if self._store is None:
            return described
        return {**described, **self._store.describe()}


def _targets(topology: Topology, item: _Publish) -> list[tuple[str, ...]]:
    """The queues of each message of ``item``; LookupError for an undeclared name."""
    if item.exchange is not None:
        return [topology.route(item.exchange, m.routing_key) for m in item.messages]
    assert item.queue is not None
    if item.queue not in topology.queues:
        raise LookupError(f"queue {item.queue!r} is not declared")
    return [(item.queue,)] * len(item.messages)


def _row(queue: str, message: OutgoingMessage, available_at: float, now: float) -> dict[str, Any]:
    return {
        "queue": queue,
        "message_id": message.message_id,
        "routing_key": message.routing_key,
        "body": message.body,
        "headers": dict(message.headers),
        "correlation_id": message.correlation_id,
        "reply_to": message.reply_to,
        "type": message.type,
        "content_type": message.content_type,
        "available_at": available_at,
        "redelivered": False,
        "lease_owner": None,
        "lease_until": None,
        "created_at": now,
    }
