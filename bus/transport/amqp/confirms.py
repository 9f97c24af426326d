"""Publishing with a window of publisher confirms in flight.

RabbitMQ numbers the messages published on a confirm-mode channel 1, 2, 3...
and acknowledges them, possibly several at once (``multiple``). Each publish
gets a future keyed by its number; at most ``window`` are unconfirmed at a
time, so concurrent publishers pipeline without flooding the broker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from pika import BasicProperties
from pika.exceptions import AMQPError
from pika.spec import Basic

from bus.errors import TransportError
from bus.transport.amqp.connection import Channel, broker_error
from bus.transport.base import OutgoingMessage

__all__ = ["ConfirmingPublisher", "properties_for"]

PERSISTENT = 2
TRANSIENT = 1


def properties_for(message: OutgoingMessage, headers: Mapping[str, Any]) -> Any:
    return BasicProperties(
        message_id=message.message_id,
        correlation_id=message.correlation_id,
        reply_to=message.reply_to,
        type=message.type,
        content_type=message.content_type,
        headers=dict(headers),
        delivery_mode=TRANSIENT if message.transient else PERSISTENT,
    )


class ConfirmingPublisher:
    """A confirm-mode channel; :meth:`send` returns the future of the broker's confirm."""

    def __init__(self, channel: Channel, window: int) -> None:
        self.channel = channel
        self._window = asyncio.Semaphore(max(window, 1))
        self._unconfirmed: dict[int, asyncio.Future[None]] = {}
        self._last_tag = 0
        channel.add_on_close(self._fail_all)

    @classmethod
    async def open(cls, connection: Any, window: int) -> ConfirmingPublisher:
        channel = await Channel.open(connection)
        publisher = cls(channel, window)
        await channel.call(channel.raw.confirm_delivery, ack_nack_callback=publisher._confirmed)
        return publisher

    @property
    def is_open(self) -> bool:
        return self.channel.is_open

    async def send(
        self, exchange: str, routing_key: str, properties: Any, body: bytes
    ) -> asyncio.Future[None]:
        """Publish once the window has room; the future resolves on the confirm."""
        await self._window.acquire()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.add_done_callback(self._release)
        if not self.channel.is_open:
            future.set_exception(broker_error(self.channel.closed_reason))
            return future
        try:
            self.channel.raw.basic_publish(exchange, routing_key, body, properties)
        except AMQPError as error:
            future.set_exception(broker_error(error))
            return future
        self._last_tag += 1
        self._unconfirmed[self._last_tag] = future
        return future

    def _release(self, future: asyncio.Future[None]) -> None:
        self._window.release()
        if not future.cancelled():
            future.exception()  # retrieved here too, so an unawaited failure is not logged

    def _confirmed(self, frame: Any) -> None:
        method = frame.method
        tag: int = method.delivery_tag
        if not method.multiple:
            tags = [tag]
        else:
            upto = tag or self._last_tag  # multiple with tag 0 means every outstanding one
            tags = []
            for unconfirmed in self._unconfirmed:  # insertion order is tag order
                if unconfirmed > upto:
                    break
                tags.append(unconfirmed)
        nacked = isinstance(method, Basic.Nack)
        for settled in tags:
            future = self._unconfirmed.pop(settled, None)
            if future is None or future.done():
                continue
            if nacked:
                future.set_exception(TransportError("RabbitMQ refused the message (nack)"))
            else:
                future.set_result(None)

    def _fail_all(self, reason: BaseException) -> None:
        unconfirmed, self._unconfirmed = self._unconfirmed, {}
        for future in unconfirmed.values():
            if not future.done():
                future.set_exception(broker_error(reason))

    async def close(self) -> None:
        await self.channel.close()
