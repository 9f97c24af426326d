"""Request-reply over the bus: correlation ids, a reply queue, deadlines.

Each bus process owns one reply queue. A request is published like any
event, with ``reply_to`` naming that queue and a deadline header; the
responder sends its answer straight to the queue, and the waiting future is
found by the request's message id. Late replies are dropped; a responder that
fails sends an error reply so the caller does not wait for the deadline.

A request is asked by many at once (the unified view asks five backends per
view), so the waiting costs the least the event loop offers: one future and
one timer per request, no task, no ``asyncio.wait_for`` (which adds a waiter
future and a callback hop to every reply).
"""

from __future__ import annotations

import asyncio
import logging
import time

from bus.errors import EsbError, RequestTimeout
from bus.transport import Delivery, QueueSpec, Transport

__all__ = ["DEADLINE_HEADER", "ERROR_HEADER", "RemoteError", "ReplyWaiter", "deadline_passed"]

log = logging.getLogger(__name__)

DEADLINE_HEADER = "x-esb-deadline"
ERROR_HEADER = "x-esb-error"


class RemoteError(EsbError):
    """The responder failed; the reason is its error."""


class ReplyWaiter:
    def __init__(self, transport: Transport, queue: str) -> None:
        self.transport = transport
        self.queue = queue
        self._pending: dict[str, tuple[asyncio.Future[Delivery], asyncio.TimerHandle]] = {}

    async def start(self) -> None:
        await self.transport.declare_queue(
            QueueSpec(self.queue, dead_letter=False, exclusive=True)
        )
        await self.transport.consume(self.queue, self._on_reply, prefetch=1000)

    async def stop(self) -> None:
        for future, timer in self._pending.values():
            timer.cancel()
            future.cancel()
        self._pending.clear()

    @property
    def waiting(self) -> int:
        """Requests whose reply is still awaited."""
        return len(self._pending)

    def expect(self, request_id: str, timeout: float) -> asyncio.Future[Delivery]:
        """The future of the reply to ``request_id``; it fails with
        :class:`~bus.errors.RequestTimeout` when none comes within ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Delivery] = loop.create_future()
        timer = loop.call_later(timeout, self._expire, request_id, timeout)
        self._pending[request_id] = future, timer
        return future

    def forget(self, request_id: str) -> None:
        """Stop waiting for ``request_id`` (its request could not be sent)."""
        entry = self._pending.pop(request_id, None)
        if entry is not None:
            entry[1].cancel()
            entry[0].cancel()

    async def wait(self, request_id: str, future: asyncio.Future[Delivery]) -> Delivery:
        """The reply; :class:`RemoteError` when the responder sent its failure instead."""
        try:
            reply = await future
        finally:
            self.forget(request_id)  # cancelled by the caller: no reply is awaited any more
        error = reply.headers.get(ERROR_HEADER)
        if error:
            raise RemoteError(str(error), message_id=request_id)
        return reply

    def _expire(self, request_id: str, timeout: float) -> None:
        entry = self._pending.pop(request_id, None)
        if entry is not None and not entry[0].done():
            entry[0].set_exception(RequestTimeout(
                f"no reply within {timeout:.3g}s", message_id=request_id))

    async def _on_reply(self, delivery: Delivery) -> None:
        await delivery.ack()
        entry = self._pending.pop(delivery.correlation_id or "", None)
        if entry is None or entry[0].done():
            log.debug("late or unknown reply %s dropped", delivery.message_id)
            return
        entry[1].cancel()
        entry[0].set_result(delivery)


def deadline_passed(delivery: Delivery) -> bool:
    deadline = delivery.headers.get(DEADLINE_HEADER)
    return deadline is not None and float(deadline) < time.time()
