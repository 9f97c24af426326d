"""Bus throughput against raw kombu, on the same broker, in one run.

For each broker (memory, RabbitMQ):

* baseline: raw kombu, 1 KB persistent messages, publisher confirms on,
  publish N then consume N with manual acks;
* bus: N canonical events end to end — schema validation, topic routing,
  publish with confirms, delivery, decode + validation on consume, handler,
  journal (batched to SQLite), ack — with the idempotent consumer off and,
  separately, on; and (RabbitMQ) with the publisher in a second process, as
  an adapter publishing to a consumer elsewhere would be.

Prints msgs/s and the ratio bus / kombu. Not a test: nothing is asserted.

    python bench/bus_throughput.py [--count 20000] [--brokers memory,rabbitmq]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import tempfile
import time
import uuid
from multiprocessing.queues import Queue as ProcessQueue
from multiprocessing.synchronize import Event
from pathlib import Path

from kombu import Connection, Consumer, Exchange, Producer, Queue

from bus.app import Bus
from bus.envelope import Envelope
from bus.router import Router
from bus.settings import Settings
from bus.transport import transport_for

PAYLOAD_PADDING = "x" * 900  # with the envelope around it, about 1 KB on the wire
KOMBU_RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"
BUS_RABBITMQ = "amqp://guest:guest@127.0.0.1:5672/%2F"


def kombu_baseline(url: str, count: int) -> float:
    """Raw kombu publish → consume, msgs/s."""
    name = f"bench-kombu-{uuid.uuid4().hex[:8]}"
    exchange = Exchange(name, type="topic", durable=True)
    queue = Queue(name, exchange, routing_key="#", durable=True)
    body = b"x" * 1024
    options = {"confirm_publish": True} if url.startswith("amqp") else {}
    with Connection(url, transport_options=options) as connection:
        channel = connection.channel()
        queue(channel).declare()
        producer = Producer(channel, exchange=exchange)
        received = 0

        def on_message(_body: object, message: object) -> None:
            nonlocal received
            message.ack()  # type: ignore[attr-defined]
            received += 1

        started = time.perf_counter()
        for n in range(count):
            producer.publish(body, routing_key="bench.thing.happened.v1", delivery_mode=2,
                             message_id=str(n), content_type="application/octet-stream")
        with Consumer(channel, queues=[queue], callbacks=[on_message], accept=None,
                      prefetch_count=200):
            while received < count:
                connection.drain_events(timeout=10)
        elapsed = time.perf_counter() - started
        queue(channel).delete()
    return count / elapsed


def _settings(url: str, prefix: str, database: Path, name: str) -> Settings:
    return Settings(
        broker_url=url, database_url=f"sqlite:///{database}",
        exchange=f"{prefix}.events", queue_prefix=prefix, instance=f"{prefix}-{name}",
        delivery={"prefetch": 500},
    )


def _events(count: int) -> list[Envelope]:
    return [
        Envelope(type="test.thing.happened.v1", payload={"n": str(n), "padding": PAYLOAD_PADDING},
                 source="bench")
        for n in range(count)
    ]


async def _publish(bus: Bus, events: list[Envelope], *, batch: int = 250,
                   in_flight: int = 4) -> None:
    """Batches of ``batch`` with ``in_flight`` batches awaiting confirms at once, as a busy
    adapter publishes: the next batch goes out while the broker confirms the last."""
    gate = asyncio.Semaphore(in_flight)

    async def one(first: int) -> None:
        async with gate:
            await bus.publish_many(events[first:first + batch])

    await asyncio.gather(*(one(first) for first in range(0, len(events), batch)))


def _publisher_process(url: str, prefix: str, database: str, count: int,
                       go: Event, started: ProcessQueue[float]) -> None:
    """The producing side in a process of its own: an adapter publishing onto the bus."""

    async def run() -> None:
        bus = Bus(_settings(url, prefix, Path(database), "publisher"), source="bench")
        await bus.start()
        events = _events(count)
        go.wait()
        started.put(time.time())
        await _publish(bus, events)
        await bus.stop()
        bus.close()

    asyncio.run(run())


async def bus_end_to_end(url: str, count: int, *, idempotent: bool, workdir: Path,
                         split: bool = False) -> float:
    """Canonical events through the whole bus, msgs/s.

    ``split``: the publisher runs in a second process (as an adapter would) and
    this process only consumes; otherwise one process does both.
    """
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    done = asyncio.Event()
    received = 0
    finished_at = 0.0
    router = Router()

    @router.subscriber("bench", "test.thing.happened.v1", idempotent=idempotent)
    async def count_it(envelope: Envelope) -> None:
        nonlocal received, finished_at
        received += 1
        if received == count:
            finished_at = time.time()
            done.set()

    bus = Bus(_settings(url, prefix, workdir / f"{prefix}-consumer.db", "consumer"),
              source="bench")
    bus.include(router)
    await bus.start()
    if split:
        context = multiprocessing.get_context("spawn")
        go, started = context.Event(), context.Queue()
        publisher = context.Process(target=_publisher_process, args=(
            url, prefix, str(workdir / f"{prefix}-publisher.db"), count, go, started))
        publisher.start()
        await asyncio.sleep(3.0)  # imports and connection, not measured
        go.set()
        await asyncio.wait_for(done.wait(), timeout=600)
        began = float(started.get(timeout=10))
        publisher.join(30)
    else:
        events = _events(count)
        began = time.time()
        await _publish(bus, events)
        await asyncio.wait_for(done.wait(), timeout=600)
    elapsed = finished_at - began
    await bus.stop()
    bus.close()
    cleaner = transport_for(url)
    await cleaner.connect()
    await cleaner.delete_queue(f"{prefix}.bench")
    await cleaner.close()
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--brokers", default="memory,rabbitmq")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for broker in args.brokers.split(","):
            kombu_url = "memory://" if broker == "memory" else KOMBU_RABBITMQ
            bus_url = f"memory://bench-{uuid.uuid4().hex}" if broker == "memory" else BUS_RABBITMQ
            baseline = kombu_baseline(kombu_url, args.count)
            plain = asyncio.run(bus_end_to_end(bus_url, args.count, idempotent=False,
                                               workdir=workdir))
            once = asyncio.run(bus_end_to_end(bus_url, args.count, idempotent=True,
                                              workdir=workdir))
            split = None
            if broker != "memory":  # memory:// cannot cross a process boundary
                split = asyncio.run(bus_end_to_end(bus_url, args.count, idempotent=False,
                                                   workdir=workdir, split=True))
            print(f"[{broker}] {args.count} messages of ~1 KB")
            print(f"  raw kombu publish→consume (confirms, persistent): {baseline:10,.0f} msg/s")
            print(f"  bus end to end (validate+route+journal+ack):      {plain:10,.0f} msg/s"
                  f"   ratio {plain / baseline:.2f}")
            print(f"  bus end to end + idempotent consumer (SQL):       {once:10,.0f} msg/s"
                  f"   ratio {once / baseline:.2f}")
            if split is not None:
                print(f"  bus, publisher and consumer in two processes:     {split:10,.0f} msg/s"
                      f"   ratio {split / baseline:.2f}")


if __name__ == "__main__":
    main()
