"""Housekeeping drops processed ids once no redelivery can need them."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from bus.delivery.idempotency import processed_messages
from tests.delivery.conftest import BusFactory

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_processed_ids_older_than_the_retention_are_forgotten(make_bus: BusFactory) -> None:
    bus = await make_bus(processed_retention_days=1)
    day = 86400
    with bus.engine.begin() as connection:
        connection.execute(processed_messages.insert(), [
            {"subscriber": "q", "message_id": "old", "processed_at": time.time() - 2 * day},
            {"subscriber": "q", "message_id": "fresh", "processed_at": time.time() - day / 2},
        ])
    removed = await bus.housekeeping.run_once()
    assert removed["processed ids"] == 1
    with bus.engine.connect() as connection:
        left = set(connection.scalars(sa.select(processed_messages.c.message_id)))
    assert left == {"fresh"}


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_journal_messages_past_retention_go_with_their_hops(make_bus: BusFactory) -> None:
    from bus.envelope import Envelope
    from bus.journal import EVENTS, MESSAGES

    bus = await make_bus(journal={"retention_days": 1, "flush_interval": 0.05})
    old, fresh = (Envelope(type="test.thing.happened.v1", payload={"n": n}, source="t")
                  for n in ("old", "fresh"))
    await bus.publish_many([old, fresh])
    assert bus.observability.journal is not None
    assert bus.observability.journal.flush()
    with bus.engine.begin() as connection:
        connection.execute(MESSAGES.update().where(MESSAGES.c.id == old.id)
                           .values(first_seen_at=time.time() - 2 * 86400))
    removed = await bus.housekeeping.run_once()
    assert removed["journal"] == 1
    assert bus.observability.query.get(old.id) is None
    assert bus.observability.query.get(fresh.id) is not None
    with bus.engine.connect() as connection:
        orphans = connection.scalar(sa.select(sa.func.count()).select_from(EVENTS)
                                    .where(EVENTS.c.message_id == old.id))
    assert orphans == 0
