"""The poison bound: a message its consumer never settles is not redelivered forever.

In process, on every transport: a handler that never returns, its bus stopped
each time (so the broker takes the message back and redelivers it, as after a
crash). The real thing, a handler that SIGKILLs its own process, is in
``test_poison_process.py``.
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
BOUND = 2


def never_settling() -> tuple[Router, list[tuple[str, int, bool]]]:
    router = Router()
    entries: list[tuple[str, int, bool]] = []

    @router.subscriber("fragile", EVENT, retry=RetryPolicy(max_attempts=1, delays=()))
    async def hang(envelope: Envelope, context: Context) -> None:
        entries.append((envelope.payload["n"], context.attempt, context.redelivered))
        await asyncio.Event().wait()  # "dies" here: its bus is stopped before it returns

    return router, entries


async def test_a_message_never_settled_is_dead_lettered_past_the_redelivery_bound(
    make_bus: BusFactory,
) -> None:
    router, entries = never_settling()
    poison = Envelope(type=EVENT, payload={"n": "poison"}, source="test")
    for run in range(1 + BOUND):  # the first delivery and BOUND redeliveries: handled
        consumer = await make_bus(router, max_redeliveries=BOUND)
        if run == 0:
            await consumer.publish(poison)
        await eventually(lambda run=run: len(entries) == run + 1)  # type: ignore[misc]
        await consumer.stop()

    survivor = await make_bus(router, max_redeliveries=BOUND)
    await eventually(lambda: survivor.dead_letters.count() == 1)
    await asyncio.sleep(0.2)
    assert entries == [("poison", 1, False)] + [("poison", 1, True)] * BOUND
    [record] = survivor.dead_letters.list()
    assert record.message_id == poison.id
    assert record.reason == (f"redelivered {BOUND + 1} times without being settled "
                             "(the consumer died handling it?)")


async def test_retries_are_attempts_not_redeliveries(make_bus: BusFactory) -> None:
    router = Router()
    attempts: list[tuple[int, bool]] = []

    @router.subscriber("flaky", EVENT, retry=RetryPolicy(max_attempts=4, delays=(0.05,)))
    async def flaky(envelope: Envelope, context: Context) -> None:
        attempts.append((context.attempt, context.redelivered))
        if context.attempt < 4:
            raise ConnectionResetError("billing hung up")

    bus = await make_bus(router, max_redeliveries=1)
    await bus.publish(Envelope(type=EVENT, payload={"n": "1"}, source="test"))
    await eventually(lambda: len(attempts) == 4)
    await asyncio.sleep(0.2)
    assert attempts == [(1, False), (2, False), (3, False), (4, False)]
    assert bus.dead_letters.count() == 0
