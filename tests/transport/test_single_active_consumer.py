"""Ordered queues (single active consumer), a part of the contract run on every transport.

Two consumers of one ordered queue, as two processes would be: the first gets
every message, in order, while the other stands by; when the first stops, the
other takes over where it left off, its unsettled messages first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bus.transport import QueueSpec, Transport, transport_for
from tests.transport.test_transport_contract import Inbox, message

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def two_connections(broker_url: str, unique: str) -> AsyncIterator[tuple[Transport, ...]]:
    """Two transports on one broker, declaring an ordered queue bound to everything."""
    first, second = transport_for(broker_url), transport_for(broker_url)
    for transport in (first, second):
        await transport.connect()
        await transport.declare_exchange(f"{unique}.events")
    await first.declare_queue(QueueSpec(f"{unique}.ordered", bindings=("#",),
                                        single_active_consumer=True), f"{unique}.events")
    yield first, second
    for transport in (second, first):
        if broker_url.startswith("amqp"):
            for queue in transport.describe().get("queues", {}):
                await transport.delete_queue(queue)
        await transport.close()


async def publish(transport: Transport, unique: str, numbers: range) -> None:
    await transport.publish_many(f"{unique}.events", [message(n) for n in numbers])


def ids(numbers: range) -> list[str]:
    return [f"m-{n}" for n in numbers]


async def test_one_consumer_of_an_ordered_queue_gets_everything_until_it_stops(
    two_connections: tuple[Transport, Transport], unique: str
) -> None:
    first_transport, second_transport = two_connections
    queue = f"{unique}.ordered"
    active, standby = Inbox(), Inbox()
    # One message at a time each, so that a second consumer sharing the queue would
    # certainly get some of them.
    first = await first_transport.consume(queue, active, prefetch=1)
    await publish(first_transport, unique, range(0, 5))
    await active.wait_for(5)
    await second_transport.consume(queue, standby, prefetch=1)
    await publish(second_transport, unique, range(5, 20))
    await active.wait_for(20)
    await asyncio.sleep(0.5)
    assert [d.message_id for d in active.deliveries] == ids(range(20))
    assert standby.deliveries == []

    await first.cancel()
    await publish(first_transport, unique, range(20, 30))
    await standby.wait_for(10)
    assert [d.message_id for d in standby.deliveries] == ids(range(20, 30))
    assert len(active.deliveries) == 20


async def test_the_consumer_taking_over_gets_the_unsettled_messages_first_in_order(
    two_connections: tuple[Transport, Transport], unique: str
) -> None:
    first_transport, second_transport = two_connections
    queue = f"{unique}.ordered"
    hoarder, successor = Inbox(settle=None), Inbox()
    first = await first_transport.consume(queue, hoarder, prefetch=3)
    await publish(first_transport, unique, range(0, 6))
    await hoarder.wait_for(3)
    await second_transport.consume(queue, successor)
    await asyncio.sleep(0.3)
    assert successor.deliveries == []

    await first.cancel()
    await successor.wait_for(6)
    assert [d.message_id for d in successor.deliveries] == ids(range(6))
    assert [d.redelivered for d in successor.deliveries[:3]] == [True, True, True]
