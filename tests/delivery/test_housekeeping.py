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
