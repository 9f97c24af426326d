"""A polling change feed on the SDK: each change published once, the loop outlives failures."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from tests.conftest import BusFactory, collector, eventually
from tests.sdk.ticket_feed import EVENT, HelpDesk, TicketFeed, TicketSettings

pytestmark = pytest.mark.parametrize("broker_url", ["memory"], indirect=True)


async def test_each_change_is_published_once_and_counted_for_health(make_bus: BusFactory
                                                                     ) -> None:
    router, received = collector(EVENT)
    bus = await make_bus(router)
    desk = HelpDesk()
    feed = TicketFeed(bus, desk, TicketSettings())
    desk.write("T-1", "printer on fire")
    desk.write("T-2", "no dial tone")

    assert await feed.poll() == 2
    assert await feed.poll() == 0  # nothing changed since the watermark
    desk.write("T-1", "printer still on fire")
    assert await feed.poll() == 1
    await eventually(lambda: len(received) == 3)

    assert [(e.key, e.payload["n"]) for e in received] == [
        ("T-1", "printer on fire"), ("T-2", "no dial tone"), ("T-1", "printer still on fire")]
    status = feed.status()
    assert status["published"] == 3
    assert status["last_poll"] is not None
    assert feed.last_error is None


async def test_a_record_read_again_after_a_lost_watermark_is_not_published_twice(
    make_bus: BusFactory,
) -> None:
    bus = await make_bus()
    desk = HelpDesk()
    desk.write("T-1", "printer on fire")
    assert await TicketFeed(bus, desk, TicketSettings()).poll() == 1

    restarted = TicketFeed(bus, desk, TicketSettings())
    restarted.marks.prefix = "a-new-feed-name"  # its watermark starts from nothing
    assert await restarted.poll() == 0  # the ledger still knows T-1 at this version


async def test_a_record_that_breaks_its_schema_is_skipped_and_the_rest_published(
    make_bus: BusFactory, caplog: pytest.LogCaptureFixture,
) -> None:
    bus = await make_bus()
    desk = HelpDesk()
    desk.write("T-1", {"not": "text"})
    desk.write("T-2", "no dial tone")

    assert await TicketFeed(bus, desk, TicketSettings()).poll() == 1
    assert "help desk ticket T-1 cannot be published" in caplog.text


async def test_a_failing_pass_is_reported_and_the_loop_recovers_when_the_system_answers(
    make_bus: BusFactory,
) -> None:
    bus = await make_bus()
    desk = HelpDesk()
    desk.down = True
    feed = TicketFeed(bus, desk, TicketSettings(poll_interval=0.05))
    with pytest.raises(ConnectionError):
        await feed.poll()
    assert feed.last_error == "ConnectionError: help desk does not answer"

    loop = asyncio.get_running_loop().create_task(feed.run())
    try:
        desk.write("T-1", "printer on fire")
        desk.down = False
        feed.poke()
        await eventually(lambda: feed.published == 1)
        assert feed.last_error is None
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop


async def test_after_failures_the_pause_doubles_from_half_a_second_up_to_the_interval(
    make_bus: BusFactory,
) -> None:
    feed = TicketFeed(await make_bus(start=False), HelpDesk(), TicketSettings(poll_interval=3))

    assert [feed.pause(failures) for failures in range(5)] == [3, 1, 2, 3, 3]
