"""A message leaves for RabbitMQ as one write: its method, header and body frames joined;
and the messages published in one loop turn leave in one ``send``.

pika hands each frame to its socket transport as a buffer of its own, sent by a
``send`` call of its own; the transport's connection joins a message's frames first
(one system call and one TCP segment for the broker instead of three), and the socket
sends what was buffered while it waited as one. What the broker gets back out must be
the very messages, a body larger than a frame included.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from bus.transport import Delivery, OutgoingMessage, QueueSpec, transport_for
from bus.transport.amqp import AmqpTransport
from tests.conftest import eventually
from tests.services import require_rabbitmq

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def rabbit(unique: str) -> AsyncIterator[tuple[AmqpTransport, str, list[bytes]]]:
    """The transport, a queue, and what pika handed its socket transport to write."""
    transport = transport_for(require_rabbitmq())
    assert isinstance(transport, AmqpTransport)
    await transport.connect()
    queue = f"{unique}.frames"
    await transport.declare_queue(QueueSpec(queue))
    socket_side: Any = transport._connection._transport  # pika's, not ours: watched only
    writes: list[bytes] = []
    write = socket_side.write

    def recorded(data: bytes) -> None:
        writes.append(bytes(data))
        write(data)

    socket_side.write = recorded
    yield transport, queue, writes
    await transport.delete_queue(queue)
    await transport.close()


@pytest.mark.parametrize("size", [40, 300_000])  # the broker's frame_max is 128 KiB
async def test_a_message_is_one_write_and_arrives_whole(
    rabbit: tuple[AmqpTransport, str, list[bytes]], size: int,
) -> None:
    transport, queue, writes = rabbit
    body = bytes(range(256)) * (size // 256) + b"end"
    received: list[Delivery] = []

    async def take(delivery: Delivery) -> None:
        received.append(delivery)
        await delivery.ack()

    consumer = await transport.consume(queue, take, prefetch=10)
    await transport.send_to_queue(queue, OutgoingMessage(
        body=body, routing_key="test.frames.sent.v1", message_id=f"m-{size}"))
    await eventually(lambda: len(received) == 1)
    await consumer.cancel()

    assert received[0].body == body and received[0].message_id == f"m-{size}"
    carrying = [w for w in writes if b"test.frames.sent.v1" in w]
    assert len(carrying) == 1, [len(w) for w in writes]
    # method, header and every body frame in that one write (a body over frame_max is
    # cut into frames, each with its own 8 bytes of framing)
    assert len(carrying[0]) > len(body) and body[-4000:] in carrying[0]


@dataclass
class OneTurn:
    """A queue consumed, the transient channel open, and every ``send`` pika's socket
    transport makes from then on."""

    transport: AmqpTransport
    queue: str
    received: list[Delivery]
    sends: list[bytes]

    async def publish_at_once(self, bodies: list[bytes]) -> None:
        """Each on the open transient channel: no await suspends in between."""
        for n, body in enumerate(bodies):
            await self.transport.send_to_queue(self.queue, OutgoingMessage(
                body=body, routing_key="test.frames.sent.v1", message_id=f"m-{n}",
                transient=True))


@pytest.fixture
async def one_turn(rabbit: tuple[AmqpTransport, str, list[bytes]]) -> AsyncIterator[OneTurn]:
    transport, queue, _writes = rabbit
    received: list[Delivery] = []

    async def take(delivery: Delivery) -> None:
        received.append(delivery)
        await delivery.ack()

    consumer = await transport.consume(queue, take, prefetch=50)
    await transport.send_to_queue(queue, OutgoingMessage(  # opens the transient channel
        body=b"first", routing_key="test.frames.sent.v1", message_id="m-first", transient=True))
    await eventually(lambda: len(received) == 1)
    received.clear()
    socket_side: Any = transport._connection._transport
    sends: list[bytes] = []
    send = socket_side._sigint_safe_send

    def recorded(sock: Any, data: bytes) -> int:
        sends.append(bytes(data))
        return int(send(sock, data))

    socket_side._sigint_safe_send = recorded
    yield OneTurn(transport, queue, received, sends)
    await consumer.cancel()


async def test_messages_published_in_one_loop_turn_leave_in_one_send(one_turn: OneTurn) -> None:
    bodies = [f"body-{n}".encode() for n in range(10)]

    await one_turn.publish_at_once(bodies)
    await eventually(lambda: len(one_turn.received) == 10)

    assert [d.body for d in one_turn.received] == bodies
    carrying = [s for s in one_turn.sends if b"test.frames.sent.v1" in s]
    assert len(carrying) == 1, [len(s) for s in one_turn.sends]
    assert all(body in carrying[0] for body in bodies)


async def test_a_large_backlog_leaves_in_chunks_and_arrives_whole_in_order(
    one_turn: OneTurn,
) -> None:
    bodies = [bytes([n]) * 150_000 + f"end-{n}".encode() for n in range(12)]  # ~1.8 MB

    await one_turn.publish_at_once(bodies)
    await eventually(lambda: len(one_turn.received) == 12, timeout=10)

    assert [d.body for d in one_turn.received] == bodies
    sizes = [len(s) for s in one_turn.sends]
    assert len(sizes) > 1 and max(sizes) < 256 * 1024 + 2 * 150_100, sizes
