"""An ordered pipeline over worker processes: tasks go in, answers come back in order.

The shape of :class:`sync.match.parallel.Normalizer`'s pool for any module-level
function: ``spawn`` workers (they never inherit the host's threads, sockets or open
transaction), at most ``2 * workers`` tasks in flight, so that this process keeps
reading and writing while the workers compute and never holds more than a few
batches; each answer is handed back with the caller's own context of its task, in
the order the tasks were given.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Generic, TypeVar

__all__ = ["OrderedPool", "Task"]

C = TypeVar("C")
R = TypeVar("R")

Task = tuple[C, Callable[..., R], tuple[Any, ...]]
"""``(context, function, arguments)``: the context stays here, the call goes to a worker."""


class OrderedPool(Generic[C, R]):
    """``stream(tasks)`` -> ``(context, answer)`` per task, in the tasks' order."""

    def __init__(self, workers: int) -> None:
        self._workers = max(1, workers)
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> OrderedPool[C, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers; tasks not started yet are dropped (a failed run)."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def _start(self) -> ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(self._workers, mp_context=context)
        return self._pool

    def stream(self, tasks: Iterable[Task[C, R]]) -> Iterator[tuple[C, R]]:
        """Run ``tasks`` on the workers; each answer as soon as it and those before it
        are in, while the next tasks are being made (a worker's exception raises here)."""
        pending: deque[tuple[C, Future[R]]] = deque()
        limit = 2 * self._workers
        for context, function, arguments in tasks:
            pending.append((context, self._start().submit(function, *arguments)))
            while pending and (len(pending) > limit or pending[0][1].done()):
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()
