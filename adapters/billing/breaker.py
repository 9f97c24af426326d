"""A circuit breaker: stop hammering a billing that keeps failing, and say so in health.

After ``failures`` transient failures in a row the circuit *opens*: calls fail
at once with :class:`~bus.errors.ExternalSystemUnavailable` (the bus retries
them later) until ``reset`` seconds have passed; then one call is let through
(*half-open*) and its outcome closes or re-opens the circuit.
"""

from __future__ import annotations

import threading
import time

from bus.errors import ExternalSystemUnavailable

__all__ = ["CircuitBreaker"]


class CircuitBreaker:
    def __init__(self, failures: int = 5, reset: float = 30.0, name: str = "billing") -> None:
        self.failures = failures
        self.reset = reset
        self.name = name
        self._count = 0
        self._opened_at: float | None = None
        self._probing = False
        self._lock = threading.Lock()
        self.last_error = ""

    @property
    def state(self) -> str:
        with self._lock:
            if self._opened_at is None:
                return "closed"
            return "half-open" if self._due() else "open"

    def before(self) -> None:
        """Raise at once while the circuit is open; let one probe through when it is due."""
        with self._lock:
            if self._opened_at is None:
                return
            if self._due() and not self._probing:
                self._probing = True
                return
            wait = max(0.0, self._opened_at + self.reset - time.monotonic())
        raise ExternalSystemUnavailable(
            f"{self.name} circuit open after {self.failures} failures in a row "
            f"(next try in {wait:.0f}s): {self.last_error}")

    def succeeded(self) -> None:
        with self._lock:
            self._count = 0
            self._opened_at = None
            self._probing = False

    def failed(self, error: BaseException) -> None:
        with self._lock:
            self.last_error = str(error)[:300]
            self._count += 1
            self._probing = False
            if self._count >= self.failures:
                self._opened_at = time.monotonic()

    def _due(self) -> bool:
        assert self._opened_at is not None
        return time.monotonic() >= self._opened_at + self.reset
