"""PBX events onto the bus: one envelope each, keyed so one call's events stay in order."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from tenacity import AsyncRetrying, retry_if_exception, wait_exponential

from adapters.pbx.events import PbxEvent
from adapters.pbx.mapping import to_datetime
from bus.app import Bus
from bus.envelope import Envelope
from bus.errors import PermanentError

__all__ = ["PbxPublisher", "to_envelope"]

log = logging.getLogger(__name__)

SOURCE = "pbx"


def to_envelope(event: PbxEvent, *, source: str = SOURCE) -> Envelope:
    """``occurred_at`` is the PBX's own time of the event; ``key`` the Linkedid/extension."""
    return Envelope(type=event.type, payload=event.payload, source=source, key=event.key,
                    occurred_at=to_datetime(event.at_us))


def _worth_retrying(error: BaseException) -> bool:
    return isinstance(error, Exception) and not isinstance(error, PermanentError)


class PbxPublisher:
    """Publishes batches with ``Bus.publish_many``; a broker outage is retried with backoff
    (the AMI reader waits meanwhile), a schema violation is logged and dropped."""

    def __init__(self, bus: Bus, *, source: str = SOURCE, max_delay: float = 30.0) -> None:
        self.bus = bus
        self.source = source
        self.published = 0
        self._max_delay = max_delay

    async def publish(self, events: Sequence[PbxEvent]) -> None:
        if not events:
            return
        envelopes = [to_envelope(event, source=self.source) for event in events]
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(_worth_retrying), reraise=True,
                wait=wait_exponential(multiplier=0.2, max=self._max_delay),
                before_sleep=lambda state: log.warning(
                    "publishing %d PBX events failed (%s); retry %d", len(envelopes),
                    state.outcome.exception() if state.outcome else "?", state.attempt_number),
            ):
                with attempt:
                    await self.bus.publish_many(envelopes)
        except PermanentError as error:
            log.error("PBX events dropped, the bus refused them: %s", error.reason)
            return
        self.published += len(envelopes)
