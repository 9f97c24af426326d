"""pika's callbacks turned into awaitables: connections, channels, their RPCs.

pika's asyncio adapter runs on the running loop and reports everything
through callbacks. :func:`open_connection` and :class:`Channel` turn those
into futures, and fail every pending future of a channel when it closes, so a
coroutine never waits on a reply that will not come.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from pika import URLParameters
from pika.adapters.asyncio_connection import AsyncioConnection
from pika.exceptions import AMQPError, ChannelClosedByBroker

from bus.errors import ConfigurationError, TransportError

__all__ = ["Channel", "broker_error", "close_connection", "open_connection"]

log = logging.getLogger("bus.transport.amqp")

NOT_FOUND = 404
PRECONDITION_FAILED = 406

OnClosed = Callable[[Any, BaseException], None]


def broker_error(reason: BaseException | None) -> Exception:
    """Our error for a pika one: an unknown name, a clash of arguments, or a transient fault."""
    if isinstance(reason, ChannelClosedByBroker):
        if reason.reply_code == NOT_FOUND:
            return LookupError(reason.reply_text)
        if reason.reply_code == PRECONDITION_FAILED:
            return ConfigurationError(reason.reply_text)
    if isinstance(reason, TransportError | LookupError | ConfigurationError):
        return reason
    return TransportError(f"RabbitMQ: {reason!r}")


class _Connection(AsyncioConnection):  # type: ignore[misc]  # pika has no type hints
    """pika's asyncio connection, handing a message's frames to the socket as one write.

    pika queues each frame (method, header, body) as a buffer of its own, and its
    transport sends each buffer with a ``send`` call of its own: three system calls, and
    three TCP segments for the broker to take in, per message. Joined, a message is one.
    """

    def _output_marshaled_frames(self, marshaled_frames: Sequence[bytes]) -> None:
        if len(marshaled_frames) < 2:
            super()._output_marshaled_frames(marshaled_frames)
            return
        data = b"".join(marshaled_frames)
        self.bytes_sent += len(data)
        self.frames_sent += len(marshaled_frames)
        self._adapter_emit_data(data)


async def open_connection(url: str, on_closed: OnClosed) -> Any:
    """An open :class:`AsyncioConnection`; ``on_closed`` hears of its loss later."""
    loop = asyncio.get_running_loop()
    opened: asyncio.Future[Any] = loop.create_future()

    def on_open(connection: Any) -> None:
        _send_buffers_together(connection._transport)
        if not opened.done():
            opened.set_result(connection)

    def on_open_error(_connection: Any, error: BaseException) -> None:
        if not opened.done():
            opened.set_exception(TransportError(f"cannot connect to RabbitMQ: {error!r}"))

    try:
        parameters = URLParameters(url)
    except (ValueError, AMQPError) as error:
        raise ConfigurationError(f"bad RabbitMQ URL: {error}") from error
    _Connection(
        parameters,
        on_open_callback=on_open,
        on_open_error_callback=on_open_error,
        on_close_callback=on_closed,
        custom_ioloop=loop,
    )
    return await opened


_JOINED_SEND = 256 * 1024
"""How much of the backlog one ``send`` takes at most: a larger backlog goes in chunks of
about this size (pika copies what a partial send leaves over)."""


def _send_buffers_together(transport: Any) -> None:
    """Make pika's socket ``transport`` send its backlog in few ``send`` calls.

    pika sends each buffered write with a system call of its own when the socket becomes
    writable. The writes of one loop turn (a view's requests, the replies of a burst, a
    batch of acks) are joined first: fewer system calls here, fewer TCP segments for the
    broker to take in. Nothing waits for the join; it only happens to a backlog."""
    produce = transport._produce
    buffers: deque[bytes] = transport._tx_buffers

    def produce_joined() -> None:
        if len(buffers) > 1:
            chunks: list[bytes] = []
            parts: list[bytes] = []
            size = 0
            for buffer in buffers:
                parts.append(buffer)
                size += len(buffer)
                if size >= _JOINED_SEND:
                    chunks.append(b"".join(parts))
                    parts, size = [], 0
            if parts:
                chunks.append(b"".join(parts))
            buffers.clear()
            buffers.extend(chunks)
        produce()

    transport._produce = produce_joined


async def close_connection(connection: Any, closed: asyncio.Future[None]) -> None:
    """Close gracefully; ``closed`` is resolved by the connection's close callback."""
    if connection.is_closing or connection.is_closed:
        if not connection.is_closed:
            await closed
        return
    connection.close()
    await closed


class Channel:
    """One pika channel whose RPCs are awaitable and fail together when it closes."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.closed_reason: BaseException | None = None
        self._pending: set[asyncio.Future[Any]] = set()
        self._on_close: list[Callable[[BaseException], None]] = []
        raw.add_on_close_callback(self._closed)

    @classmethod
    async def open(cls, connection: Any) -> Channel:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[Any] = loop.create_future()
        try:
            channel = cls(connection.channel(on_open_callback=_resolver(ready)))
        except AMQPError as error:
            raise broker_error(error) from error
        channel._pending.add(ready)
        await ready
        channel._pending.discard(ready)
        return channel

    @property
    def is_open(self) -> bool:
        return bool(self.raw.is_open)

    def add_on_close(self, callback: Callable[[BaseException], None]) -> None:
        self._on_close.append(callback)

    async def call(self, method: Callable[..., Any], /, **arguments: Any) -> Any:
        """Run one synchronous AMQP method (``callback=`` style) and return its reply frame."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if not self.is_open:
            raise broker_error(self.closed_reason or TransportError("channel is closed"))
        self._pending.add(future)
        try:
            method(callback=_resolver(future), **arguments)
            return await future
        except AMQPError as error:
            raise broker_error(error) from error
        finally:
            self._pending.discard(future)

    async def close(self) -> None:
        """Close and wait for the broker's close-ok; a closed channel is left alone."""
        if self.raw.is_closed:
            return
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def closed(_reason: BaseException) -> None:
            if not done.done():
                done.set_result(None)

        self.add_on_close(closed)
        if not self.raw.is_closing:
            self.raw.close()
        await done

    def _closed(self, _raw: Any, reason: BaseException) -> None:
        self.closed_reason = reason
        pending, self._pending = self._pending, set()
        for future in pending:
            if not future.done():
                future.set_exception(broker_error(reason))
        for callback in self._on_close:
            callback(reason)


def _resolver(future: asyncio.Future[Any]) -> Callable[[Any], None]:
    def resolve(result: Any) -> None:
        if not future.done():
            future.set_result(result)

    return resolve
