"""What only the durable SQL transport promises, beyond the contract suite.

Leases: a consumer that dies (SIGKILL, no goodbye) loses its messages after
one lease and they come back marked redelivered; a live consumer keeps them
however long it works. Processes sharing the database compete for messages
without ever getting the same one twice.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bus.transport import Delivery, OutgoingMessage, QueueSpec, Transport, transport_for
from tests.services import require_postgres

pytestmark = pytest.mark.asyncio

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgres"])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A broker URL with a one-second lease, so crashes are noticed quickly."""
    if request.param == "sqlite":
        yield f"sqla+sqlite:///{tmp_path / 'broker.db'}?poll_interval=0.02&lease=1"
    else:
        yield "sqla+" + require_postgres() + "?poll_interval=0.02&lease=1"


@pytest.fixture
async def transport(sql_url: str) -> AsyncIterator[Transport]:
    opened = transport_for(sql_url)
    await opened.connect()
    yield opened
    await opened.close()


def message(n: int) -> OutgoingMessage:
    return OutgoingMessage(body=f'{{"n": {n}}}'.encode(), routing_key="test.thing.happened.v1",
                           message_id=f"m-{n}")


async def queue_with(transport: Transport, unique: str, count: int) -> str:
    exchange, queue = f"{unique}.events", f"{unique}.q"
    await transport.declare_exchange(exchange)
    await transport.declare_queue(QueueSpec(queue, bindings=("#",)), exchange)
    await transport.publish_many(exchange, [message(n) for n in range(count)])
    return queue


HOARDER = textwrap.dedent("""
    import asyncio, sys
    from bus.transport import transport_for

    async def main(url: str, queue: str, count: int) -> None:
        transport = transport_for(url)
        await transport.connect()
        held = []

        async def hold(delivery):
            held.append(delivery)
            if len(held) == count:
                print("holding", flush=True)

        await transport.consume(queue, hold, prefetch=count)
        await asyncio.sleep(60)

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
""")


async def test_messages_of_a_killed_consumer_come_back_redelivered_after_the_lease(
    transport: Transport, sql_url: str, unique: str
) -> None:
    queue = await queue_with(transport, unique, 3)
    hoarder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOARDER, sql_url, queue, "3",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert hoarder.stdout is not None
        line = await asyncio.wait_for(hoarder.stdout.readline(), 20)
        assert line.strip() == b"holding"
        assert (await transport.queue_stats(queue)).messages == 0
    finally:
        hoarder.send_signal(signal.SIGKILL)
        await hoarder.wait()
    killed_at = time.monotonic()
    received: list[Delivery] = []
    done = asyncio.Event()

    async def collect(delivery: Delivery) -> None:
        received.append(delivery)
        await delivery.ack()
        if len(received) == 3:
            done.set()

    await transport.consume(queue, collect)
    await asyncio.wait_for(done.wait(), 10)
    assert time.monotonic() - killed_at < 5
    assert [d.message_id for d in received] == ["m-0", "m-1", "m-2"]
    assert all(d.redelivered for d in received)


async def test_a_working_consumer_keeps_its_lease_past_the_lease_time(
    transport: Transport, unique: str
) -> None:
    queue = await queue_with(transport, unique, 1)
    slow, rival = Holder(), Holder()
    await transport.consume(queue, slow)
    await asyncio.wait_for(slow.arrived.wait(), 10)
    await transport.consume(queue, rival)
    await asyncio.sleep(2.5)
    assert rival.deliveries == []
    await slow.deliveries[0].ack()


class Holder:
    """Keeps every delivery unsettled."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.arrived = asyncio.Event()

    async def __call__(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)
        self.arrived.set()


async def test_competing_consumers_share_a_queue_without_duplicates(
    transport: Transport, sql_url: str, unique: str
) -> None:
    queue = await queue_with(transport, unique, 600)
    others = [transport_for(sql_url) for _ in range(2)]
    seen: list[str] = []
    all_seen = asyncio.Event()

    async def take(delivery: Delivery) -> None:
        seen.append(delivery.message_id)
        await delivery.ack()
        if len(seen) >= 600:
            all_seen.set()

    try:
        for other in others:
            await other.connect()
        for consumer_transport in (transport, *others):
            for _ in range(2):
                await consumer_transport.consume(queue, take, prefetch=7)
        await asyncio.wait_for(all_seen.wait(), 20)
        await asyncio.sleep(0.2)
    finally:
        for other in others:
            await other.close()
    assert len(seen) == 600
    assert len(set(seen)) == 600
    assert (await transport.queue_stats(queue)).messages == 0


async def test_queue_stats_count_live_consumers_of_every_process(
    transport: Transport, sql_url: str, unique: str
) -> None:
    queue = await queue_with(transport, unique, 0)
    other = transport_for(sql_url)
    await other.connect()
    try:
        consumer = await other.consume(queue, Holder())
        assert (await transport.queue_stats(queue)).consumers == 1
        await consumer.cancel()
        assert (await transport.queue_stats(queue)).consumers == 0
    finally:
        await other.close()


async def test_an_exclusive_queue_goes_with_its_transport(
    transport: Transport, sql_url: str, unique: str
) -> None:
    replies = f"{unique}.replies"
    owner = transport_for(sql_url)
    await owner.connect()
    await owner.declare_queue(QueueSpec(replies, dead_letter=False, exclusive=True))
    await transport.send_to_queue(replies, message(1))
    await owner.close()
    with pytest.raises(LookupError):
        await transport.queue_stats(replies)


async def test_describe_shows_bindings_and_depths(transport: Transport, unique: str) -> None:
    queue = await queue_with(transport, unique, 2)
    described = transport.describe()
    assert described["durable"] is True
    assert {"pattern": "#", "queue": queue} in described["exchanges"][f"{unique}.events"]
    assert described["queues"][queue] == 2
    assert described["queues"][f"{queue}.dlq"] == 0
    assert await transport.healthy()


async def test_a_queue_bound_by_another_process_gets_the_very_next_message(
    transport: Transport, sql_url: str, unique: str
) -> None:
    exchange = f"{unique}.events"
    await transport.declare_exchange(exchange)
    await transport.publish(exchange, message(0))
    other = transport_for(sql_url)
    await other.connect()
    try:
        queue = f"{unique}.late"
        await other.declare_queue(QueueSpec(queue, bindings=("#",)), exchange)
        await transport.publish(exchange, message(1))
        assert (await other.queue_stats(queue)).messages == 1
    finally:
        await other.close()


async def test_a_header_that_is_not_json_fails_only_its_own_publish(
    transport: Transport, unique: str
) -> None:
    queue = await queue_with(transport, unique, 0)
    bad = OutgoingMessage(body=b"{}", routing_key="x", message_id="bad", headers={"at": object()})
    results = await asyncio.gather(
        transport.publish(f"{unique}.events", message(1)),
        transport.publish(f"{unique}.events", bad),
        transport.publish(f"{unique}.events", message(2)),
        return_exceptions=True,
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], TypeError)
    assert (await transport.queue_stats(queue)).messages == 2


async def test_settling_after_the_consumer_stopped_changes_nothing(
    transport: Transport, unique: str
) -> None:
    queue = await queue_with(transport, unique, 4)
    holder = Holder()
    consumer = await transport.consume(queue, holder, prefetch=4)
    while len(holder.deliveries) < 4:
        holder.arrived.clear()
        await asyncio.wait_for(holder.arrived.wait(), 10)
    await consumer.cancel()
    first, second, third, fourth = holder.deliveries
    await first.ack()
    await second.nack(requeue=False)
    await third.retry(0)
    await fourth.dead_letter("too late")
    assert (await transport.queue_stats(queue)).messages == 4
    assert (await transport.queue_stats(f"{queue}.dlq")).messages == 0


async def test_a_callback_that_raises_gives_the_message_back(
    transport: Transport, unique: str
) -> None:
    queue = await queue_with(transport, unique, 1)
    attempts: list[Delivery] = []
    done = asyncio.Event()

    async def flaky(delivery: Delivery) -> None:
        attempts.append(delivery)
        if len(attempts) == 1:
            raise RuntimeError("handler bug")
        await delivery.ack()
        done.set()

    await transport.consume(queue, flaky)
    await asyncio.wait_for(done.wait(), 10)
    assert [d.redelivered for d in attempts] == [False, True]
