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
    """Items queued while a flush is in flight go together into the next one."""

    def __init__(self, flush: Callable[[list[Item]], Awaitable[None]], limit: int,
                 size: Callable[[Item], int] = lambda _: 1) -> None:
        self._flush = flush
        self._limit = max(limit, 1)
        self._size = size
        self._pending: list[Item] = []
        self._task: asyncio.Task[None] | None = None

    def add(self, item: Item) -> None:
        self._pending.append(item)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while self._pending:
            taken, total = 0, 0
            for item in self._pending:
                if taken and total + self._size(item) > self._limit:
                    break
                taken += 1
                total += self._size(item)
            batch, self._pending = self._pending[:taken], self._pending[taken:]
            await self._flush(batch)

    async def wait(self) -> None:
        """Until everything queued so far is flushed."""
        while self._task is not None and not self._task.done():
            await asyncio.wait({self._task})
