"""Raw AMQP client throughput on RabbitMQ: kombu, pika (blocking) and our transport.

Each client, in the same process and run, publishes N persistent 1 KB messages
through a durable topic exchange with publisher confirms on, then consumes
all N with manual acks (prefetch 200). The figure is N / (publish + consume
time); the ratio is against raw kombu measured in the same run.

* kombu: ``confirm_publish`` transport option, ``Producer.publish`` one by one
  (each waits for its confirm), ``drain_events`` with ``message.ack()``;
* pika ``BlockingConnection`` with ``confirm_delivery`` (also one confirm
  round trip per message), ``channel.consume`` with ``basic_ack``;
* :class:`bus.transport.amqp.AmqpTransport`: ``publish_many`` (confirms
  windowed, ``--window`` in flight), then ``consume`` and ``ack``.

Not a test: nothing is asserted. Queues and exchanges are unique per run and
deleted afterwards.

    python bench/amqp_clients.py [--count 20000] [--window 1000] [--url amqp://...]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pika
from kombu import Connection, Consumer, Exchange, Producer, Queue

from bus.transport import Delivery, OutgoingMessage, QueueSpec
from bus.transport.amqp import AmqpTransport

RABBITMQ = "amqp://guest:guest@127.0.0.1:5672/%2F"
BODY = b"x" * 1024
ROUTING_KEY = "bench.thing.happened.v1"
PREFETCH = 200


@dataclass(frozen=True)
class Result:
    client: str
    count: int
    publish: float
    consume: float

    @property
    def rate(self) -> float:
        return self.count / (self.publish + self.consume)


def _names(client: str) -> tuple[str, str]:
    prefix = f"bench-{client}-{uuid.uuid4().hex[:8]}"
    return f"{prefix}.events", f"{prefix}.q"


def _timed(step: Callable[[], Any]) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def kombu_client(url: str, count: int) -> Result:
    exchange_name, queue_name = _names("kombu")
    exchange = Exchange(exchange_name, type="topic", durable=True)
    queue = Queue(queue_name, exchange, routing_key="#", durable=True)
    with Connection(url, transport_options={"confirm_publish": True}) as connection:
        channel = connection.channel()
        queue(channel).declare()
        producer = Producer(channel, exchange=exchange)
        received = 0

        def on_message(_body: object, message: Any) -> None:
            nonlocal received
            message.ack()
            received += 1

        def publish() -> None:
            for n in range(count):
                producer.publish(BODY, routing_key=ROUTING_KEY, delivery_mode=2,
                                 message_id=str(n), content_type="application/octet-stream",
                                 content_encoding="binary")

        def consume() -> None:
            with Consumer(channel, queues=[queue], callbacks=[on_message], accept=None,
                          prefetch_count=PREFETCH):
                while received < count:
                    connection.drain_events(timeout=10)

        try:
            result = Result("kombu", count, _timed(publish), _timed(consume))
        finally:
            queue(channel).delete()
            exchange(channel).delete()
    return result


def pika_blocking_client(url: str, count: int) -> Result:
    exchange, queue = _names("pika")
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.exchange_declare(exchange, exchange_type="topic", durable=True)
        channel.queue_declare(queue, durable=True)
        channel.queue_bind(queue, exchange, routing_key="#")
        channel.confirm_delivery()
        channel.basic_qos(prefetch_count=PREFETCH)

        def publish() -> None:
            for n in range(count):
                properties = pika.BasicProperties(
                    message_id=str(n), content_type="application/octet-stream", delivery_mode=2
                )
                channel.basic_publish(exchange, ROUTING_KEY, BODY, properties)

        def consume() -> None:
            messages = channel.consume(queue, inactivity_timeout=10)
            for received, (method, _properties, _body) in enumerate(messages, start=1):
                if method is None:
                    raise TimeoutError(f"pika: got {received - 1} of {count}")
                channel.basic_ack(method.delivery_tag)
                if received == count:
                    break
            channel.cancel()

        try:
            return Result("pika BlockingConnection", count, _timed(publish), _timed(consume))
        finally:
            channel.queue_delete(queue)
            channel.exchange_delete(exchange)
    finally:
        connection.close()


async def transport_client(url: str, count: int, window: int) -> Result:
    exchange, queue = _names("esb")
    transport = AmqpTransport(url, confirm_window=window)
    await transport.connect()
    try:
        await transport.declare_exchange(exchange)
        await transport.declare_queue(QueueSpec(queue, bindings=("#",)), exchange)
        messages = [
            OutgoingMessage(body=BODY, routing_key=ROUTING_KEY, message_id=str(n),
                            content_type="application/octet-stream")
            for n in range(count)
        ]
        done = asyncio.Event()
        received = 0

        async def on_delivery(delivery: Delivery) -> None:
            nonlocal received
            await delivery.ack()
            received += 1
            if received == count:
                done.set()

        started = time.perf_counter()
        await transport.publish_many(exchange, messages)
        published = time.perf_counter()
        consumer = await transport.consume(queue, on_delivery, prefetch=PREFETCH)
        await asyncio.wait_for(done.wait(), timeout=600)
        consumed = time.perf_counter()
        await consumer.cancel()
        return Result(f"AmqpTransport (window {window})", count,
                      published - started, consumed - published)
    finally:
        await transport.delete_queue(queue)
        await _delete_exchange(url, exchange)
        await transport.close()


async def _delete_exchange(url: str, exchange: str) -> None:
    """The transport has no exchange deletion (the bus never needs one); pika does it."""

    def delete() -> None:
        connection = pika.BlockingConnection(pika.URLParameters(url))
        try:
            connection.channel().exchange_delete(exchange)
        finally:
            connection.close()

    await asyncio.to_thread(delete)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--window", type=int, default=1000, help="AmqpTransport confirm window")
    parser.add_argument("--url", default=RABBITMQ)
    args = parser.parse_args()

    baseline = kombu_client(args.url, args.count)
    results = [
        baseline,
        pika_blocking_client(args.url, args.count),
        asyncio.run(transport_client(args.url, args.count, args.window)),
    ]
    print(f"RabbitMQ, {args.count} persistent messages of 1 KB, publisher confirms on, "
          f"publish all then consume all (prefetch {PREFETCH}, manual ack)")
    print(f"  {'client':32} {'total msg/s':>12} {'publish':>10} {'consume':>10} {'vs kombu':>9}")
    for result in results:
        print(f"  {result.client:32} {result.rate:12,.0f} "
              f"{result.count / result.publish:10,.0f} {result.count / result.consume:10,.0f} "
              f"{result.rate / baseline.rate:8.2f}x")


if __name__ == "__main__":
    main()
