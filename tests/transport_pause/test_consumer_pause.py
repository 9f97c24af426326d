"""Pausing a consumer keeps its queue and its messages: the transport contract, on every
transport (memory, SQLite, PostgreSQL, RabbitMQ)."""

from __future__ import annotations

import asyncio

import pytest

from bus.transport import QueueSpec, Transport
from tests.transport.test_transport_contract import Inbox, declared, drained, message

pytestmark = pytest.mark.asyncio

QUIET = 0.4
"""How long a paused consumer is watched for deliveries it should not get."""


async def depth_reaches(transport: Transport, queue: str, expected: int) -> int:
    """The queue's depth once it is ``expected`` (RabbitMQ counts a moment late), or the last."""
    for _ in range(50):
        depth = await drained(transport, queue)
        if depth == expected:
            break
        await asyncio.sleep(0.05)
    return depth


async def test_messages_published_while_paused_wait_in_the_queue_then_arrive_once(
    transport: Transport, exchange: str, unique: str
) -> None:
    queue = await declared(transport, exchange, f"{unique}.q")
    inbox = Inbox()
    consumer = await transport.consume(queue, inbox)
    await transport.publish(exchange, message("before"))
    await inbox.wait_for(1)

    await consumer.pause()
    for n in range(3):
        await transport.publish(exchange, message(n))
    await asyncio.sleep(QUIET)
    assert [d.message_id for d in inbox.deliveries] == ["m-before"]
    assert await depth_reaches(transport, queue, 3) == 3
    assert (await transport.queue_stats(queue)).consumers == 0

    await consumer.resume()
    await inbox.wait_for(4)
    await asyncio.sleep(QUIET)
    assert [d.message_id for d in inbox.deliveries] == ["m-before", "m-0", "m-1", "m-2"]
    assert not any(d.redelivered for d in inbox.deliveries)
    assert await depth_reaches(transport, queue, 0) == 0


async def test_deliveries_held_when_pausing_are_still_settled_by_their_consumer(
    transport: Transport, exchange: str, unique: str
) -> None:
    queue = await declared(transport, exchange, f"{unique}.q")
    hoarder = Inbox(settle=None)
    consumer = await transport.consume(queue, hoarder)
    for n in range(2):
        await transport.publish(exchange, message(n))
    held = await hoarder.wait_for(2)

    await consumer.pause()
    await held[0].ack()
    await held[1].nack(requeue=True)
    await asyncio.sleep(QUIET)
    assert len(hoarder.deliveries) == 2  # the requeued one waits for the resume
    assert await depth_reaches(transport, queue, 1) == 1

    await consumer.resume()
    _, _, again = await hoarder.wait_for(3)
    await again.ack()
    assert (again.message_id, again.redelivered) == ("m-1", True)
    assert await depth_reaches(transport, queue, 0) == 0


async def test_pause_and_resume_are_idempotent_and_cancel_ends_a_paused_consumer(
    transport: Transport, exchange: str, unique: str
) -> None:
    queue = await declared(transport, exchange, f"{unique}.q")
    inbox = Inbox()
    consumer = await transport.consume(queue, inbox)
    await consumer.pause()
    await consumer.pause()
    await transport.publish(exchange, message(1))
    await consumer.resume()
    await consumer.resume()
    await inbox.wait_for(1)
    await consumer.pause()
    await transport.publish(exchange, message(2))
    await consumer.cancel()
    await asyncio.sleep(QUIET)
    assert [d.message_id for d in inbox.deliveries] == ["m-1"]
    assert await depth_reaches(transport, queue, 1) == 1


async def test_a_paused_exclusive_queue_is_kept_with_its_messages(
    transport: Transport, exchange: str, unique: str
) -> None:
    queue = f"{unique}.mine"
    await transport.declare_queue(QueueSpec(queue, bindings=("#",), exclusive=True), exchange)
    inbox = Inbox()
    consumer = await transport.consume(queue, inbox)
    await consumer.pause()
    await transport.publish(exchange, message(1))
    assert await depth_reaches(transport, queue, 1) == 1
    await consumer.resume()
    [delivery] = await inbox.wait_for(1)
    assert delivery.message_id == "m-1"


async def test_pausing_the_single_active_consumer_passes_the_queue_to_the_next(
    transport: Transport, exchange: str, unique: str
) -> None:
    queue = f"{unique}.ordered"
    await transport.declare_queue(
        QueueSpec(queue, bindings=("#",), single_active_consumer=True), exchange)
    first, second = Inbox(), Inbox()
    active = await transport.consume(queue, first)
    await transport.publish(exchange, message(1))
    await first.wait_for(1)
    await transport.consume(queue, second)
    await active.pause()
    await transport.publish(exchange, message(2))
    [delivery] = await second.wait_for(1)
    assert delivery.message_id == "m-2"
    assert [d.message_id for d in first.deliveries] == ["m-1"]


async def test_a_consumer_started_paused_gets_nothing_until_resumed(
    transport: Transport, exchange: str, unique: str
) -> None:
    queue = await declared(transport, exchange, f"{unique}.q")
    await transport.publish(exchange, message(1))
    inbox = Inbox()
    consumer = await transport.consume(queue, inbox, paused=True)
    await asyncio.sleep(QUIET)
    assert inbox.deliveries == []
    assert await depth_reaches(transport, queue, 1) == 1
    assert (await transport.queue_stats(queue)).consumers == 0
    await consumer.resume()
    [delivery] = await inbox.wait_for(1)
    assert delivery.message_id == "m-1"
