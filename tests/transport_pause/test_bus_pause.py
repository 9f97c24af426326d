"""``Bus.pause`` / ``Bus.resume``: a paused subscription's messages wait in its queue and
drain, each handled once, when it is resumed; on every transport."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bus.app import Bus
from bus.envelope import Envelope
from bus.router import Router
from tests.conftest import BusFactory, eventually

pytestmark = pytest.mark.asyncio

THING = "test.thing.happened.v1"
QUIET = 0.4


def things(count: int) -> list[Envelope]:
    return [Envelope(type=THING, payload={"n": str(n)}, source="test") for n in range(count)]


def handled_by(router: Router, name: str, *, per_instance: bool = False,
               concurrency: int = 1) -> list[str]:
    """Subscribe ``name`` to every thing; the ids it handled, in order."""
    handled: list[str] = []

    @router.subscriber(name, THING, per_instance=per_instance, concurrency=concurrency)
    async def note(envelope: Envelope) -> None:
        handled.append(envelope.id)

    return handled


async def queue_entry(bus: Bus, name: str, messages: int | None = None) -> dict[str, Any]:
    """The subscription's line of the topology, once its depth is ``messages`` if given."""
    [subscription] = [s for s in bus.subscriptions if s.name == name]
    entry: dict[str, Any] = {}
    for _ in range(50):
        [entry] = [q for q in (await bus.topology())["queues"]
                   if q["queue"] == bus.queue_name(subscription)]
        if messages is None or entry.get("messages") == messages:
            break
        await asyncio.sleep(0.05)
    return entry


async def test_a_paused_subscription_keeps_its_messages_and_drains_them_once_resumed(
    make_bus: BusFactory,
) -> None:
    router = Router()
    paused = handled_by(router, "paused-things")
    running = handled_by(router, "running-things")
    bus = await make_bus(router)
    sent = things(5)

    await bus.pause("paused-things")
    await bus.publish_many(sent)
    await eventually(lambda: len(running) == 5)
    await asyncio.sleep(QUIET)
    assert paused == []
    entry = await queue_entry(bus, "paused-things", messages=5)
    assert (entry["paused"], entry["messages"], entry["consumers"]) == (True, 5, 0)
    assert bus.paused == {"paused-things"}

    await bus.resume("paused-things")
    await eventually(lambda: len(paused) == 5)
    await asyncio.sleep(QUIET)
    assert sorted(paused) == sorted(envelope.id for envelope in sent)
    entry = await queue_entry(bus, "paused-things", messages=0)
    assert (entry["paused"], entry["messages"]) == (False, 0)


async def test_a_handler_running_when_pausing_finishes_and_is_not_handled_again(
    make_bus: BusFactory,
) -> None:
    router = Router()
    gate = asyncio.Event()
    started: list[str] = []
    finished: list[str] = []

    @router.subscriber("slow-things", THING)
    async def slow(envelope: Envelope) -> None:
        started.append(envelope.id)
        await gate.wait()
        finished.append(envelope.id)

    bus = await make_bus(router)
    sent = things(3)
    await bus.publish_many(sent)
    await eventually(lambda: len(started) == 1)

    # The grace runs out while the first handler waits: the deliveries queued behind
    # it go back to the queue; the running one finishes once the gate opens.
    pausing = asyncio.create_task(bus.pause("slow-things", grace=0.2))
    await asyncio.sleep(0.5)
    gate.set()
    await pausing
    await asyncio.sleep(QUIET)
    assert finished == started == [sent[0].id]

    await bus.resume("slow-things")
    await eventually(lambda: len(finished) == 3)
    await asyncio.sleep(QUIET)
    assert sorted(finished) == sorted(envelope.id for envelope in sent)


async def test_a_per_instance_subscription_pauses_and_resumes(make_bus: BusFactory) -> None:
    router = Router()
    handled = handled_by(router, "instance-things", per_instance=True, concurrency=4)
    bus = await make_bus(router)
    await bus.pause("instance-things")
    sent = things(6)
    await bus.publish_many(sent)
    await asyncio.sleep(QUIET)
    assert handled == []
    assert (await queue_entry(bus, "instance-things", messages=6))["messages"] == 6
    await bus.resume("instance-things")
    await eventually(lambda: len(handled) == 6)
    assert sorted(handled) == sorted(envelope.id for envelope in sent)


async def test_requests_are_answered_while_another_subscription_is_paused(
    make_bus: BusFactory,
) -> None:
    router = Router()
    paused = handled_by(router, "paused-things")

    @router.responder(THING, THING, name="answers")
    async def answer(envelope: Envelope) -> dict[str, str]:
        return {"n": envelope.payload["n"]}

    bus = await make_bus(router, source="both")
    await bus.pause("paused-things")
    reply = await bus.request(THING, {"n": "7"}, timeout=5)
    assert reply.payload == {"n": "7"}
    assert paused == []


async def test_a_subscription_paused_before_the_bus_starts_starts_paused(
    make_bus: BusFactory,
) -> None:
    router = Router()
    handled = handled_by(router, "late-things")
    bus = await make_bus(router, start=False)
    await bus.pause("late-things")
    await bus.start()
    sent = things(2)
    await bus.publish_many(sent)
    await asyncio.sleep(QUIET)
    assert handled == []
    await bus.resume("late-things")
    await eventually(lambda: len(handled) == 2)


async def test_pausing_an_unknown_subscription_is_refused(make_bus: BusFactory) -> None:
    router = Router()
    handled_by(router, "known")
    bus = await make_bus(router)
    with pytest.raises(LookupError, match="no subscription named unknown"):
        await bus.pause("known", "unknown")
    assert bus.paused == frozenset()
