"""RabbitMQ through pika's asyncio adapter (``amqp://``, ``amqps://``).

Topology, per :class:`QueueSpec`:

* a durable topic exchange per :meth:`declare_exchange`;
* the queue, bound by its patterns, dead-lettering natively into
  ``<queue>.dlq`` (so ``nack(requeue=False)`` lands there without us);
* delay tiers ``<queue>.retry.<ms>``: a message waits there ``<ms>`` (queue
  TTL) and is dead-lettered back into ``<queue>``.

Publishing keeps a window of publisher confirms in flight
(:mod:`.confirms`); each consumer has a channel of its own (:mod:`.consumer`).
When the connection drops, publishes in flight fail with
:class:`TransportError` and a background task reconnects with backoff,
declares again what this transport declared and restarts its consumers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, ClassVar

from pika.exceptions import (
    AMQPChannelError,
    AMQPConnectionError,
    AMQPError,
    ChannelClosed,
    ConnectionClosed,
    StreamLostError,
)
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential, wait_random

from bus.errors import TransportError
from bus.transport.amqp.confirms import ConfirmingPublisher, properties_for
from bus.transport.amqp.connection import (
    Channel,
    broker_error,
    close_connection,
    open_connection,
)
from bus.transport.amqp.consumer import ROUTING_KEY_HEADER, AmqpConsumer
from bus.transport.base import (
    Consumer,
    DeliveryCallback,
    OutgoingMessage,
    QueueSpec,
    QueueStats,
    Transport,
    dead_letter_queue,
)

__all__ = ["AmqpTransport", "queue_arguments", "retry_queue"]

log = logging.getLogger("bus.transport.amqp")

HEALTH_TIMEOUT = 5.0
EXCLUSIVE_TIER_GRACE_MS = 600_000
"""How long a retry tier of an exclusive queue stays after its last use (``x-expires``)."""


def retry_queue(queue: str, milliseconds: int) -> str:
    return f"{queue}.retry.{milliseconds}"


def _milliseconds(delay: float) -> int:
    return max(1, round(delay * 1000))


def queue_arguments(spec: QueueSpec) -> dict[str, Any]:
    arguments: dict[str, Any] = {}
    if spec.quorum and not spec.exclusive:
        arguments["x-queue-type"] = "quorum"
    if spec.single_active_consumer:
        arguments["x-single-active-consumer"] = True
    if spec.dead_letter:
        arguments["x-dead-letter-exchange"] = ""
        arguments["x-dead-letter-routing-key"] = dead_letter_queue(spec.name)
    return arguments


class AmqpTransport(Transport):
    """RabbitMQ: topic exchange, native dead-lettering, TTL retry tiers, windowed confirms."""

    schemes: ClassVar[tuple[str, ...]] = ("amqp", "amqps")
    durable: ClassVar[bool] = True
    connection_errors: ClassVar[tuple[type[BaseException], ...]] = (
        AMQPConnectionError,
        ConnectionClosed,
        StreamLostError,
        AMQPChannelError,
        ChannelClosed,
        TransportError,
        ConnectionError,
        OSError,
    )

    def __init__(self, url: str, *, confirm_window: int = 1000) -> None:
        super().__init__(url, confirm_window=confirm_window)
        self._connection: Any = None
        self._closed: asyncio.Future[None] | None = None
        self._admin: Channel | None = None
        self._publisher: ConfirmingPublisher | None = None
        self._transient: Channel | None = None
        """Transient messages (requests, replies) go out here: not in confirm mode."""
        self._reopening = asyncio.Lock()
        self._consumers: list[AmqpConsumer] = []
        self._reconnecting: asyncio.Task[None] | None = None
        self._closing = False
        # What we declared, to declare again after a reconnect.
        self._exchanges: dict[str, None] = {}
        self._queues: dict[str, tuple[QueueSpec, str | None]] = {}
        self._tiers: dict[str, set[int]] = {}

    # -- connection --------------------------------------------------------------

    async def connect(self) -> None:
        self._closing = False
        try:
            await self._establish()
        except BaseException:
            await self._stop_reconnecting()  # the caller decides whether to try again
            raise

    async def _establish(self) -> None:
        """Connect, open the channels, declare the topology again, restart consumers."""
        closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_closed(connection: Any, reason: BaseException) -> None:
            if not closed.done():
                closed.set_result(None)
            self._lost(connection, reason)

        connection = await open_connection(self.url, on_closed)
        self._connection, self._closed = connection, closed
        try:
            self._admin = await Channel.open(connection)
            self._publisher = await ConfirmingPublisher.open(connection, self.confirm_window)
            await self._declare_all()
            for consumer in list(self._consumers):
                try:
                    await consumer.start(connection)
                except LookupError as error:
                    log.warning("consumer of %s not restarted: %s", consumer.queue, error)
                    self._consumers.remove(consumer)
        except BaseException:
            await close_connection(connection, closed)
            raise

    def _lost(self, connection: Any, reason: BaseException) -> None:
        if connection is not self._connection or self._closing:
            return
        log.warning("RabbitMQ connection lost: %r; reconnecting", reason)
        if self._reconnecting is None or self._reconnecting.done():
            self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(self.connection_errors),
            wait=wait_exponential(multiplier=0.2, max=10) + wait_random(0, 0.2),
            before_sleep=lambda state: log.info(
                "reconnect attempt %d failed: %r", state.attempt_number,
                state.outcome.exception() if state.outcome else None,
            ),
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self._establish()
            log.info("reconnected to RabbitMQ")
        except Exception:
            log.exception("giving up reconnecting to RabbitMQ")

    async def close(self) -> None:
        self._closing = True
        await self._stop_reconnecting()
        for consumer in list(self._consumers):
            await consumer.cancel()
        connection, closed = self._connection, self._closed
        self._connection = self._closed = self._admin = self._publisher = None
        self._transient = None
        if connection is not None and closed is not None:
            await close_connection(connection, closed)

    async def _stop_reconnecting(self) -> None:
        task, self._reconnecting = self._reconnecting, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _open_connection(self) -> Any:
        connection = self._connection
        if connection is None or not connection.is_open:
            raise TransportError("not connected to RabbitMQ")
        return connection

    async def _admin_channel(self) -> Channel:
        """The channel for declarations and stats; reopened after the broker closed it."""
        if self._admin is not None and self._admin.is_open:
            return self._admin
        async with self._reopening:
            if self._admin is None or not self._admin.is_open:
                self._admin = await Channel.open(self._open_connection())
            return self._admin

    async def _publishing(self) -> ConfirmingPublisher:
        if self._publisher is not None and self._publisher.is_open:
            return self._publisher
        async with self._reopening:
            if self._publisher is None or not self._publisher.is_open:
                self._publisher = await ConfirmingPublisher.open(
                    self._open_connection(), self.confirm_window
                )
            return self._publisher

    async def healthy(self) -> bool:
        try:
            channel = await self._admin_channel()
            check = channel.call(channel.raw.exchange_declare, exchange="amq.topic", passive=True)
            await asyncio.wait_for(check, HEALTH_TIMEOUT)
        except (TransportError, LookupError, TimeoutError):
            return False
        return True

    # -- topology ----------------------------------------------------------------

    async def declare_exchange(self, name: str) -> None:
        channel = await self._admin_channel()
        await channel.call(
            channel.raw.exchange_declare, exchange=name, exchange_type="topic", durable=True
        )
        self._exchanges[name] = None

    async def declare_queue(self, spec: QueueSpec, exchange: str | None = None) -> None:
        await self._declare_queue(spec, exchange)
        self._queues[spec.name] = (spec, exchange)
        for delay in spec.retry_delays:
            await self._declare_tier(spec.name, _milliseconds(delay))

    async def _declare_queue(self, spec: QueueSpec, exchange: str | None) -> None:
        channel = await self._admin_channel()
        # Not auto-delete: an exclusive queue goes with its connection anyway, and a
        # paused subscription (basic.cancel of its only consumer) must keep it.
        lifetime = {"durable": not spec.exclusive, "exclusive": spec.exclusive}
        if spec.dead_letter:
            quorum = spec.quorum and not spec.exclusive
            dead_arguments = {"x-queue-type": "quorum"} if quorum else {}
            await channel.call(channel.raw.queue_declare, queue=dead_letter_queue(spec.name),
                               arguments=dead_arguments, **lifetime)
        await channel.call(channel.raw.queue_declare, queue=spec.name,
                           arguments=queue_arguments(spec), **lifetime)
        if exchange is not None:
            for pattern in spec.bindings:
                await channel.call(
                    channel.raw.queue_bind, queue=spec.name, exchange=exchange, routing_key=pattern
                )

    async def _declare_tier(self, queue: str, milliseconds: int) -> None:
        channel = await self._admin_channel()
        arguments: dict[str, Any] = {
            "x-message-ttl": milliseconds,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": queue,
        }
        declared = self._queues.get(queue)
        exclusive = declared is not None and declared[0].exclusive
        if declared is not None and declared[0].quorum and not exclusive:
            arguments["x-queue-type"] = "quorum"  # replicated like the queue it feeds
        if exclusive:
            # Its queue goes with the connection; the tier follows once unused (every
            # retry declares it again, restarting the clock, so it outlives its messages).
            arguments["x-expires"] = milliseconds + EXCLUSIVE_TIER_GRACE_MS
        await channel.call(channel.raw.queue_declare, queue=retry_queue(queue, milliseconds),
                           durable=not exclusive, arguments=arguments)
        self._tiers.setdefault(queue, set()).add(milliseconds)

    async def _declare_all(self) -> None:
        for name in list(self._exchanges):
            await self.declare_exchange(name)
        for spec, exchange in list(self._queues.values()):
            await self._declare_queue(spec, exchange)
        for queue, tiers in list(self._tiers.items()):
            for milliseconds in sorted(tiers):
                await self._declare_tier(queue, milliseconds)

    async def _tier_for(self, queue: str, delay: float) -> str:
        """The smallest tier that waits at least ``delay``, else the longest one."""
        wanted = _milliseconds(delay)
        if not self._tiers.get(queue):
            await self._declare_tier(queue, wanted)
        tiers = sorted(self._tiers[queue])
        tier = next((t for t in tiers if t >= wanted), tiers[-1])
        declared = self._queues.get(queue)
        if declared is not None and declared[0].exclusive:
            await self._declare_tier(queue, tier)  # restart its expiry clock
        return retry_queue(queue, tier)

    def dead_letters(self, queue: str) -> bool:
        """Whether ``queue`` has a DLQ (assumed so for queues declared elsewhere)."""
        declared = self._queues.get(queue)
        return declared is None or declared[0].dead_letter

    # -- messages ----------------------------------------------------------------

    async def publish(self, exchange: str, message: OutgoingMessage) -> None:
        if message.transient:
            await self._send_transient(exchange, message.routing_key, message)
            return
        await (await self._send(exchange, message.routing_key, message))

    async def publish_many(self, exchange: str, messages: Sequence[OutgoingMessage]) -> None:
        confirms = [await self._send(exchange, m.routing_key, m) for m in messages]
        outcomes = await asyncio.gather(*confirms, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _send(
        self, exchange: str, routing_key: str, message: OutgoingMessage, **headers: Any
    ) -> asyncio.Future[None]:
        publisher = await self._publishing()
        properties = properties_for(message, {**message.headers, **headers} if headers
                                    else message.headers)
        return await publisher.send(exchange, routing_key, properties, message.body)

    async def send_to_queue(self, queue: str, message: OutgoingMessage, delay: float = 0) -> None:
        target = queue if delay <= 0 else await self._tier_for(queue, delay)
        routed = {ROUTING_KEY_HEADER: message.routing_key}
        if message.transient:
            await self._send_transient("", target, message, **routed)
            return
        await (await self._send("", target, message, **routed))

    async def _send_transient(self, exchange: str, routing_key: str,
                              message: OutgoingMessage, **headers: Any) -> None:
        """Publish on the channel without confirms: no confirm frame per message for
        RabbitMQ to send and this process to read, no window slot to wait for. A
        message the broker cannot route is lost (as a lost one, it costs its deadline)."""
        channel = self._transient
        if channel is None or not channel.is_open:
            async with self._reopening:
                if self._transient is None or not self._transient.is_open:
                    self._transient = await Channel.open(self._open_connection())
                channel = self._transient
        try:
            channel.raw.basic_publish(exchange, routing_key, message.body, properties_for(
                message, {**message.headers, **headers} if headers else message.headers))
        except AMQPError as error:
            raise broker_error(error) from None

    async def consume(
        self, queue: str, callback: DeliveryCallback, *, prefetch: int = 100,
        paused: bool = False,
    ) -> Consumer:
        consumer = AmqpConsumer(self, queue, callback, prefetch)
        consumer.paused = paused  # then it opens its channel without basic.consume
        await consumer.start(self._open_connection())
        self._consumers.append(consumer)
        return consumer

    def forget(self, consumer: AmqpConsumer) -> None:
        if consumer in self._consumers:
            self._consumers.remove(consumer)

    # -- inspection --------------------------------------------------------------

    async def queue_stats(self, queue: str) -> QueueStats:
        channel = await self._admin_channel()
        ok = await channel.call(channel.raw.queue_declare, queue=queue, passive=True)
        return QueueStats(queue, int(ok.method.message_count), int(ok.method.consumer_count))

    async def queue_stats_many(self, queues: Sequence[str]) -> dict[str, QueueStats | Exception]:
        """Every passive declare sent at once on the admin channel.

        pika sends each as soon as the previous reply arrives, with no trip
        through the event loop in between. An unknown queue makes the broker
        close the channel, failing the declares queued behind it; those are
        asked again one by one, so only the missing queue reports an error.
        """
        answers: dict[str, QueueStats | Exception] = {}
        results = await asyncio.gather(*(self.queue_stats(q) for q in queues),
                                       return_exceptions=True)
        for queue, result in zip(queues, results, strict=True):
            if isinstance(result, QueueStats):
                answers[queue] = result
                continue
            if not isinstance(result, Exception):
                raise result
            try:
                answers[queue] = await self.queue_stats(queue)
            except Exception as error:
                answers[queue] = error
        return answers

    async def purge(self, queue: str) -> int:
        channel = await self._admin_channel()
        ok = await channel.call(channel.raw.queue_purge, queue=queue)
        return int(ok.method.message_count)

    async def delete_queue(self, queue: str) -> None:
        channel = await self._admin_channel()
        tiers = sorted(self._tiers.pop(queue, set()))
        names = [queue, dead_letter_queue(queue), *(retry_queue(queue, t) for t in tiers)]
        for name in names:
            await channel.call(channel.raw.queue_delete, queue=name)
        self._queues.pop(queue, None)

    def describe(self) -> dict[str, Any]:
        queues: dict[str, Any] = {}
        bindings: list[dict[str, str]] = []
        for name, (spec, exchange) in self._queues.items():
            queues[name] = {
                "dead_letter_queue": dead_letter_queue(name) if spec.dead_letter else None,
                "retry_queues": [retry_queue(name, t) for t in sorted(self._tiers.get(name, ()))],
                "quorum": spec.quorum,
                "single_active_consumer": spec.single_active_consumer,
                "exclusive": spec.exclusive,
            }
            if exchange is not None:
                bindings += [{"exchange": exchange, "pattern": p, "queue": name}
                             for p in spec.bindings]
        return {
            **super().describe(),
            "connected": self._connection is not None and bool(self._connection.is_open),
            "consumers": len(self._consumers),
            "exchanges": list(self._exchanges),
            "queues": queues,
            "bindings": bindings,
        }
