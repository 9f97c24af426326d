"""On the SQL broker a paused per-instance (exclusive) queue is not taken for the queue
of a dead process: other processes' sweeps leave it, with its messages."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from bus.transport import Delivery, QueueSpec, transport_for
from tests.services import require_postgres
from tests.transport.test_transport_contract import Inbox, message

pytestmark = pytest.mark.asyncio

LEASE = 0.2
SWEPT_AFTER = 10 * LEASE
"""An exclusive queue with no live consumer for ten leases is deleted by a sweep."""


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqla+sqlite:///{tmp_path / 'broker.db'}?poll_interval=0.02&lease={LEASE}"
    else:
        yield "sqla+" + require_postgres() + f"?poll_interval=0.02&lease={LEASE}"


async def acknowledge(delivery: Delivery) -> None:
    await delivery.ack()


async def test_paused_exclusive_queues_outlive_the_sweeps_of_other_processes(
    database: str, unique: str
) -> None:
    owner, sweeper = transport_for(database), transport_for(database)
    await owner.connect()
    await sweeper.connect()
    paused_later, paused_from_start = f"{unique}.paused-later", f"{unique}.paused-at-start"
    try:
        inboxes = {paused_later: Inbox(), paused_from_start: Inbox()}
        for queue in inboxes:
            await owner.declare_queue(QueueSpec(queue, exclusive=True))
        consumers = [await owner.consume(paused_later, inboxes[paused_later]),
                     await owner.consume(paused_from_start, inboxes[paused_from_start],
                                         paused=True)]
        await consumers[0].pause()
        for queue in inboxes:
            await owner.send_to_queue(queue, message(queue))
        await sweeper.declare_queue(QueueSpec(f"{unique}.work"))
        await sweeper.consume(f"{unique}.work", acknowledge)  # its heartbeats sweep

        await asyncio.sleep(SWEPT_AFTER + 1.5)
        stats = await sweeper.queue_stats_many(list(inboxes))
        assert {queue: getattr(answer, "messages", answer) for queue, answer in stats.items()
                } == dict.fromkeys(inboxes, 1)
        assert all(inbox.deliveries == [] for inbox in inboxes.values())

        for consumer in consumers:
            await consumer.resume()
        for queue, inbox in inboxes.items():
            [delivery] = await inbox.wait_for(1)
            assert delivery.message_id == f"m-{queue}"
    finally:
        await owner.close()
        await sweeper.close()
