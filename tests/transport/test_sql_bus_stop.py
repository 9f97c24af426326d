"""Stopping a busy bus on the SQL broker is quick and loses or repeats nothing.

Every consumer stops taking messages at once, then each commits the acks it
made and gives back what it still holds, while the others do the same. It
used to be one consumer after the other, each waiting for every ack of the
consumers still running: 18-22 s for 24 subscriptions.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bus.app import Bus
from bus.envelope import Envelope
from bus.router import Router
from bus.settings import Settings
from bus.transport.sql.group_commit import GroupCommit
from tests.conftest import eventually

pytestmark = pytest.mark.asyncio

SUBSCRIPTIONS = 24
MESSAGES = 400
PREFETCH = 20
STOP_WITHIN = 3.0
"""Seconds. Measured here: 0.25-0.3 s; one consumer after another it took 2-9 s."""


def counting_handler(handled: Counter[tuple[str, str]], name: str
                     ) -> Callable[[Envelope], Awaitable[None]]:
    async def handle(envelope: Envelope) -> None:
        await asyncio.sleep(0.001)
        handled[(name, envelope.id)] += 1  # only once the handler has finished

    return handle


def counting_router(handled: Counter[tuple[str, str]]) -> Router:
    router = Router(source="test")
    for index in range(SUBSCRIPTIONS):
        name = f"s{index:02d}"
        router.subscriber(name, "test.thing.happened.v1")(counting_handler(handled, name))
    return router


def settings(broker: str, tmp_path: Path, unique: str, instance: str) -> Settings:
    return Settings(broker_url=broker, database_url=f"sqlite:///{tmp_path / 'bus.db'}",
                    exchange=f"{unique}.events", queue_prefix=unique,
                    instance=f"{unique}-{instance}", delivery={"prefetch": PREFETCH})


async def test_a_busy_bus_stops_in_seconds_and_no_message_is_lost_or_repeated(
    tmp_path: Path, unique: str
) -> None:
    broker = f"sqla+sqlite:///{tmp_path / 'broker.db'}?poll_interval=0.02"
    handled: Counter[tuple[str, str]] = Counter()
    first = Bus(settings(broker, tmp_path, unique, "first"), source="test")
    first.include(counting_router(handled))
    await first.start()
    envelopes = [Envelope(type="test.thing.happened.v1", payload={"n": str(n)}, source="test")
                 for n in range(MESSAGES)]
    expected = {(f"s{index:02d}", envelope.id)
                for index in range(SUBSCRIPTIONS) for envelope in envelopes}
    try:
        for start in range(0, MESSAGES, 50):
            await first.publish_many(envelopes[start:start + 50])
        # Under load: stop while every consumer holds and settles messages.
        await eventually(lambda: len(handled) >= len(expected) // 4, timeout=60)
    finally:
        began = time.monotonic()
        await first.stop()
        took = time.monotonic() - began
        first.close()
    left = len(expected) - len(handled)
    assert took < STOP_WITHIN, f"stop took {took:.1f}s with {left} deliveries left"
    assert left > 0, "everything was processed before the stop: no load to stop under"

    second = Bus(settings(broker, tmp_path, unique, "second"), source="test")
    second.include(counting_router(handled))
    await second.start()
    try:
        await eventually(lambda: len(handled) >= len(expected), timeout=90)
        await asyncio.sleep(0.5)  # a duplicate would show up by now
    finally:
        await second.stop()
        second.close()
    assert set(handled) == expected
    repeated = {key: count for key, count in handled.items() if count > 1}
    assert repeated == {}


async def test_flushed_waits_for_the_items_added_before_it_not_for_later_ones() -> None:
    written: list[list[int]] = []
    gates = [asyncio.Event() for _ in range(3)]

    async def write(batch: list[int]) -> None:
        await gates[len(written)].wait()  # each flush waits for its own gate
        written.append(batch)

    commits: GroupCommit[int] = GroupCommit(write, limit=2)
    for n in (1, 2, 3):
        commits.add(n)
    waiting = asyncio.create_task(commits.flushed())
    await asyncio.sleep(0)  # the call is made
    commits.add(4)  # after the call: not waited for
    commits.add(5)
    await asyncio.sleep(0.01)
    assert not waiting.done()
    gates[0].set()
    gates[1].set()
    await asyncio.wait_for(waiting, 1.0)  # [1, 2] then [3, 4]; [5] still blocked
    assert written == [[1, 2], [3, 4]]
    gates[2].set()
    await commits.wait()
    assert written == [[1, 2], [3, 4], [5]]
    await asyncio.wait_for(commits.flushed(), 1.0)  # nothing queued: returns at once
