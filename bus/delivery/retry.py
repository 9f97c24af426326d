"""What to do when a handler fails: retry later, or dead-letter now.

Permanent errors (:class:`bus.errors.PermanentError`) go to the dead-letter
queue at once. Everything else is retried with the policy's backoff until the
attempts run out; then it is dead-lettered too, with the last error as reason.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from bus.errors import EsbError, PermanentError

__all__ = ["Decision", "RetryPolicy", "failure_reason", "stack_summary"]


class Decision(Enum):
    RETRY = "retry"
    DEAD_LETTER = "dead_letter"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Attempts and backoff of one subscription.

    ``delays[i]`` is the wait before attempt ``i + 2``; past the end of the
    list the last delay repeats. On RabbitMQ each distinct delay becomes a
    retry queue with that TTL, so keep the list short.
    """

    max_attempts: int = 5
    delays: Sequence[float] = (1.0, 5.0, 30.0, 120.0)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if any(delay < 0 for delay in self.delays):
            raise ValueError("retry delays cannot be negative")

    def decide(self, error: BaseException, attempt: int) -> Decision:
        if isinstance(error, PermanentError) or attempt >= self.max_attempts:
            return Decision.DEAD_LETTER
        return Decision.RETRY

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if not self.delays:
            return 0.0
        return float(self.delays[min(attempt - 1, len(self.delays) - 1)])

    @property
    def tiers(self) -> tuple[float, ...]:
        """The distinct delays, for declaring retry queues."""
        return tuple(sorted(set(self.delays)))


def failure_reason(error: BaseException, attempt: int, policy: RetryPolicy) -> str:
    reason = error.reason if isinstance(error, EsbError) else f"{type(error).__name__}: {error}"
    if not isinstance(error, PermanentError) and attempt >= policy.max_attempts:
        reason = f"gave up after {attempt} attempts; last error {reason}"
    return reason


def stack_summary(error: BaseException, limit: int = 8) -> str:
    """The last frames of the traceback, short enough to keep with the message."""
    frames = traceback.format_exception(type(error), error, error.__traceback__, limit=-limit)
    return "".join(frames)[-4000:]
