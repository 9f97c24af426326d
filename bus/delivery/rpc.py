"""Request-reply over the bus: correlation ids, a reply queue, deadlines.

Each bus process owns one reply queue. A request is published like any
event, with ``reply_to`` naming that queue and a deadline header; the
responder sends its answer straight to the queue, and the waiting future is
found by the request's message id. Late replies are dropped; a responder that
fails sends an error reply so the caller does not wait for the deadline.
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
        self._pending: dict[str, asyncio.Future[Delivery]] = {}

    async def start(self) -> None:
        await self.transport.declare_queue(
            QueueSpec(self.queue, dead_letter=False, exclusive=True)
        )
        await self.transport.consume(self.queue, self._on_reply, prefetch=1000)

    async def stop(self) -> None:
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()

    def expect(self, request_id: str) -> asyncio.Future[Delivery]:
        future = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        return future

    async def wait(self, request_id: str, future: asyncio.Future[Delivery],
                   timeout: float) -> Delivery:
        try:
            reply = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise RequestTimeout(
                f"no reply within {timeout:.3g}s", message_id=request_id
            ) from None
        finally:
            self._pending.pop(request_id, None)
        error = reply.headers.get(ERROR_HEADER)
        if error:
            raise RemoteError(str(error), message_id=request_id)
        return reply

    async def _on_reply(self, delivery: Delivery) -> None:
        await delivery.ack()
        future = self._pending.get(delivery.correlation_id or "")
        if future is None or future.done():
            log.debug("late or unknown reply %s dropped", delivery.message_id)
            return
        future.set_result(delivery)


def deadline_passed(delivery: Delivery) -> bool:
    deadline = delivery.headers.get(DEADLINE_HEADER)
    return deadline is not None and float(deadline) < time.time()
