"""A polling change feed: for a system that does not push, poll and stage what changed.

:class:`PollingFeed` is the loop and the bookkeeping every such feed shares; a
subclass says what one pass does in :meth:`~PollingFeed.pass_once` (read what
changed since its watermark, stage the events through the transactional outbox
with :mod:`bus.adapters.feedstate`) and returns how many events it staged.

* :meth:`~PollingFeed.run` polls every ``settings.poll_interval`` seconds until
  cancelled, or sooner when poked (:meth:`~PollingFeed.poke`); a failing pass is logged
  and retried with a backoff (0.5 s doubling, never longer than the interval):
  the loop outlives any trouble of the external system.
* :meth:`~PollingFeed.poll` runs one pass at a time (a lock), records
  ``last_poll``, ``last_error`` and the ``published`` count for health, and
  pokes the outbox relay when something was staged.
* :meth:`~PollingFeed.checked` validates an envelope against its schema, or logs
  why it cannot be published and returns None, so one odd record cannot stop
  the feed (it is read again next poll).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from bus.errors import SchemaViolation
from bus.masking import mask_text

if TYPE_CHECKING:
    from bus.app import Bus
    from bus.envelope import Envelope

__all__ = ["FeedSettings", "PollingFeed"]

FIRST_RETRY_SECONDS = 0.5
"""The pause after a first failed pass; it doubles with each failure in a row."""


class FeedSettings(Protocol):
    @property
    def poll_interval(self) -> float:
        """Seconds between passes."""
        ...


SettingsT = TypeVar("SettingsT", bound=FeedSettings)


class PollingFeed(Generic[SettingsT]):
    """One system's change feed; subclasses implement :meth:`pass_once`."""

    system: ClassVar[str] = "external"
    """Names the system in log lines (``billing feed: poll failed ...``)."""

    def __init__(self, bus: Bus, settings: SettingsT, *, source: str) -> None:
        self.bus = bus
        self.settings = settings
        self.source = source
        self.published = 0
        self.last_poll: float | None = None
        self.last_error: str | None = None
        self.log = logging.getLogger(type(self).__module__)
        """The subclass's module logger: an adapter's feed logs under its own package."""
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()

    async def pass_once(self) -> int:
        """Read what changed and stage its events; how many were staged."""
        raise NotImplementedError

    async def run(self) -> None:
        """Poll every ``poll_interval`` seconds (or when poked) until cancelled."""
        failures = 0
        while True:
            try:
                await self.poll()
                failures = 0
            except Exception as error:  # the loop outlives any trouble of the system
                failures += 1
                self.log.warning("%s feed: poll failed (%d in a row): %s", self.system, failures,
                            error)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.pause(failures))

    def pause(self, failures: int) -> float:
        """Seconds to wait before the next pass after ``failures`` failed passes in a row."""
        interval = self.settings.poll_interval
        if not failures:
            return interval
        return min(interval, FIRST_RETRY_SECONDS * 2.0 ** min(failures, 6))

    def poke(self) -> None:
        """Poll now instead of at the end of the pause."""
        self._wake.set()

    async def poll(self) -> int:
        """One pass over what changed since the watermark; how many events were staged."""
        async with self._lock:
            try:
                staged = await self.pass_once()
            except Exception as error:
                self.last_error = f"{type(error).__name__}: {error}"
                raise
            self.last_error = None
            self.last_poll = time.time()
            self.published += staged
            if staged:
                self.bus.outbox_relay_poke()
            return staged

    def status(self) -> dict[str, Any]:
        """The feed's part of its adapter's health checks."""
        return {"last_poll": self.last_poll, "published": self.published}

    def checked(self, envelope: Envelope, what: str) -> Envelope | None:
        """``envelope`` if its payload fits its schema; else None, logged naming ``what``."""
        try:
            self.bus.validate(envelope)
        except SchemaViolation as violation:
            self.log.error("%s %s cannot be published: %s", self.system, what,
                      mask_text(str(violation)))
            return None
        return envelope
