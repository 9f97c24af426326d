"""A lane hands its task the deliveries in the order they came, and wakes it when idle."""

from __future__ import annotations

import asyncio

import pytest

from bus.delivery.lane import Lane
from bus.transport import Delivery

pytestmark = pytest.mark.asyncio


async def test_an_idle_lane_wakes_on_the_first_delivery_and_keeps_their_order() -> None:
    lane = Lane[Delivery | None]()
    waiting = asyncio.create_task(lane.arrived())
    await asyncio.sleep(0)
    assert not waiting.done()

    lane.put(None)  # the stop marker is an item like the others
    await asyncio.wait_for(waiting, 1)

    assert list(lane.ready) == [None]


async def test_a_lane_with_deliveries_waiting_does_not_wait() -> None:
    lane = Lane[Delivery | None]()
    lane.put(None)

    await asyncio.wait_for(lane.arrived(), 0.1)


async def test_a_cancelled_wait_leaves_the_lane_usable() -> None:
    lane = Lane[Delivery | None]()
    waiting = asyncio.create_task(lane.arrived())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting

    again = asyncio.create_task(lane.arrived())
    await asyncio.sleep(0)
    lane.put(None)
    await asyncio.wait_for(again, 1)


async def test_taken_waits_for_the_first_item_then_empties_the_lane_in_order() -> None:
    lane = Lane[int]()
    taking = asyncio.create_task(lane.taken())
    await asyncio.sleep(0)
    assert not taking.done()

    lane.put(1)
    lane.put(2)

    assert await asyncio.wait_for(taking, 1) == [1, 2]
    assert not lane.ready
