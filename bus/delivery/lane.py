"""A subscription lane's inbox: the deliveries waiting for its task, in order."""

from __future__ import annotations

import asyncio
from collections import deque

from bus.transport import Delivery

__all__ = ["Lane"]


class Lane:
    """A lane's waiting deliveries (None: stop), and the wake-up of its task when idle.

    What an ``asyncio.Queue`` does for one getter, without its bookkeeping (a deque of
    getters, unfinished-task counts, a loop check per call): a request-reply passes
    through a lane, and a unified view makes five.
    """

    __slots__ = ("_waiter", "ready")

    def __init__(self) -> None:
        self.ready: deque[Delivery | None] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def put(self, item: Delivery | None) -> None:
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
