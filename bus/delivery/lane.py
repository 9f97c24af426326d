"""An inbox with one reader: what waits for one task, in order (a subscription lane's
deliveries, a scatter-gather's finished asks)."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

__all__ = ["Lane"]

T = TypeVar("T")


class Lane(Generic[T]):
    """What waits for one task, and the wake-up of that task when it is idle.

    What an ``asyncio.Queue`` does for one getter, without its bookkeeping (a deque of
    getters, unfinished-task counts, a loop check per call): a request-reply passes
    through a lane, and a unified view makes five.
    """

    __slots__ = ("_waiter", "ready")

    def __init__(self) -> None:
        self.ready: deque[T] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def put(self, item: T) -> None:
        self.ready.append(item)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def arrived(self) -> None:
        """Return once something waits in the lane."""
        while not self.ready:
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                self._waiter = None

    async def taken(self) -> list[T]:
        """Everything waiting (at least one item: waits for it), in order; the lane empties."""
        await self.arrived()
        items = list(self.ready)
        self.ready.clear()
        return items
