"""Bus throughput against raw kombu, on the same broker, in one run.

For each broker (memory, RabbitMQ):

* baseline: raw kombu, 1 KB persistent messages, publisher confirms on,
  publish N then consume N with manual acks;
* bus: N canonical events end to end — schema validation, topic routing,
  publish with confirms, delivery, decode + validation on consume, handler,
  journal (batched to SQLite), ack — with the idempotent consumer off and,
  separately, on; and (RabbitMQ) with the publisher in a second process, as
  an adapter publishing to a consumer elsewhere would be.

Prints msgs/s and the ratio bus / kombu, and the CPU each message cost: this
process's CPU time (every thread: event loop, journal writer, ledger) per
message, plus the publisher process's in the two-process run and, when the
broker runs on this machine, RabbitMQ's own (``beam.smp``). On a shared box
wall-clock rates swing with the neighbours' load; CPU per message does much
less, so it is the figure to compare changes by. ``--repeat N`` runs it all N
times and prints min / median / max. Not a test: nothing is asserted.

    python bench/bus_throughput.py [--count 20000] [--brokers memory,rabbitmq] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.queues import Queue as ProcessQueue
from multiprocessing.synchronize import Event
from pathlib import Path

from kombu import Connection, Consumer, Exchange, Producer, Queue

from bus.app import Bus
from bus.envelope import Envelope
from bus.router import Router
from bus.schema import default_registry
from bus.settings import Settings
from bus.transport import transport_for

PAYLOAD_PADDING = "x" * 900  # with the envelope around it, about 1 KB on the wire
KOMBU_RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"
BUS_RABBITMQ = "amqp://guest:guest@127.0.0.1:5672/%2F"


@dataclass(frozen=True)
class Run:
    rate: float
    """Messages per second, wall clock."""
    cpu_us: float
    """CPU µs per message of the bench's processes (all threads, the publisher process too)."""
    broker_us: float | None = None
    """CPU µs per message of the RabbitMQ server, when it runs on this machine."""


def _broker_pid() -> int | None:
    """The local RabbitMQ server (Erlang VM), to read its CPU time; None if not here."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    if b"rabbit" in cmdline.read() and b"beam" in _comm(entry):
                        return int(entry)
            except OSError:
                continue
    return None


def _comm(pid: str) -> bytes:
    with open(f"/proc/{pid}/comm", "rb") as comm:
        return comm.read()


def _cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def measured(count: int, broker: int | None, run: Callable[[], tuple[float, float]]) -> Run:
    """``run`` returns msgs/s and the CPU seconds other processes of ours spent on them."""
    own, server = time.process_time(), _cpu_seconds(broker)
    rate, elsewhere = run()
    own, server = time.process_time() - own + elsewhere, _cpu_seconds(broker) - server
    return Run(rate, own / count * 1e6, server / count * 1e6 if broker is not None else None)


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
    """The producing side in a process of its own: an adapter publishing onto the bus.

    Puts the start time, then the CPU seconds publishing took (not the imports)."""

    async def run() -> None:
        bus = Bus(_settings(url, prefix, Path(database), "publisher"), source="bench")
        await bus.start()
        events = _events(count)
        go.wait()
        started.put(time.time())
        cpu = time.process_time()
        await _publish(bus, events)
        await bus.stop()
        bus.close()
        started.put(time.process_time() - cpu)

    asyncio.run(run())


async def bus_end_to_end(url: str, count: int, *, idempotent: bool, workdir: Path,
                         split: bool = False) -> tuple[float, float]:
    """Canonical events through the whole bus: msgs/s, and the publisher process's CPU
    seconds (0 when this process publishes too).

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
    publisher_cpu = 0.0
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
        publisher_cpu = float(started.get(timeout=60))
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
    return count / elapsed, publisher_cpu


LABELS = {
    "kombu": "raw kombu publish→consume (confirms, persistent)",
    "bus": "bus end to end (validate+route+journal+ack)",
    "idempotent": "bus end to end + idempotent consumer (SQL)",
    "split": "bus, publisher and consumer in two processes",
}


def one_round(broker: str, count: int, workdir: Path) -> dict[str, Run]:
    kombu_url = "memory://" if broker == "memory" else KOMBU_RABBITMQ
    bus_url = f"memory://bench-{uuid.uuid4().hex}" if broker == "memory" else BUS_RABBITMQ
    server = None if broker == "memory" else _broker_pid()
    runs = {
        "kombu": measured(count, server, lambda: (kombu_baseline(kombu_url, count), 0.0)),
        "bus": measured(count, server, lambda: asyncio.run(
            bus_end_to_end(bus_url, count, idempotent=False, workdir=workdir))),
        "idempotent": measured(count, server, lambda: asyncio.run(
            bus_end_to_end(bus_url, count, idempotent=True, workdir=workdir))),
    }
    if broker != "memory":  # memory:// cannot cross a process boundary
        runs["split"] = measured(count, server, lambda: asyncio.run(
            bus_end_to_end(bus_url, count, idempotent=False, workdir=workdir, split=True)))
    return runs


def _spread(values: list[float], form: str) -> str:
    if len(values) == 1:
        return format(values[0], form)
    low, middle, high = min(values), statistics.median(values), max(values)
    return f"{low:{form}} / {middle:{form}} / {high:{form}}"


def report(broker: str, count: int, rounds: list[dict[str, Run]]) -> None:
    shown = "" if len(rounds) == 1 else f", {len(rounds)} rounds: min / median / max"
    print(f"[{broker}] {count} messages of ~1 KB{shown}")
    for name, label in LABELS.items():
        if name not in rounds[0]:
            continue
        runs = [r[name] for r in rounds]
        line = f"  {label:50} {_spread([r.rate for r in runs], '7,.0f')} msg/s"
        if name != "kombu":
            ratios = [r[name].rate / r["kombu"].rate for r in rounds]
            line += f"   ratio {_spread(ratios, '.2f')}"
        line += f"   cpu {_spread([r.cpu_us for r in runs], '4.0f')} µs/msg"
        if runs[0].broker_us is not None:
            line += f" + broker {_spread([r.broker_us or 0.0 for r in runs], '4.0f')}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--brokers", default="memory,rabbitmq")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; prints min/median/max")
    args = parser.parse_args()
    default_registry().validate("test.thing.happened.v1", {"n": "0"})  # compiled before round 1
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for broker in args.brokers.split(","):
            rounds = [one_round(broker, args.count, workdir) for _ in range(args.repeat)]
            report(broker, args.count, rounds)


if __name__ == "__main__":
    main()
