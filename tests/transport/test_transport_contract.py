"""The transport contract: one suite, run on every transport.

Each test runs on ``memory://``, the durable embedded transport on SQLite and
on PostgreSQL, and RabbitMQ (see ``broker_url`` in ``tests/conftest.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from bus.transport import (
    ATTEMPT_HEADER,
    DEATH_HEADERS,
    Delivery,
    OutgoingMessage,
    QueueSpec,
    Transport,
    dead_letter_queue,
    transport_for,
)

pytestmark = pytest.mark.asyncio

WAIT = 10.0


@pytest.fixture
async def transport(broker_url: str) -> AsyncIterator[Transport]:
    opened = transport_for(broker_url)
    await opened.connect()
    yield opened
    if broker_url.startswith("amqp"):
        # RabbitMQ outlives the test: drop the queues it declared, with DLQs and tiers.
        for queue in opened.describe().get("queues", {}):
            await opened.delete_queue(queue)
    await opened.close()


@pytest.fixture
async def exchange(transport: Transport, unique: str) -> str:
    name = f"{unique}.events"
    await transport.declare_exchange(name)
    return name


class Inbox:
    """Collects deliveries; settles them as the test says."""

    def __init__(self, settle: str | None = "ack") -> None:
        self.deliveries: list[Delivery] = []
        self.settle = settle
        self.arrived = asyncio.Event()

    async def __call__(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)
        if self.settle == "ack":
            await delivery.ack()
        self.arrived.set()

    async def wait_for(self, count: int, timeout: float = WAIT) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        while len(self.deliveries) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"got {len(self.deliveries)} of {count} messages")
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), remaining)
        return self.deliveries

    @property
    def bodies(self) -> list[bytes]:
        return [d.body for d in self.deliveries]


def message(
    n: int | str, routing_key: str = "test.thing.happened.v1", **headers: str
) -> OutgoingMessage:
    return OutgoingMessage(
        body=f'{{"n": "{n}"}}'.encode(),
        routing_key=routing_key,
        message_id=f"m-{n}",
        headers=headers,
        correlation_id=f"c-{n}",
        type=routing_key,
    )


async def declared(
    transport: Transport, exchange: str, name: str, *patterns: str, retry: tuple[float, ...] = ()
) -> str:
    await transport.declare_queue(
        QueueSpec(name, bindings=patterns or ("#",), retry_delays=retry), exchange
    )
    return name


async def drained(transport: Transport, queue: str) -> int:
    return (await transport.queue_stats(queue)).messages


async def test_published_message_arrives_with_body_headers_and_ids(
    transport: Transport, exchange: str, unique: str
) -> None:
    queue = await declared(transport, exchange, f"{unique}.q")
    inbox = Inbox()
    await transport.consume(queue, inbox)
    await transport.publish(exchange, message(1, traceparent="00-abc-def-01"))
    [delivery] = await inbox.wait_for(1)
    assert delivery.body == b'{"n": "1"}'
    assert delivery.message_id == "m-1"
    assert delivery.correlation_id == "c-1"
    assert delivery.routing_key == "test.thing.happened.v1"
    assert delivery.headers["traceparent"] == "00-abc-def-01"
    assert delivery.redelivered is False
    assert delivery.attempt == 1


async def test_topic_patterns_route_each_type_to_matching_queues_only(
    transport: Transport, exchange: str, unique: str
) -> None:
    calls = await declared(transport, exchange, f"{unique}.calls", "pbx.call.*.v1")
    pbx = await declared(transport, exchange, f"{unique}.pbx", "pbx.#")
    billing = await declared(transport, exchange, f"{unique}.billing", "billing.#")
    await transport.publish(exchange, message(1, "pbx.call.ended.v1"))
    await transport.publish(exchange, message(2, "pbx.agent.presence.v1"))
    await transport.publish(exchange, message(3, "billing.account.changed.v1"))
    inboxes = {queue: Inbox() for queue in (calls, pbx, billing)}
    for queue, inbox in inboxes.items():
        await transport.consume(queue, inbox)
    await inboxes[pbx].wait_for(2)
    await inboxes[billing].wait_for(1)
    await inboxes[calls].wait_for(1)
    await asyncio.sleep(0.2)
    assert [d.message_id for d in inboxes[calls].deliveries] == ["m-1"]
    assert sorted(d.message_id for d in inboxes[pbx].deliveries) == ["m-1", "m-2"]
    assert [d.message_id for d in inboxes[billing].deliveries] == ["m-3"]


async def test_acked_message_is_gone_for_the_next_consumer(
    transport: Transport, exchange: str, unique: str
) -> None:
    queue = await declared(transport, exchange, f"{unique}.q")
    await transport.publish(exchange, message(1))
    first = Inbox()
    consumer = await transport.consume(queue, first)
    await first.wait_for(1)
    await consumer.cancel()
    second = Inbox()
    await transport.consume(queue, second)
    await asyncio.sleep(0.3)
    assert second.deliveries == []
    assert await drained(transport, queue) == 0


async def test_nack_with_requeue_redelivers_the_same_message_marked_redelivered(
    transport: Transport, exchange: str, unique: str
) -> None:
    queue = await declared(transport, exchange, f"{unique}.q")
    inbox = Inbox(settle=None)
    await transport.consume(queue, inbox)
    await transport.publish(exchange, message(1))
    [first] = await inbox.wait_for(1)
    await first.nack(requeue=True)
    _, second = await inbox.wait_for(2)
    await second.ack()
    assert second.message_id == first.message_id
    assert second.body == first.body
    assert (first.redelivered, second.redelivered) == (False, True)


async def test_unsettled_messages_go_back_when_the_consumer_stops(
    transport: Transport, exchange: str, unique: str
) -> None:
    queue = await declared(transport, exchange, f"{unique}.q")
    for n in range(3):
        await transport.publish(exchange, message(n))
    hoarder = Inbox(settle=None)
    consumer = await transport.consume(queue, hoarder)
    await hoarder.wait_for(3)
    await consumer.cancel()
    successor = Inbox()
    await transport.consume(queue, successor)
    redelivered = await successor.wait_for(3)
    assert sorted(d.message_id for d in redelivered) == ["m-0", "m-1", "m-2"]
    assert all(d.redelivered for d in redelivered)


async def test_dead_letter_keeps_the_original_and_the_reason(
    transport: Transport, exchange: str, unique: str
) -> None:
    queue = await declared(transport, exchange, f"{unique}.q")
    inbox = Inbox(settle=None)
    await transport.consume(queue, inbox)
    await transport.publish(exchange, message(1, traceparent="00-t-s-01"))
    [delivery] = await inbox.wait_for(1)
    await delivery.dead_letter("SchemaViolation: payload.phone: not E.164", "Traceback ...")
    graveyard = Inbox()
    await transport.consume(dead_letter_queue(queue), graveyard)
    [dead] = await graveyard.wait_for(1)
    assert dead.body == delivery.body
    assert dead.message_id == "m-1"
    assert dead.headers["traceparent"] == "00-t-s-01"
    assert dead.headers[DEATH_HEADERS["reason"]] == "SchemaViolation: payload.phone: not E.164"
    assert dead.headers[DEATH_HEADERS["error"]] == "Traceback ..."
    assert dead.headers[DEATH_HEADERS["queue"]] == queue
    assert await drained(transport, queue) == 0


async def test_rejected_message_without_requeue_lands_in_the_dead_letter_queue(
    transport: Transport, exchange: str, unique: str
) -> None:
    queue = await declared(transport, exchange, f"{unique}.q")
    inbox = Inbox(settle=None)
    await transport.consume(queue, inbox)
    await transport.publish(exchange, message(1))
    [delivery] = await inbox.wait_for(1)
    await delivery.nack(requeue=False)
    graveyard = Inbox()
    await transport.consume(dead_letter_queue(queue), graveyard)
    [dead] = await graveyard.wait_for(1)
    assert dead.message_id == "m-1"


async def test_retry_redelivers_after_the_delay_with_the_attempt_counted(
    transport: Transport, exchange: str, unique: str
) -> None:
    queue = await declared(transport, exchange, f"{unique}.q", retry=(0.5,))
    inbox = Inbox(settle=None)
    await transport.consume(queue, inbox)
    await transport.publish(exchange, message(1))
    [first] = await inbox.wait_for(1)
    retried_at = time.monotonic()
    await first.retry(0.5)
    await asyncio.sleep(0.25)
    assert len(inbox.deliveries) == 1, "retried before its delay"
    _, second = await inbox.wait_for(2)
    waited = time.monotonic() - retried_at
    await second.ack()
    assert waited >= 0.45
    assert second.message_id == "m-1"
    assert second.attempt == 2
    assert int(second.headers[ATTEMPT_HEADER]) == 2


async def test_prefetch_bounds_the_unsettled_messages_a_consumer_holds(
    transport: Transport, exchange: str, unique: str
) -> None:
    queue = await declared(transport, exchange, f"{unique}.q")
    for n in range(10):
        await transport.publish(exchange, message(n))
    inbox = Inbox(settle=None)
    await transport.consume(queue, inbox, prefetch=3)
    await inbox.wait_for(3)
    await asyncio.sleep(0.3)
    assert len(inbox.deliveries) == 3
    await inbox.deliveries[0].ack()
    await inbox.wait_for(4)
    await asyncio.sleep(0.2)
    assert len(inbox.deliveries) == 4


async def test_one_consumer_receives_one_publishers_messages_in_order(
    transport: Transport, exchange: str, unique: str
) -> None:
    queue = await declared(transport, exchange, f"{unique}.q")
    batch = [message(f"{n:04d}") for n in range(200)]
    await transport.publish_many(exchange, batch)
    inbox = Inbox()
    await transport.consume(queue, inbox, prefetch=50)
    received = await inbox.wait_for(200)
    assert [d.message_id for d in received] == [m.message_id for m in batch]


async def test_concurrent_publishes_are_all_confirmed_and_delivered(
    transport: Transport, exchange: str, unique: str
) -> None:
    queue = await declared(transport, exchange, f"{unique}.q")
    await asyncio.gather(*(transport.publish(exchange, message(n)) for n in range(500)))
    assert await drained(transport, queue) == 500
    inbox = Inbox()
    await transport.consume(queue, inbox, prefetch=100)
    received = await inbox.wait_for(500)
    assert len({d.message_id for d in received}) == 500


async def test_send_to_queue_bypasses_routing_and_can_be_delayed(
    transport: Transport, exchange: str, unique: str
) -> None:
    target = await declared(transport, exchange, f"{unique}.target", "nothing.matches.this.v1")
    other = await declared(transport, exchange, f"{unique}.other", "#")
    inbox = Inbox()
    await transport.consume(target, inbox)
    sent_at = time.monotonic()
    await transport.send_to_queue(target, message(1), delay=0.3)
    await transport.send_to_queue(target, message(2))
    await inbox.wait_for(2)
    assert [d.message_id for d in inbox.deliveries] == ["m-2", "m-1"]
    assert time.monotonic() - sent_at >= 0.25
    assert await drained(transport, other) == 0


async def test_transient_messages_arrive_routed_and_sent_straight_to_a_queue(
    transport: Transport, exchange: str, unique: str
) -> None:
    """Requests and replies are transient: not persisted, no confirm awaited; still delivered."""
    queue = await declared(transport, exchange, f"{unique}.q", "test.thing.*.v1")
    inbox = Inbox()
    await transport.consume(queue, inbox)
    for n in range(50):
        await transport.publish(exchange, replace(message(n), transient=True))
    await transport.send_to_queue(queue, replace(message("direct"), transient=True))
    received = await inbox.wait_for(51)
    assert sorted(d.message_id for d in received) == sorted(
        [f"m-{n}" for n in range(50)] + ["m-direct"])
    assert received[0].body == b'{"n": "0"}'


async def test_queue_stats_count_ready_messages_and_consumers(
    transport: Transport, exchange: str, unique: str
) -> None:
    queue = await declared(transport, exchange, f"{unique}.q")
    for n in range(4):
        await transport.publish(exchange, message(n))
    stats = await transport.queue_stats(queue)
    assert (stats.messages, stats.consumers) == (4, 0)
    assert await transport.purge(queue) == 4
    assert await drained(transport, queue) == 0


async def test_durable_transport_keeps_messages_across_a_reconnect(
    broker_url: str, unique: str
) -> None:
    first = transport_for(broker_url)
    if not first.durable:
        pytest.skip("memory:// keeps nothing across a restart, by design")
    await first.connect()
    exchange = f"{unique}.events"
    await first.declare_exchange(exchange)
    queue = await declared(first, exchange, f"{unique}.q")
    await first.publish(exchange, message(1))
    await first.close()

    second = transport_for(broker_url)
    await second.connect()
    try:
        inbox = Inbox()
        await second.consume(queue, inbox)
        [delivery] = await inbox.wait_for(1)
        assert delivery.message_id == "m-1"
    finally:
        await second.delete_queue(queue)
        await second.close()
