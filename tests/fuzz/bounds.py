"""What every fuzz test asserts about one example: it ends, in bounded time and memory,
either with a result or with one of *our* errors carrying a clear message.

``FUZZ_EXAMPLES`` (environment) raises the number of examples of every fuzz test for a
long run, e.g. ``FUZZ_EXAMPLES=5000 .venv/bin/python -m pytest tests/fuzz``; the default
run keeps the whole fuzz + security suite well under 90 s.
"""

from __future__ import annotations

import logging
import os
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis.strategies import SearchStrategy

from bus.errors import EsbError

__all__ = ["Bounded", "bounded", "drawn", "fuzz_settings", "logged_errors"]

T = TypeVar("T")

MAX_SECONDS = 2.0
"""CPU seconds per example (wall time may be ten times that: the 2-core machine is shared):
a hang or a quadratic blow-up on a few kilobytes of input is far beyond it."""
MAX_PEAK_BYTES = 64 * 1024 * 1024
"""Per example, Python allocations (tracemalloc): a parser must not amplify its input."""


def examples(default: int) -> int:
    """``default``, or more when ``FUZZ_EXAMPLES`` asks for a longer run."""
    wanted = int(os.environ.get("FUZZ_EXAMPLES", "0") or 0)
    return max(default, wanted)


def fuzz_settings(default_examples: int) -> settings:
    """Hypothesis settings of a fuzz test; time is bounded by :func:`bounded` instead of
    hypothesis' deadline, which would be flaky on a loaded machine."""
    return settings(
        max_examples=examples(default_examples),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.function_scoped_fixture],
        database=None,
    )


def drawn(strategy: SearchStrategy[T], count: int) -> list[T]:
    """``count`` examples of ``strategy`` (more with ``FUZZ_EXAMPLES``), for a test that
    sends them through a running system (a bus, an HTTP app) started once."""
    found: list[T] = []

    @fuzz_settings(count)
    @given(strategy)
    def collect(example: T) -> None:
        found.append(example)

    collect()
    return found


@dataclass(frozen=True)
class Bounded(Generic[T]):
    """The outcome of one example: a value, or the declared error it was refused with."""

    value: T | None
    error: EsbError | None
    seconds: float
    peak_bytes: int


def bounded(call: Callable[[], T], *, max_seconds: float = MAX_SECONDS,
            max_peak_bytes: int = MAX_PEAK_BYTES,
            declared: tuple[type[EsbError], ...] = (EsbError,)) -> Bounded[T]:
    """Run ``call``; anything but a ``declared`` error propagates and fails the example.

    A refusal must say why: its message is non-empty and is not a bare repr of a
    Python internal (``KeyError('x')``).
    """
    tracemalloc.start()
    started, cpu_started = time.perf_counter(), time.process_time()
    value: T | None = None
    error: EsbError | None = None
    try:
        value = call()
    except declared as refused:
        error = refused
    finally:
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert cpu < max_seconds, f"took {cpu:.2f} CPU s (limit {max_seconds} s)"
    assert seconds < 10 * max_seconds, f"took {seconds:.2f} s (limit {10 * max_seconds} s)"
    assert peak < max_peak_bytes, f"peak {peak} bytes (limit {max_peak_bytes})"
    if error is not None:
        message = str(error).strip()
        assert len(message) >= 8, f"{type(error).__name__} without a clear message: {message!r}"
        assert error.reason.startswith(type(error).__name__)
    return Bounded(value, error, seconds, peak)


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def logged_errors(logger: str) -> Iterator[list[logging.LogRecord]]:
    """ERROR records of ``logger`` (and below it) while the block runs: a parser that
    swallows its own crash still logs it, and that is a bug too."""
    keep = _Keep()
    target = logging.getLogger(logger)
    previous = target.level
    target.addHandler(keep)
    if target.getEffectiveLevel() > logging.ERROR:
        target.setLevel(logging.ERROR)
    try:
        yield keep.records
    finally:
        target.removeHandler(keep)
        target.setLevel(previous)
