"""What every simulator shares: switchable faults, and serving from the command line.

A simulator plays an external system on loopback for the demo and the tests
(:class:`~bus.adapters.loopback.LoopbackServer` for an HTTP face). Tests make
it misbehave with :class:`FaultSwitches`: a simulator's ``slow(...)``,
``fail(...)``, ``drop(...)`` add a :class:`Fault`; its request path asks
:meth:`FaultSwitches.active` whether a fault of a kind applies to this call
(each answer spends one of the fault's ``times``); ``clear()`` is back to
normal. :func:`serve_until_interrupted` is the ``main`` of
``python -m adapters.<system>.simulator``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Fault", "FaultSwitches", "Simulator", "operations", "serve_until_interrupted"]


@dataclass
class Fault:
    """One misbehaviour: of ``kind`` (the simulator's word: ``slow``, ``fail``, ``drop``),
    on ``operations`` (None: every call), ``times`` times (None: until cleared), once
    ``after`` calls have gone through normally."""

    kind: str
    operations: frozenset[str] | None = None
    times: int | None = None
    after: int = 0
    seconds: float = 0.0
    """How long a ``slow`` answer waits."""
    status: int = 503
    """The HTTP status of a failed answer."""
    code: str = "Server"
    message: str = ""
    """A protocol's own fault code and text (a SOAP fault's), where it carries one."""

    def applies(self, operation: str | None) -> bool:
        """Whether this call misbehaves; counts it against ``after`` and ``times``."""
        if self.operations is not None and operation not in self.operations:
            return False
        if self.after > 0:
            self.after -= 1
            return False
        if self.times is None:
            return True
        if self.times <= 0:
            return False
        self.times -= 1
        return True


def operations(*names: str | None) -> frozenset[str] | None:
    """The operations a fault is limited to; none named (or only None): every operation."""
    named = frozenset(name for name in names if name is not None)
    return named or None


class FaultSwitches:
    """The faults switched on in one simulator; safe from its request threads."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        """Back to normal service."""
        with self._lock:
            self._faults.clear()

    def active(self, kind: str, operation: str | None = None) -> Fault | None:
        """The first fault of ``kind`` that applies to this call of ``operation``, or None."""
        with self._lock:
            return next((fault for fault in self._faults
                         if fault.kind == kind and fault.applies(operation)), None)


class Simulator(Protocol):
    @property
    def url(self) -> str: ...

    def start(self) -> object: ...

    def stop(self) -> None: ...


def serve_until_interrupted(simulator: Simulator) -> None:
    """Print the simulator's URL (the first line, for scripts that start it), serve until
    Ctrl-C or SIGINT, then stop."""
    print(simulator.url, flush=True)
    simulator.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        simulator.stop()
