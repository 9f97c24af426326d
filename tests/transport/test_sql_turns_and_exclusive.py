"""The SQL transport when a process dies (SIGKILL, no goodbye): the turn of an ordered
queue passes on after its lease, and the process's exclusive queues are deleted."""

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

from bus.transport import Delivery, QueueSpec, Transport, transport_for
from tests.services import require_postgres
from tests.transport.test_sql_transport import HOARDER, message

pytestmark = pytest.mark.asyncio

ROOT = Path(__file__).resolve().parents[2]

EXCLUSIVE_OWNER = textwrap.dedent("""
    import asyncio, sys
    from bus.transport import QueueSpec, transport_for

    async def main(url: str, queue: str) -> None:
        transport = transport_for(url)
        await transport.connect()
        await transport.declare_queue(QueueSpec(queue, exclusive=True))

        async def ignore(delivery):
            await delivery.ack()

        await transport.consume(queue, ignore)
        print("holding", flush=True)
        await asyncio.sleep(60)

    asyncio.run(main(sys.argv[1], sys.argv[2]))
""")


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqla+sqlite:///{tmp_path / 'broker.db'}?poll_interval=0.02"
    else:
        yield "sqla+" + require_postgres() + "?poll_interval=0.02"


@pytest.fixture
async def transport(database: str) -> AsyncIterator[Transport]:
    opened = transport_for(f"{database}&lease=1")
    await opened.connect()
    yield opened
    await opened.close()


async def acknowledge(delivery: Delivery) -> None:
    await delivery.ack()


async def holding(script: str, *arguments: str) -> asyncio.subprocess.Process:
    """Run ``script`` as a process until it prints ``holding``."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, *arguments,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 20)
        assert line.strip() == b"holding"
    except BaseException:
        await killed(process)
        raise
    return process


async def killed(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGKILL)
    await process.wait()


async def test_the_turn_of_a_killed_active_consumer_passes_on_after_its_lease(
    transport: Transport, database: str, unique: str
) -> None:
    exchange, queue = f"{unique}.events", f"{unique}.ordered"
    await transport.declare_exchange(exchange)
    await transport.declare_queue(
        QueueSpec(queue, bindings=("#",), single_active_consumer=True), exchange)
    await transport.publish_many(exchange, [message(n) for n in range(6)])
    received: list[Delivery] = []
    all_six = asyncio.Event()

    async def collect(delivery: Delivery) -> None:
        received.append(delivery)
        await delivery.ack()
        if len(received) == 6:
            all_six.set()

    hoarder = await holding(HOARDER, f"{database}&lease=1", queue, "3")
    try:
        await transport.consume(queue, collect)  # stands by while the hoarder has the turn
        await asyncio.sleep(0.5)
        assert received == []
    finally:
        await killed(hoarder)
    killed_at = time.monotonic()
    await asyncio.wait_for(all_six.wait(), 10)
    assert time.monotonic() - killed_at < 6
    assert [d.message_id for d in received] == [f"m-{n}" for n in range(6)]
    assert [d.redelivered for d in received] == [True] * 3 + [False] * 3


async def test_the_exclusive_queue_of_a_killed_process_is_deleted(
    database: str, unique: str
) -> None:
    url = f"{database}&lease=0.2"
    dead, alive = f"{unique}.dead-instance", f"{unique}.live-instance"
    neighbour, sweeper = transport_for(url), transport_for(url)
    await neighbour.connect()
    await sweeper.connect()
    try:
        await killed(await holding(EXCLUSIVE_OWNER, url, dead))
        await neighbour.declare_queue(QueueSpec(alive, exclusive=True))
        await neighbour.consume(alive, acknowledge)
        await sweeper.declare_queue(QueueSpec(f"{unique}.work"))
        await sweeper.consume(f"{unique}.work", acknowledge)  # its heartbeats sweep

        async def gone(queue: str) -> bool:
            return isinstance((await sweeper.queue_stats_many([queue]))[queue], LookupError)

        deadline = time.monotonic() + 15
        while not await gone(dead):
            assert time.monotonic() < deadline, "the killed process's queue is still there"
            await asyncio.sleep(0.1)
        await asyncio.sleep(2.5)  # older than the grace now, and consumed: it stays
        assert not await gone(alive)
    finally:
        await neighbour.close()
        await sweeper.close()
