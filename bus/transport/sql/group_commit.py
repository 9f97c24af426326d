"""Group commit: work queued while a write is in flight goes into the next write together.

Gathered publishes (or acks) then cost one transaction per batch instead of
one each, with no added latency when there is nothing to batch: the first
item starts a flush at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["GroupCommit"]

Item = TypeVar("Item")


class GroupCommit(Generic[Item]):
    """Items queued while a flush is in flight go together into the next one.

    Items are flushed in the order they were added, so counting them is
    enough to tell whether everything added before some moment is done.
    """

    def __init__(self, flush: Callable[[list[Item]], Awaitable[None]], limit: int,
                 size: Callable[[Item], int] = lambda _: 1) -> None:
        self._flush = flush
        self._limit = max(limit, 1)
        self._size = size
        self._pending: list[Item] = []
        self._task: asyncio.Task[None] | None = None
        self._added = 0
        self._flushed = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def add(self, item: Item) -> None:
        self._pending.append(item)
        self._added += 1
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self._pending:
                taken, total = 0, 0
                for item in self._pending:
                    if taken and total + self._size(item) > self._limit:
                        break
                    taken += 1
                    total += self._size(item)
                batch, self._pending = self._pending[:taken], self._pending[taken:]
                try:
                    await self._flush(batch)
                finally:
                    self._flushed += len(batch)
                    self._wake_waiters()
        finally:
            # Done, cancelled or failed: this task flushes nothing more, like wait().
            self._wake_waiters(everyone=True)

    def _wake_waiters(self, *, everyone: bool = False) -> None:
        still: list[tuple[int, asyncio.Future[None]]] = []
        for target, waiter in self._waiters:
            if everyone or self._flushed >= target:
                if not waiter.done():
                    waiter.set_result(None)
            else:
                still.append((target, waiter))
        self._waiters = still

    async def flushed(self) -> None:
        """Until every item added before this call is flushed; later ones are not waited for."""
        target = self._added
        if self._flushed >= target or self._task is None or self._task.done():
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append((target, waiter))
        await waiter

    async def wait(self) -> None:
        """Until everything queued so far, and anything added meanwhile, is flushed."""
        while self._task is not None and not self._task.done():
            await asyncio.wait({self._task})
