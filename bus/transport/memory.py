"""The in-process broker: the embedded default (``memory://``).

It keeps RabbitMQ's semantics rather than skipping them: topic routing,
prefetch, unacked tracking, requeue with the redelivered flag, delayed retry,
dead-letter queues with the reason, single active consumers, exclusive queues
(deleted when their transport closes). Nothing survives the process.

``memory://`` and ``memory://name`` name brokers; transports opened with the
same URL in one process (and one event loop) share one broker, so a publisher
and a consumer built separately talk to each other, and tests isolate
themselves with a unique name.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from bus.transport.base import (
    ATTEMPT_HEADER,
    DEATH_HEADERS,
    Consumer,
    Delivery,
    DeliveryCallback,
    OutgoingMessage,
    QueueSpec,
    QueueStats,
    Transport,
    dead_letter_queue,
)
from bus.transport.patterns import topic_matches

__all__ = ["MemoryTransport"]


@dataclass(slots=True)
class _Stored:
    """A message handed back (requeued): a first delivery waits as its bare message."""

    message: OutgoingMessage
    redelivered: bool = False


@dataclass(slots=True)
class _Queue:
    spec: QueueSpec
    ready: deque[_Stored | OutgoingMessage] = field(default_factory=deque)
    """A message as sent (first delivery), or wrapped with its redelivered flag."""
    waiters: list[asyncio.Future[None]] = field(default_factory=list)
    consumers: int = 0
    attached: list[_MemoryConsumer] = field(default_factory=list)
    """Consumers in the order they came: with a single active consumer, the first takes all."""


class _Broker:
    def __init__(self) -> None:
        self.exchanges: dict[str, list[tuple[str, str]]] = {}
        self.queues: dict[str, _Queue] = {}
        self.routes: dict[tuple[str, str], list[str]] = {}
        """(exchange, routing key) -> its queues, worked out once; cleared when bindings change."""

    def route(self, exchange: str, routing_key: str) -> list[str]:
        key = (exchange, routing_key)
        queues = self.routes.get(key)
        if queues is None:
            if exchange not in self.exchanges:
                raise LookupError(f"exchange {exchange!r} is not declared")
            queues = sorted({queue for pattern, queue in self.exchanges[exchange]
                             if topic_matches(pattern, routing_key)})
            if len(self.routes) >= _ROUTES_KEPT:  # many distinct keys: start over, stay bounded
                self.routes.clear()
            self.routes[key] = queues
        return queues

    def queue(self, name: str) -> _Queue:
        try:
            return self.queues[name]
        except KeyError:
            raise LookupError(f"queue {name!r} is not declared") from None

    def put(self, queue_name: str, stored: _Stored | OutgoingMessage, *,
            front: bool = False) -> None:
        queue = self.queue(queue_name)
        if front:
            queue.ready.appendleft(stored)
        else:
            queue.ready.append(stored)
        _notify(queue)


def _notify(queue: _Queue) -> None:
    """Wake every consumer waiting on the queue."""
    waiters, queue.waiters = queue.waiters, []
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(None)


async def _wait(queue: _Queue) -> None:
    waiter = asyncio.get_running_loop().create_future()
    queue.waiters.append(waiter)
    await waiter


_BROKERS: dict[tuple[str, int], _Broker] = {}
_ROUTES_KEPT = 10_000


class _MemoryDelivery(Delivery):
    __slots__ = ("_consumer",)

    def __init__(self, consumer: _MemoryConsumer, stored: _Stored | OutgoingMessage) -> None:
        # Delivery.__init__'s fields set here, without its keyword call: one per message
        if isinstance(stored, _Stored):
            message, self.redelivered = stored.message, stored.redelivered
        else:
            message, self.redelivered = stored, False
        self.body = message.body
        self.queue = consumer.queue_name
        self.routing_key = message.routing_key
        self.message_id = message.message_id
        self.headers = message.headers
        self.correlation_id = message.correlation_id
        self.reply_to = message.reply_to
        self.type = message.type
        self.settled = False
        self._consumer = consumer

    def _release(self) -> bool:
        """Settle; False when the consumer is gone and the message was requeued."""
        self._settle()
        return self._consumer.release(self)

    async def ack(self) -> None:
        self._release()

    async def nack(self, *, requeue: bool = True) -> None:
        if not self._release():
            return
        broker = self._consumer.broker
        if requeue:
            broker.put(self.queue, _Stored(self.as_outgoing(), redelivered=True), front=True)
        else:
            self._to_dead_letter("rejected", "")

    async def retry(self, delay: float) -> None:
        if not self._release():
            return
        # A new attempt, not a redelivery (as RabbitMQ hands it back from a retry tier).
        again = self.as_outgoing(**{ATTEMPT_HEADER: self.attempt + 1})
        loop = asyncio.get_running_loop()
        loop.call_later(max(delay, 0.0), self._consumer.broker.put, self.queue, again)

    async def dead_letter(self, reason: str, error: str = "") -> None:
        if self._release():
            self._to_dead_letter(reason, error)

    def _to_dead_letter(self, reason: str, error: str) -> None:
        broker = self._consumer.broker
        queue = broker.queue(self.queue)
        if not queue.spec.dead_letter:
            return
        dead = self.as_outgoing(**{
            DEATH_HEADERS["reason"]: reason,
            DEATH_HEADERS["error"]: error,
            DEATH_HEADERS["queue"]: self.queue,
            DEATH_HEADERS["at"]: f"{time.time():.3f}",
        })
        broker.put(dead_letter_queue(self.queue), dead)


class _MemoryConsumer(Consumer):
    def __init__(
        self, broker: _Broker, queue_name: str, callback: DeliveryCallback, prefetch: int,
        *, paused: bool = False,
    ) -> None:
        self.broker = broker
        self.queue_name = queue_name
        self.callback = callback
        self.prefetch = prefetch
        self.unsettled: set[_MemoryDelivery] = set()
        self.running = True
        self.paused = paused
        self.task = asyncio.get_running_loop().create_task(self._run())

    def release(self, delivery: _MemoryDelivery) -> bool:
        if delivery not in self.unsettled:
            return False
        self.unsettled.discard(delivery)
        queue = self.broker.queues.get(self.queue_name)
        if queue is not None and len(self.unsettled) == self.prefetch - 1:
            _notify(queue)
        return True

    def _can_take(self, queue: _Queue) -> bool:
        if not self.running or self.paused:
            return True
        return (bool(queue.ready) and len(self.unsettled) < self.prefetch
                and (not queue.spec.single_active_consumer or queue.attached[0] is self))

    async def _run(self) -> None:
        queue = self.broker.queue(self.queue_name)
        queue.consumers += 1
        queue.attached.append(self)
        try:
            while True:
                while not self._can_take(queue):
                    await _wait(queue)
                if not self.running or self.paused:
                    return
                delivery = _MemoryDelivery(self, queue.ready.popleft())
                self.unsettled.add(delivery)
                await self.callback(delivery)
        finally:
            queue.consumers -= 1
            if self.running:  # died or paused, not cancelled (cancel detaches after giving back)
                self._detach(queue)

    def _detach(self, queue: _Queue) -> None:
        if self in queue.attached:
            queue.attached.remove(self)
            _notify(queue)  # the next consumer may be the active one now

    async def pause(self) -> None:
        """Leave the queue (a single active consumer's turn passes on); deliveries held
        stay settleable."""
        if not self.running or self.paused:
            return
        self.paused = True
        queue = self.broker.queues.get(self.queue_name)
        if queue is not None:
            _notify(queue)
        await asyncio.gather(self.task, return_exceptions=True)

    async def resume(self) -> None:
        if not self.running or not self.paused:
            return
        self.paused = False
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def cancel(self) -> None:
        if not self.running:
            return
        self.running = False
        queue = self.broker.queues.get(self.queue_name)
        if queue is None:  # deleted under us: nothing to wake, nowhere to requeue
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.unsettled.clear()
            return
        _notify(queue)
        await asyncio.gather(self.task, return_exceptions=True)
        for delivery in sorted(self.unsettled, key=lambda d: d.message_id, reverse=True):
            stored = _Stored(delivery.as_outgoing(), redelivered=True)
            self.broker.put(self.queue_name, stored, front=True)
        self.unsettled.clear()
        self._detach(queue)


class MemoryTransport(Transport):
    """In-process broker with real ack, requeue, retry and dead-letter semantics."""

    schemes: ClassVar[tuple[str, ...]] = ("memory",)
    durable: ClassVar[bool] = False

    def __init__(self, url: str, *, confirm_window: int = 1000) -> None:
        super().__init__(url, confirm_window=confirm_window)
        self._broker: _Broker | None = None
        self._consumers: list[_MemoryConsumer] = []
        self._exclusive: set[str] = set()
        """Queues that live as long as this transport is open."""

    @property
    def broker(self) -> _Broker:
        if self._broker is None:
            raise ConnectionError("memory transport is not connected")
        return self._broker

    async def connect(self) -> None:
        key = (self.url, id(asyncio.get_running_loop()))
        self._broker = _BROKERS.setdefault(key, _Broker())

    async def close(self) -> None:
        for consumer in self._consumers:
            await consumer.cancel()
        self._consumers.clear()
        if self._broker is not None:
            for queue in sorted(self._exclusive):
                await self.delete_queue(queue)
        self._exclusive.clear()
        self._broker = None

    async def declare_exchange(self, name: str) -> None:
        self.broker.exchanges.setdefault(name, [])

    async def declare_queue(self, spec: QueueSpec, exchange: str | None = None) -> None:
        broker = self.broker
        if spec.name not in broker.queues:
            broker.queues[spec.name] = _Queue(spec)
        if spec.exclusive:
            self._exclusive.add(spec.name)
        if spec.dead_letter and dead_letter_queue(spec.name) not in broker.queues:
            broker.queues[dead_letter_queue(spec.name)] = _Queue(
                QueueSpec(dead_letter_queue(spec.name), dead_letter=False)
            )
        if exchange is not None:
            bindings = broker.exchanges.setdefault(exchange, [])
            for pattern in spec.bindings:
                if (pattern, spec.name) not in bindings:
                    bindings.append((pattern, spec.name))
            broker.routes.clear()

    async def publish(self, exchange: str, message: OutgoingMessage) -> None:
        broker = self.broker
        for queue in broker.route(exchange, message.routing_key):
            broker.put(queue, message)

    async def publish_many(self, exchange: str, messages: Sequence[OutgoingMessage]) -> None:
        for message in messages:
            await self.publish(exchange, message)

    async def send_to_queue(self, queue: str, message: OutgoingMessage, delay: float = 0) -> None:
        broker = self.broker
        broker.queue(queue)
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, broker.put, queue, message)
        else:
            broker.put(queue, message)

    async def consume(
        self, queue: str, callback: DeliveryCallback, *, prefetch: int = 100,
        paused: bool = False,
    ) -> Consumer:
        self.broker.queue(queue)
        consumer = _MemoryConsumer(self.broker, queue, callback, prefetch, paused=paused)
        self._consumers.append(consumer)
        return consumer

    async def queue_stats(self, queue: str) -> QueueStats:
        stored = self.broker.queue(queue)
        return QueueStats(queue, len(stored.ready), stored.consumers)

    async def purge(self, queue: str) -> int:
        stored = self.broker.queue(queue)
        count = len(stored.ready)
        stored.ready.clear()
        return count

    async def delete_queue(self, queue: str) -> None:
        broker = self.broker
        for name in (queue, dead_letter_queue(queue)):
            broker.queues.pop(name, None)
        for bindings in broker.exchanges.values():
            bindings[:] = [(p, q) for p, q in bindings if q != queue]
        broker.routes.clear()

    def describe(self) -> dict[str, Any]:
        broker = self._broker
        if broker is None:
            return super().describe()
        return {
            **super().describe(),
            "exchanges": {name: [{"pattern": p, "queue": q} for p, q in bindings]
                          for name, bindings in broker.exchanges.items()},
            "queues": {name: len(q.ready) for name, q in broker.queues.items()},
        }
