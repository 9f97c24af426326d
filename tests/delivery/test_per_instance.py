"""Per-instance subscriptions: every bus process gets each event, on every transport.

A normal subscription is one queue shared by every process (competing consumers);
a per-instance one is a queue per process, named after its bus instance and gone
with it, for state each process keeps in memory (caches, presence, screen pops).
"""

from __future__ import annotations

import asyncio

import pytest

from bus.context import Context
from bus.delivery.retry import RetryPolicy
from bus.envelope import Envelope
from bus.router import Router
from tests.delivery.conftest import BusFactory, eventually

pytestmark = pytest.mark.asyncio

EVENT = "test.thing.happened.v1"
EVENTS = 10


def counting_router(*, per_instance: bool) -> tuple[Router, dict[str, list[str]]]:
    """One subscription whose handler notes which bus (by its source) got which event."""
    router = Router()
    received: dict[str, list[str]] = {}

    @router.subscriber("cache-invalidation", EVENT, idempotent=False, per_instance=per_instance)
    async def invalidate(envelope: Envelope, bus_source: BusSource) -> None:
        received.setdefault(bus_source.name, []).append(envelope.id)

    return router, received


class BusSource:
    """Which bus a handler runs in (provided to each bus)."""

    def __init__(self, name: str) -> None:
        self.name = name


async def two_buses(make_bus: BusFactory, router: Router) -> None:
    for name in ("first", "second"):
        bus = await make_bus(router, start=False)
        bus.provide(BusSource, BusSource(name))
        await bus.start()


async def publish_events(make_bus: BusFactory) -> list[str]:
    publisher = await make_bus()
    sent = [Envelope(type=EVENT, payload={"n": str(n)}, source="test") for n in range(EVENTS)]
    await publisher.publish_many(sent)
    return [envelope.id for envelope in sent]


async def test_every_instance_gets_each_event_of_a_per_instance_subscription(
    make_bus: BusFactory,
) -> None:
    router, received = counting_router(per_instance=True)
    await two_buses(make_bus, router)
    sent = await publish_events(make_bus)
    await eventually(lambda: sum(map(len, received.values())) >= 2 * EVENTS)
    await asyncio.sleep(0.2)
    assert sorted(received) == ["first", "second"]
    assert sorted(received["first"]) == sorted(sent)
    assert sorted(received["second"]) == sorted(sent)


async def test_instances_share_the_events_of_a_normal_subscription(
    make_bus: BusFactory,
) -> None:
    router, received = counting_router(per_instance=False)
    await two_buses(make_bus, router)
    sent = await publish_events(make_bus)
    await eventually(lambda: sum(map(len, received.values())) >= EVENTS)
    await asyncio.sleep(0.3)
    everything = [message for messages in received.values() for message in messages]
    assert sorted(everything) == sorted(sent), "each event once, to one of the instances"


async def test_a_per_instance_queue_is_named_after_its_instance_and_goes_away_with_it(
    make_bus: BusFactory,
) -> None:
    router, _received = counting_router(per_instance=True)
    bus = await make_bus(router)
    [subscription] = bus.subscriptions
    queue = bus.queue_name(subscription)
    assert queue == f"{bus.settings.queue_prefix}.cache-invalidation.{bus.settings.instance}"
    [entry] = (await bus.topology())["queues"]
    assert (entry["queue"], entry["per_instance"], entry["quorum"]) == (queue, True, False)

    # RabbitMQ lets only the owning connection see an exclusive queue: ask the bus itself.
    assert (await bus.transport.queue_stats(queue)).consumers == 1
    observer = await make_bus()
    await bus.stop()
    with pytest.raises(Exception):  # noqa: B017 - each broker says "no such queue" its own way
        await observer.transport.queue_stats(queue)


async def test_a_process_that_only_publishes_declares_no_per_instance_queue(
    make_bus: BusFactory,
) -> None:
    router, _received = counting_router(per_instance=True)
    bus = await make_bus(router, start=False)
    await bus.start(consume=False)
    [subscription] = bus.subscriptions
    with pytest.raises(Exception):  # noqa: B017
        await bus.transport.queue_stats(bus.queue_name(subscription))


async def test_a_per_instance_subscription_retries_through_its_own_delay_tiers(
    make_bus: BusFactory,
) -> None:
    router = Router()
    attempts: list[int] = []

    @router.subscriber("presence", EVENT, idempotent=False, per_instance=True,
                       retry=RetryPolicy(max_attempts=3, delays=(0.1,)))
    async def flaky(context: Context) -> None:
        attempts.append(context.attempt)
        if context.attempt < 3:
            raise ConnectionResetError("the presence board hung up")

    bus = await make_bus(router)
    await bus.emit(EVENT, {"n": "1"})
    await eventually(lambda: attempts == [1, 2, 3])
    assert bus.dead_letters.count() == 0
