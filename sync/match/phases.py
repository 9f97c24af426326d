"""A full run's phase figures, and its input cut into batches."""

from __future__ import annotations

import itertools
import resource
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["Phases", "batches"]

T = TypeVar("T")


class Phases:
    """Wall and CPU seconds of each phase of a full run and this process's peak memory
    when it ended (MB; Linux counts ``ru_maxrss`` in KiB), written into ``stats``."""

    def __init__(self, stats: dict[str, float]) -> None:
        self._stats = stats
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def done(self, phase: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self._stats[f"{phase}_wall_s"] += wall - self._wall
        self._stats[f"{phase}_cpu_s"] += cpu - self._cpu
        self._stats[f"{phase}_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self._wall, self._cpu = wall, cpu


def batches(records: Iterable[T], size: int) -> Iterator[list[T]]:
    it = iter(records)
    while batch := list(itertools.islice(it, size)):
        yield batch
