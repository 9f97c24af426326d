"""The poison bound for real: a message whose handler SIGKILLs its process.

Each consumer process started takes the message and dies; the broker hands it
back, marked redelivered, to the next one. Past the bound the next process
dead-letters it instead of dying, and goes on with the other messages.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bus.app import Bus
from bus.envelope import Envelope
from bus.settings import Settings
from tests.delivery import poison_process
from tests.services import require_rabbitmq

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BOUND = 2


@pytest.fixture(params=["sqlite", "rabbitmq"])
def durable_broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "rabbitmq":
        yield require_rabbitmq()
    else:
        yield f"sqla+sqlite:///{tmp_path / 'broker.db'}?poll_interval=0.02&lease=1"


async def consumer_process(broker: str, database: str, prefix: str
                           ) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.delivery.poison_process", "--broker", broker,
        "--database", database, "--prefix", prefix, "--max-redeliveries", str(BOUND),
        cwd=ROOT, stdout=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


async def died(process: asyncio.subprocess.Process, observer: Bus) -> bool:
    """Whether ``process`` died, or else (False) the dead letter was recorded."""
    deadline = time.monotonic() + 60
    while process.returncode is None and observer.dead_letters.count() == 0:
        assert time.monotonic() < deadline, "the consumer neither died nor dead-lettered"
        await asyncio.sleep(0.05)
    return process.returncode is not None


async def test_a_message_that_kills_its_consumer_is_dead_lettered_after_the_bound(
    durable_broker: str, tmp_path: Path, unique: str
) -> None:
    database = f"sqlite:///{tmp_path / 'bus.db'}"
    observer = Bus(Settings(broker_url=durable_broker, database_url=database,
                            exchange=f"{unique}.events", queue_prefix=unique,
                            instance=f"{unique}-observer"), source="test")
    observer.include(poison_process.router)
    await observer.start(consume=False)  # declares the queue, consumes nothing
    poison = Envelope(type="test.thing.happened.v1", payload={"n": "poison"}, source="test")
    await observer.publish(poison)
    deaths = 0
    process = await consumer_process(durable_broker, database, unique)
    try:
        while await died(process, observer):
            assert process.returncode == -signal.SIGKILL
            deaths += 1
            assert deaths <= BOUND + 1, "killed again past the bound"
            process = await consumer_process(durable_broker, database, unique)
        assert deaths == BOUND + 1, "the first delivery and each redelivery up to the bound"
        [record] = observer.dead_letters.list()
        assert record.message_id == poison.id
        assert record.reason.startswith(f"redelivered {BOUND + 1} times without being settled")
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await process.wait()
        await observer.transport.delete_queue(f"{unique}.fragile")
        await observer.stop()
        observer.close()
