"""PBX events onto the bus: one envelope each, keyed so one call's events stay in order.

The PBX does not wait for us: what the AMI reader took from the socket exists nowhere
else. So when the broker does not take a batch, the batch goes to the bus's outbox
(SQL, the same database as the journal) and the outbox relay publishes it once the
broker is back; until every spilled row has left, later batches follow the same way,
so one call's events keep their order. A process killed during an outage loses nothing
it had read: the rows wait for the next relay.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import sqlalchemy as sa

from adapters.pbx.events import PbxEvent
from adapters.pbx.mapping import to_datetime
from bus.app import Bus
from bus.delivery.outbox import add_to_outbox, outbox
from bus.envelope import Envelope
from bus.errors import PermanentError

__all__ = ["PbxPublisher", "to_envelope"]

log = logging.getLogger(__name__)

SOURCE = "pbx"


def to_envelope(event: PbxEvent, *, source: str = SOURCE) -> Envelope:
    """``occurred_at`` is the PBX's own time of the event; ``key`` the Linkedid/extension."""
    return Envelope(type=event.type, payload=event.payload, source=source, key=event.key,
                    occurred_at=to_datetime(event.at_us))


class PbxPublisher:
    """Publishes batches with ``Bus.publish_many``; a batch the broker does not take goes
    to the outbox (see the module's doc), a schema violation is logged and dropped."""

    def __init__(self, bus: Bus, *, source: str = SOURCE) -> None:
        self.bus = bus
        self.source = source
        self.published = 0
        self.spilled = 0
        """Events that went through the outbox because the broker did not take them."""
        self._last_spilled_row: int | None = None
        """The newest outbox row of ours not yet seen gone (None: publishing directly)."""

    @property
    def spilling(self) -> bool:
        return self._last_spilled_row is not None

    async def publish(self, events: Sequence[PbxEvent]) -> None:
        if not events:
            return
        envelopes = [to_envelope(event, source=self.source) for event in events]
        if self.spilling and not await self._spill_drained():
            await self._spill(envelopes)
            return
        try:
            await self.bus.publish_many(envelopes)
        except PermanentError as error:
            log.error("PBX events dropped, the bus refused them: %s", error.reason)
            return
        except Exception as error:  # the broker did not take them: keep them in SQL
            log.warning("the broker did not take %d PBX events (%s): kept in the outbox "
                        "until it is back", len(envelopes), error)
            await self._spill(envelopes)
            return
        self.published += len(envelopes)

    async def _spill(self, envelopes: list[Envelope]) -> None:
        valid = []
        for envelope in envelopes:
            try:
                self.bus.validate(envelope)
            except PermanentError as error:
                log.error("PBX event dropped, the bus refused it: %s", error.reason)
                continue
            valid.append(envelope)
        if valid:
            self._last_spilled_row = await asyncio.to_thread(self._stage, valid)
            self.spilled += len(valid)
            self.bus.outbox_relay_poke()

    def _stage(self, envelopes: list[Envelope]) -> int:
        """One transaction: the batch in the outbox; the newest row id."""
        with self.bus.engine.begin() as connection:
            for envelope in envelopes:
                add_to_outbox(connection, envelope,
                              headers={"x-esb-key": envelope.key} if envelope.key else None)
            newest = connection.execute(sa.select(sa.func.max(outbox.c.id))).scalar_one()
        return int(newest)

    async def _spill_drained(self) -> bool:
        """Whether every spilled row has been published (then publish directly again)."""
        last = self._last_spilled_row
        if last is None:
            return True
        left = await asyncio.to_thread(self._rows_left, last)
        if left:
            return False
        log.info("the outbox has published the spilled PBX events: publishing directly again")
        self._last_spilled_row = None
        return True

    def _rows_left(self, last: int) -> bool:
        with self.bus.engine.connect() as connection:
            return connection.execute(
                sa.select(outbox.c.id).where(outbox.c.id <= last).limit(1)).first() is not None
