"""RabbitMQ acks leave in batches (``basic_ack(multiple=True)``) without acking too much.

A ``multiple`` ack settles every delivery up to its tag, so these tests check
that a delivery still being processed, or nacked, is never swept up by one:
after the consumer's channel closes, whatever was not acked is back in the
queue (or in the DLQ), and whatever was acked is gone.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bus.transport import Delivery, OutgoingMessage, QueueSpec, dead_letter_queue, transport_for
from bus.transport.amqp import AmqpTransport
from bus.transport.amqp.consumer import AmqpConsumer
from tests.conftest import eventually
from tests.services import require_rabbitmq

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def rabbit(unique: str) -> AsyncIterator[tuple[AmqpTransport, str]]:
    transport = transport_for(require_rabbitmq())
    assert isinstance(transport, AmqpTransport)
    await transport.connect()
    queue = f"{unique}.acks"
    await transport.declare_queue(QueueSpec(queue))
    yield transport, queue
    await transport.delete_queue(queue)
    await transport.close()


async def _fill(transport: AmqpTransport, queue: str, count: int) -> None:
    await asyncio.gather(*(
        transport.send_to_queue(queue, OutgoingMessage(
            body=str(n).encode(), routing_key="test.ack.sent.v1", message_id=str(n)))
        for n in range(count)))


async def _depth(transport: AmqpTransport, queue: str) -> int:
    return (await transport.queue_stats(queue)).messages


async def test_a_window_of_acks_leaves_in_few_frames_and_all_reach_the_broker(
    rabbit: tuple[AmqpTransport, str],
) -> None:
    transport, queue = rabbit
    count = 150
    await _fill(transport, queue, count)
    received: list[Delivery] = []

    async def ack(delivery: Delivery) -> None:
        received.append(delivery)
        await delivery.ack()

    consumer = await transport.consume(queue, ack, prefetch=200)
    assert isinstance(consumer, AmqpConsumer) and consumer.acks is not None
    batcher = consumer.acks
    await eventually(lambda: len(received) == count and batcher.pending == 0)
    frames = batcher.frames
    await consumer.cancel()  # closing the channel requeues whatever was not acked
    assert await _depth(transport, queue) == 0
    assert 1 <= frames < count / 3, f"{frames} ack frames for {count} messages"


async def test_a_multiple_ack_never_covers_a_delivery_in_progress_or_nacked(
    rabbit: tuple[AmqpTransport, str],
) -> None:
    transport, queue = rabbit
    await _fill(transport, queue, 10)
    held: list[Delivery] = []
    received: list[Delivery] = []

    async def settle(delivery: Delivery) -> None:
        received.append(delivery)
        if delivery.message_id == "0":
            held.append(delivery)  # still "processing": must stay unacked
        elif delivery.message_id == "5":
            await delivery.nack(requeue=False)  # to the DLQ, not acked by a neighbour
        else:
            await delivery.ack()

    consumer = await transport.consume(queue, settle, prefetch=20)
    assert isinstance(consumer, AmqpConsumer) and consumer.acks is not None
    batcher = consumer.acks
    await eventually(lambda: len(received) == 10 and batcher.pending == 0)
    await consumer.cancel()  # the held delivery goes back to the queue
    await eventually_depth(transport, queue, 1)
    await eventually_depth(transport, dead_letter_queue(queue), 1)

    again: list[Delivery] = []

    async def take(delivery: Delivery) -> None:
        again.append(delivery)
        await delivery.ack()

    second = await transport.consume(queue, take, prefetch=5)
    await eventually(lambda: len(again) == 1)
    await second.cancel()
    assert [d.message_id for d in again] == ["0"] and again[0].redelivered
    assert await _depth(transport, queue) == 0


async def eventually_depth(transport: AmqpTransport, queue: str, expected: int) -> None:
    for _ in range(100):
        depth = await _depth(transport, queue)
        if depth == expected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{queue} holds {depth} messages, expected {expected}")
