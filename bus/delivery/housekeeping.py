"""Periodic clean-up of the bus's own tables, so SQL state does not grow forever.

Processed-message ids only need to outlive any redelivery (broker requeue,
retry tiers, a replay); the journal keeps what the operators' retention says.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

__all__ = ["Housekeeping"]

log = logging.getLogger(__name__)

Chore = tuple[str, Callable[[], int]]


class Housekeeping:
    def __init__(self, chores: list[Chore], *, interval: float = 3600.0) -> None:
        self.chores = chores
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="housekeeping")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def run_once(self) -> dict[str, int]:
        """Run every chore now; returns rows removed per chore (-1: it failed)."""
        removed: dict[str, int] = {}
        for name, chore in self.chores:
            try:
                removed[name] = await asyncio.to_thread(chore)
            except Exception:
                log.exception("housekeeping chore %s failed", name)
                removed[name] = -1
            else:
                if removed[name]:
                    log.info("housekeeping: %s removed %d rows", name, removed[name])
        return removed

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.run_once()
