"""Request-reply over the bus: correlation ids, a reply queue, deadlines.

Each bus process owns one reply queue. A request is published like any
event, with ``reply_to`` naming that queue and a deadline header; the
responder sends its answer straight to the queue, and the waiting future is
found by the request's message id. Late replies are dropped; a responder that
fails sends an error reply so the caller does not wait for the deadline.

A request is asked by many at once (the unified view asks five backends per
view), so the waiting costs the least the event loop offers: one future per
request, no task, no ``asyncio.wait_for`` (which adds a waiter future and a
callback hop to every reply), and one timer for all of them: the deadlines wait
in a heap and the loop's timer is armed for the earliest only (a timer per
request was armed, then cancelled by nearly every reply).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time

from bus.errors import EsbError, RequestTimeout
from bus.transport import Delivery, QueueSpec, Transport

__all__ = ["DEADLINE_HEADER", "ERROR_HEADER", "RemoteError", "ReplyWaiter", "answer_of",
           "deadline_passed"]

log = logging.getLogger(__name__)

_TIMER_SLACK = 0.001
"""A timer may fire this early (uvloop counts in whole milliseconds): a deadline that
close is due, as it was with a timer per request, rather than the timer armed again."""

DEADLINE_HEADER = "x-esb-deadline"
ERROR_HEADER = "x-esb-error"


class RemoteError(EsbError):
    """The responder failed; the reason is its error."""


class ReplyWaiter:
    def __init__(self, transport: Transport, queue: str) -> None:
        self.transport = transport
        self.queue = queue
        self._pending: dict[str, tuple[asyncio.Future[Delivery], float, int]] = {}
        """Request id -> the future of its reply, its timeout (seconds), its number."""
        self._deadlines: list[tuple[float, int, str]] = []
        """A heap of (loop time, number, request id); answered ones leave when due. Plain
        values, no future: an answered request's reply is not held until its deadline."""
        self._numbers = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    async def start(self) -> None:
        await self.transport.declare_queue(
            QueueSpec(self.queue, dead_letter=False, exclusive=True)
        )
        await self.transport.consume(self.queue, self._on_reply, prefetch=1000)

    async def stop(self) -> None:
        for future, _timeout, _number in self._pending.values():
            future.cancel()
        self._pending.clear()
        self._deadlines.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    @property
    def waiting(self) -> int:
        """Requests whose reply is still awaited."""
        return len(self._pending)

    def expect(self, request_id: str, timeout: float) -> asyncio.Future[Delivery]:
        """The future of the reply to ``request_id``; it fails with
        :class:`~bus.errors.RequestTimeout` when none comes within ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Delivery] = loop.create_future()
        due = loop.time() + timeout
        number = next(self._numbers)
        self._pending[request_id] = future, timeout, number
        heapq.heappush(self._deadlines, (due, number, request_id))
        if self._timer is None or due < self._timer_at:
            self._arm(loop, due)
        return future

    def forget(self, request_id: str) -> None:
        """Stop waiting for ``request_id`` (its request could not be sent)."""
        entry = self._pending.pop(request_id, None)
        if entry is not None:
            entry[0].cancel()

    async def wait(self, request_id: str, future: asyncio.Future[Delivery]) -> Delivery:
        """The reply; :class:`RemoteError` when the responder sent its failure instead."""
        try:
            reply = await future
        finally:
            self.forget(request_id)  # cancelled by the caller: no reply is awaited any more
        return answer_of(request_id, reply)

    def _arm(self, loop: asyncio.AbstractEventLoop, due: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(due, self._expire_due)
        self._timer_at = due

    def _expire_due(self) -> None:
        """Fail every request whose deadline has come; arm the timer for the next one."""
        self._timer = None
        loop = asyncio.get_running_loop()
        now = loop.time() + _TIMER_SLACK
        deadlines = self._deadlines
        pending = self._pending
        while deadlines and deadlines[0][0] <= now:
            _due, number, request_id = heapq.heappop(deadlines)
            entry = pending.get(request_id)
            if entry is None or entry[2] != number:
                continue  # answered, forgotten, or an id asked again since
            del pending[request_id]
            if not entry[0].done():
                entry[0].set_exception(RequestTimeout(
                    f"no reply within {entry[1]:.3g}s", message_id=request_id))
        while deadlines:  # settled ones at the top: no need to wake for them
            due, number, request_id = deadlines[0]
            entry = pending.get(request_id)
            if entry is not None and entry[2] == number:
                self._arm(loop, due)
                return
            heapq.heappop(deadlines)

    async def _on_reply(self, delivery: Delivery) -> None:
        await delivery.ack()
        entry = self._pending.pop(delivery.correlation_id or "", None)
        if entry is None or entry[0].done():
            log.debug("late or unknown reply %s dropped", delivery.message_id)
            return
        entry[0].set_result(delivery)


def answer_of(request_id: str, reply: Delivery) -> Delivery:
    """The reply to ``request_id``; :class:`RemoteError` if the responder sent its failure."""
    error = reply.headers.get(ERROR_HEADER)
    if error:
        raise RemoteError(str(error), message_id=request_id)
    return reply


def deadline_passed(delivery: Delivery) -> bool:
    deadline = delivery.headers.get(DEADLINE_HEADER)
    return deadline is not None and float(deadline) < time.time()
