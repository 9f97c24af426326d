"""What a handler may ask of the bus while it processes one message."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from bus.delivery.outbox import add_to_outbox
from bus.envelope import Envelope

if TYPE_CHECKING:
    from bus.app import Bus
    from bus.router import Subscription

__all__ = ["Context"]

T = TypeVar("T")


@dataclass(slots=True)
class Context:
    envelope: Envelope
    subscription: Subscription
    queue: str
    attempt: int
    """1 on the first try; each retry after a failure adds one."""
    bus: Bus
    redelivered: bool = False
    """The broker delivered this before (a consumer died or gave it back)."""
    recorded: bool = field(default=False)
    """Set once :meth:`run_once` has recorded the message as processed."""

    async def publish(
        self, type: str, payload: Mapping[str, Any], *, key: str | None = None
    ) -> Envelope:
        """Publish an event caused by this message (same correlation id)."""
        event = self.envelope.caused(type, payload, source=self.bus.source)
        if key is not None:
            event = Envelope(**{**_fields(event), "key": key})
        await self.bus.publish(event)
        return event

    async def run_once(self, effect: Callable[[sa.Connection], T]) -> T:
        """Run a database side effect exactly once for this message and subscriber.

        ``effect`` gets a connection inside a transaction that also records the
        message as processed; on a redelivery it does not run again and
        :class:`~bus.delivery.idempotency.AlreadyProcessed` is raised (the bus
        treats that as success). Stage follow-up events with :meth:`stage` in
        the same transaction to publish them exactly when the effect commits.
        """
        result = await asyncio.to_thread(
            self.bus.processed.run_once, self.queue, self.envelope.id, effect
        )
        self.recorded = True
        self.bus.outbox_relay_poke()
        return result

    def stage(
        self, connection: sa.Connection, type: str, payload: Mapping[str, Any]
    ) -> Envelope:
        """Stage a caused event in ``connection``'s transaction (transactional outbox)."""
        event = self.envelope.caused(type, payload, source=self.bus.source)
        self.bus.validate(event)
        add_to_outbox(connection, event)
        return event


def _fields(envelope: Envelope) -> dict[str, Any]:
    return {name: getattr(envelope, name) for name in envelope.__slots__}
