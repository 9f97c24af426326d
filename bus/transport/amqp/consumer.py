"""Consumers and deliveries on RabbitMQ.

pika hands over messages synchronously from the socket callback; each
consumer puts them on an :class:`asyncio.Queue` and one task awaits the
callback for them in order. Each consumer has its own channel, so its
``basic_qos`` prefetch and its cancellation touch nobody else. A delivery is
settled on the channel it came from; once that channel is gone the broker has
already requeued the message, so settling it then is dropped quietly. Acks
leave in batches, one ``multiple`` frame per event-loop turn (:mod:`.acks`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pika.exceptions import AMQPError

from bus.errors import TransportError
from bus.transport.amqp.acks import AckBatcher
from bus.transport.amqp.connection import Channel
from bus.transport.base import (
    ATTEMPT_HEADER,
    DEATH_HEADERS,
    Consumer,
    Delivery,
    DeliveryCallback,
    OutgoingMessage,
    dead_letter_queue,
)

if TYPE_CHECKING:
    from bus.transport.amqp.transport import AmqpTransport

__all__ = ["ROUTING_KEY_HEADER", "AmqpConsumer", "AmqpDelivery"]

log = logging.getLogger("bus.transport.amqp")

ROUTING_KEY_HEADER = "x-esb-routing-key"
"""The message's own routing key, kept when it travels through the default exchange."""

_Incoming = tuple[AckBatcher, Any, Any, bytes]


def _original_routing_key(headers: dict[str, Any], received: str) -> str:
    """Undo the routing key that the default exchange or a dead-letter hop put on."""
    kept = headers.pop(ROUTING_KEY_HEADER, None)
    if isinstance(kept, str):
        return kept
    deaths = headers.get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], Mapping):
        keys = deaths[0].get("routing-keys")
        if isinstance(keys, list) and keys and isinstance(keys[0], str):
            return keys[0]
    return received


class AmqpDelivery(Delivery):
    __slots__ = ("_acks", "_tag", "_transport")

    def __init__(
        self, transport: AmqpTransport, queue: str, incoming: _Incoming
    ) -> None:
        acks, method, properties, body = incoming
        headers = dict(properties.headers or {})
        super().__init__(
            body=body,
            queue=queue,
            routing_key=_original_routing_key(headers, method.routing_key),
            message_id=properties.message_id or "",
            headers=headers,
            redelivered=bool(method.redelivered),
            correlation_id=properties.correlation_id,
            reply_to=properties.reply_to,
            type=properties.type,
        )
        self._transport = transport
        self._acks = acks
        self._tag: int = method.delivery_tag

    async def ack(self) -> None:
        """Settled now; the frame leaves at the end of this loop turn with its neighbours'."""
        self._settle()
        self._acks.ack(self._tag)

    async def nack(self, *, requeue: bool = True) -> None:
        self._settle()
        self._acks.now(self._tag, "basic_nack", requeue=requeue)

    async def retry(self, delay: float) -> None:
        again = self.as_outgoing(**{ATTEMPT_HEADER: self.attempt + 1})
        await self._resend(self.queue, again, delay)

    async def dead_letter(self, reason: str, error: str = "") -> None:
        if not self._transport.dead_letters(self.queue):
            self._settle()
            self._acks.ack(self._tag)
            return
        dead = self.as_outgoing(**{
            DEATH_HEADERS["reason"]: reason,
            DEATH_HEADERS["error"]: error,
            DEATH_HEADERS["queue"]: self.queue,
            DEATH_HEADERS["at"]: f"{time.time():.3f}",
        })
        await self._resend(dead_letter_queue(self.queue), dead, 0)

    async def _resend(self, queue: str, message: OutgoingMessage, delay: float) -> None:
        """Publish the copy (confirmed), then ack the original; on failure it stays ours."""
        self._settle()
        if not self._acks.channel.is_open:
            log.debug("resend of %s dropped: its channel is closed", self.message_id)
            return
        try:
            await self._transport.send_to_queue(queue, message, delay)
        except BaseException:
            self.settled = False
            raise
        self._acks.ack(self._tag)


class AmqpConsumer(Consumer):
    """One queue, one channel, one task awaiting the callback in delivery order."""

    def __init__(
        self, transport: AmqpTransport, queue: str, callback: DeliveryCallback, prefetch: int
    ) -> None:
        self.transport = transport
        self.queue = queue
        self.callback = callback
        self.prefetch = prefetch
        self.channel: Channel | None = None
        self.acks: AckBatcher | None = None
        self.cancelled = False
        self.paused = False
        self._tag = ""
        self._inbox: asyncio.Queue[_Incoming | asyncio.Event | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def start(self, connection: Any) -> None:
        """Open a channel, set the prefetch and subscribe (again, after a reconnect),
        unless paused: then the channel waits for :meth:`resume`."""
        channel = await Channel.open(connection)
        acks = AckBatcher(channel)
        try:
            await channel.call(channel.raw.basic_qos, prefetch_count=self.prefetch)
            if not self.paused:
                await self._subscribe(channel, acks)
        except BaseException:
            await _quietly_close(channel)
            raise
        if self.cancelled:  # cancelled while a reconnect was restarting it
            await _quietly_close(channel)
            return
        channel.raw.add_on_cancel_callback(self._cancelled_by_broker)
        self.channel, self.acks = channel, acks
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _subscribe(self, channel: Channel, acks: AckBatcher) -> None:
        ok = await channel.call(
            channel.raw.basic_consume,
            queue=self.queue,
            on_message_callback=functools.partial(self._on_message, acks),
        )
        self._tag = ok.method.consumer_tag

    async def pause(self) -> None:
        """``basic.cancel`` on the open channel: the queue stays and keeps its messages;
        deliveries held stay ackable on this channel. Returns once every message that
        arrived before the cancel-ok has been handed to the callback."""
        if self.cancelled or self.paused:
            return
        self.paused = True
        channel = self.channel
        if channel is not None and channel.is_open and self._tag in channel.raw.consumer_tags:
            try:
                await channel.call(channel.raw.basic_cancel, consumer_tag=self._tag)
            except (TransportError, LookupError) as error:
                log.debug("pausing the consumer of %s: %r", self.queue, error)
        task = self._task
        if self.cancelled or task is None or task.done() or task is asyncio.current_task():
            return
        handed_over = asyncio.Event()
        self._inbox.put_nowait(handed_over)
        await handed_over.wait()

    async def resume(self) -> None:
        """``basic.consume`` again; with the channel lost, the reconnect subscribes."""
        if self.cancelled or not self.paused:
            return
        self.paused = False
        channel, acks = self.channel, self.acks
        if channel is not None and acks is not None and channel.is_open:
            await self._subscribe(channel, acks)

    def _on_message(self, acks: AckBatcher, _raw: Any, method: Any, properties: Any,
                    body: bytes) -> None:
        acks.delivered(method.delivery_tag)
        self._inbox.put_nowait((acks, method, properties, body))

    def _cancelled_by_broker(self, _frame: Any) -> None:
        log.warning("RabbitMQ cancelled the consumer of %s (queue deleted?)", self.queue)

    async def _run(self) -> None:
        while True:
            incoming = await self._inbox.get()
            if isinstance(incoming, asyncio.Event):
                incoming.set()  # everything before it is handed over (pause)
                continue
            if incoming is None or self.cancelled:
                return
            if not incoming[0].channel.is_open:
                continue  # its channel died and the broker requeued it
            delivery = AmqpDelivery(self.transport, self.queue, incoming)
            try:
                await self.callback(delivery)
            except Exception:
                log.exception("consumer callback of %s failed on %s", self.queue,
                              delivery.message_id)

    async def cancel(self) -> None:
        """Stop the subscription, let the running callback finish, then close the
        channel so that the broker requeues whatever is still unsettled."""
        if self.cancelled:
            return
        self.cancelled = True
        self.transport.forget(self)
        channel = self.channel
        if channel is not None and channel.is_open and self._tag in channel.raw.consumer_tags:
            try:
                await channel.call(channel.raw.basic_cancel, consumer_tag=self._tag)
            except (TransportError, LookupError) as error:
                log.debug("cancelling the consumer of %s: %r", self.queue, error)
        self._inbox.put_nowait(None)
        task = self._task
        if task is not None and task is not asyncio.current_task():
            await asyncio.gather(task, return_exceptions=True)
        if self.acks is not None:
            self.acks.flush()  # what was processed is acked before the channel goes
        if channel is not None:
            await _quietly_close(channel)


async def _quietly_close(channel: Channel) -> None:
    try:
        await channel.close()
    except (AMQPError, TransportError) as error:
        log.debug("closing a channel: %r", error)
