"""An adapter's lifecycle scaffolding: its typed settings and its background work.

* :func:`settings_of` — the adapter's own settings class out of the
  :class:`~bus.adapters.contract.AdapterSettings` the bus hands it (a
  ``TypeError`` naming both when they do not match);
* :class:`BackgroundWork` — the tasks an adapter starts in :meth:`Adapter.start`
  (feeds, pollers, a login in the background) and ends in :meth:`Adapter.stop`:
  :meth:`~BackgroundWork.spawn` ones are cancelled; :meth:`~BackgroundWork.spawn_loop`
  ones are asked to stop (an :class:`asyncio.Event`) and given ``grace`` seconds
  to finish a pass in progress, then cancelled. :attr:`~BackgroundWork.started`
  tells a ``check`` run from the CLI (adapter never started) to leave no
  connection open.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from bus.adapters.contract import AdapterSettings

__all__ = ["BackgroundWork", "settings_of"]

SettingsT = TypeVar("SettingsT", bound=AdapterSettings)

STOP_GRACE_SECONDS = 30.0
"""How long :meth:`BackgroundWork.stop` waits for a loop's pass in progress."""


def settings_of(adapter: object, settings: AdapterSettings, expected: type[SettingsT]
                ) -> SettingsT:
    """``settings`` as ``expected``, the settings class ``adapter`` declares in its manifest."""
    if not isinstance(settings, expected):
        raise TypeError(f"{type(adapter).__name__} needs {expected.__name__}")
    return settings


class BackgroundWork:
    """The background tasks of one started adapter."""

    def __init__(self, *, grace: float = STOP_GRACE_SECONDS) -> None:
        self.grace = grace
        self.started = False
        self._stopping = asyncio.Event()
        self._cancelled: list[asyncio.Task[Any]] = []
        self._loops: list[asyncio.Task[Any]] = []

    def begin(self) -> None:
        """Mark the adapter started (``start`` of an adapter that may spawn nothing)."""
        self.started = True

    def spawn(self, work: Coroutine[Any, Any, object], name: str) -> asyncio.Task[Any]:
        """Run ``work`` until it ends or :meth:`stop` cancels it."""
        self.started = True
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._cancelled.append(task)
        return task

    def spawn_loop(self, run: Callable[[asyncio.Event], Coroutine[Any, Any, object]],
                   name: str) -> asyncio.Task[Any]:
        """Run ``run(stopping)``: on :meth:`stop` the event is set and the loop given
        ``grace`` seconds to return (a poll in its thread finishes rather than being
        abandoned)."""
        self.started = True
        task = asyncio.get_running_loop().create_task(run(self._stopping), name=name)
        self._loops.append(task)
        return task

    async def stop(self) -> None:
        """End every task; errors a task ended with are not raised again."""
        self._stopping.set()
        for task in self._loops:
            finished, _ = await asyncio.wait({task}, timeout=self.grace)
            if not finished:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for task in self._cancelled:
            task.cancel()
        for task in self._cancelled:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._loops.clear()
        self._cancelled.clear()
        self._stopping = asyncio.Event()
        self.started = False
