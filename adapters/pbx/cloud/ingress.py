"""Zadarma notifications onto the bus, exactly once, through the transactional outbox.

For each notification one database transaction (on the bus's database):

1. records ``(pbx_call_id, event:internal)`` - a notification Zadarma re-sends is seen
   there and changes nothing;
2. reads the call's state (row-locked on PostgreSQL), applies the notification
   (:mod:`adapters.pbx.cloud.mapping`), writes the state back;
3. stages the canonical events in the outbox, published by the bus's relay after commit.

Either all three happen or none: a failure answers 503 and Zadarma's retry finds nothing done.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from adapters.pbx.cloud.mapping import CloudCall, apply, call_id, new_call, notification_key
from adapters.pbx.events import PbxEvent
from adapters.pbx.publisher import to_envelope
from bus.db import ensure_tables
from bus.delivery.outbox import add_to_outbox

if TYPE_CHECKING:
    from bus.app import Bus

__all__ = ["CLOUD_METADATA", "CloudIngress", "cloud_calls", "cloud_notifications"]

CLOUD_METADATA = sa.MetaData()

cloud_calls = sa.Table(
    "pbx_cloud_calls",
    CLOUD_METADATA,
    sa.Column("provider", sa.String(32), primary_key=True),
    sa.Column("call_id", sa.String(128), primary_key=True),
    sa.Column("state", sa.JSON, nullable=False),
    sa.Column("ended", sa.Boolean, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

cloud_notifications = sa.Table(
    "pbx_cloud_notifications",
    CLOUD_METADATA,
    sa.Column("provider", sa.String(32), primary_key=True),
    sa.Column("call_id", sa.String(128), primary_key=True),
    sa.Column("notification", sa.String(64), primary_key=True),
    sa.Column("received_at", sa.Float, nullable=False),
)


class CloudIngress:
    """Takes verified notifications of one provider; returns the event types staged."""

    def __init__(self, bus: Bus, *, provider: str, zone: ZoneInfo, source: str = "pbx",
                 clock: Callable[[], float] = time.time, region: str = "RU") -> None:
        """``region``: of the provider's national numbers, for ``customer_e164``."""
        self.bus = bus
        self.provider = provider
        self.zone = zone
        self.region = region
        self.source = source
        self.clock = clock
        self.taken = 0
        self.duplicates = 0
        ensure_tables(CLOUD_METADATA, bus.engine)

    async def take(self, form: dict[str, str]) -> list[str]:
        """Apply one notification; [] when it was seen before or causes no event."""
        staged = await asyncio.to_thread(self._take, form)
        if staged is None:
            self.duplicates += 1
            return []
        self.taken += 1
        if staged:
            self.bus.outbox_relay_poke()
        return staged

    def prune(self, older_than: float) -> int:
        """Forget calls and notifications untouched for ``older_than`` seconds; how many rows.

        A call still open that long is forgotten too (Zadarma has long given up on it).
        """
        cutoff = self.clock() - older_than
        with self.bus.engine.begin() as db:
            calls = db.execute(cloud_calls.delete().where(
                cloud_calls.c.provider == self.provider, cloud_calls.c.updated_at < cutoff))
            seen = db.execute(cloud_notifications.delete().where(
                cloud_notifications.c.provider == self.provider,
                cloud_notifications.c.received_at < cutoff))
        return int(calls.rowcount or 0) + int(seen.rowcount or 0)

    def _take(self, form: dict[str, str]) -> list[str] | None:
        linkedid = call_id(form)
        now = self.clock()
        try:
            with self.bus.engine.begin() as db:
                if self._seen(db, linkedid, notification_key(form), now):
                    return None
                call, known = self._load(db, linkedid, form)
                events = apply(call, form, int(now * 1_000_000))
                self._save(db, call, known, now)
                for event in events:
                    self._stage(db, event)
        except IntegrityError:
            return None  # the same notification, committed by a concurrent request
        return [event.type for event in events]

    def _seen(self, db: sa.Connection, linkedid: str, key: str, now: float) -> bool:
        seen = db.execute(sa.select(cloud_notifications.c.received_at).where(
            cloud_notifications.c.provider == self.provider,
            cloud_notifications.c.call_id == linkedid,
            cloud_notifications.c.notification == key)).first()
        if seen is not None:
            return True
        db.execute(cloud_notifications.insert().values(
            provider=self.provider, call_id=linkedid, notification=key, received_at=now))
        return False

    def _load(self, db: sa.Connection, linkedid: str, form: dict[str, str]
              ) -> tuple[CloudCall, bool]:
        row = db.execute(sa.select(cloud_calls.c.state).where(
            cloud_calls.c.provider == self.provider, cloud_calls.c.call_id == linkedid,
        ).with_for_update()).first()
        if row is None:
            return new_call(form, self.zone, self.region), False
        state: dict[str, Any] = dict(row[0])
        return CloudCall.from_json(state), True

    def _save(self, db: sa.Connection, call: CloudCall, known: bool, now: float) -> None:
        values = {"state": call.to_json(), "ended": call.ended_us is not None,
                  "updated_at": now}
        if known:
            db.execute(cloud_calls.update().where(
                cloud_calls.c.provider == self.provider,
                cloud_calls.c.call_id == call.linkedid).values(**values))
        else:
            db.execute(cloud_calls.insert().values(
                provider=self.provider, call_id=call.linkedid, **values))

    def _stage(self, db: sa.Connection, event: PbxEvent) -> None:
        envelope = to_envelope(event, source=self.source)
        self.bus.validate(envelope)
        add_to_outbox(db, envelope)
