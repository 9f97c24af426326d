"""A consumer killed with SIGKILL mid-batch loses nothing and repeats nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bus.app import Bus
from bus.envelope import Envelope
from bus.settings import Settings
from tests.crash.consumer_process import EFFECTS, ENTRIES
from tests.services import require_rabbitmq

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = 1500


@pytest.fixture(params=["sqlite", "rabbitmq"])
def durable_broker(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "rabbitmq":
        return require_rabbitmq()
    return f"sqla+sqlite:///{tmp_path / 'broker.db'}?poll_interval=0.02&lease=2"


class ConsumerProcess:
    def __init__(self, broker: str, database: str, prefix: str) -> None:
        self.command = [
            sys.executable, "-m", "tests.crash.consumer_process",
            "--broker", broker, "--database", database, "--prefix", prefix,
        ]
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, stdout=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.strip() == "ready", f"consumer did not start: {line!r}"

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def consumers() -> Iterator[list[ConsumerProcess]]:
    started: list[ConsumerProcess] = []
    yield started
    for consumer in started:
        consumer.stop()


def counts(engine: sa.Engine) -> tuple[int, int, int]:
    """(distinct effects, effect rows, redelivered handler entries)."""
    with engine.connect() as connection:
        distinct = connection.scalar(sa.select(sa.func.count(sa.distinct(EFFECTS.c.message_id))))
        rows = connection.scalar(sa.select(sa.func.count()).select_from(EFFECTS))
        entries = connection.scalar(
            sa.select(sa.func.count()).select_from(ENTRIES).where(ENTRIES.c.redelivered)
        )
    return int(distinct or 0), int(rows or 0), int(entries or 0)


async def wait_until(check: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


async def test_killed_consumer_resumes_and_every_message_takes_effect_once(
    durable_broker: str, tmp_path: Path, unique: str, consumers: list[ConsumerProcess]
) -> None:
    database = f"sqlite:///{tmp_path / 'bus.db'}"
    first = ConsumerProcess(durable_broker, database, unique)
    consumers.append(first)
    first.start()

    publisher = Bus(
        Settings(broker_url=durable_broker, database_url=database,
                 exchange=f"{unique}.events", queue_prefix=unique, instance=f"{unique}-pub"),
        source="crash-test",
    )
    await publisher.start()
    sent = [Envelope(type="test.thing.happened.v1", payload={"n": str(i)}, source="crash-test")
            for i in range(MESSAGES)]
    for start in range(0, MESSAGES, 500):
        await publisher.publish_many(sent[start:start + 500])

    engine = publisher.engine
    await wait_until(lambda: counts(engine)[0] >= 200, timeout=60)
    first.kill()
    done_at_kill = counts(engine)[0]
    assert done_at_kill < MESSAGES, "the kill came too late to prove anything"

    second = ConsumerProcess(durable_broker, database, unique)
    consumers.append(second)
    second.start()
    await wait_until(lambda: counts(engine)[0] == MESSAGES, timeout=120)
    await asyncio.sleep(1.0)
    second.stop()  # graceful: its journal is flushed
    distinct, rows, redelivered = counts(engine)
    skipped_as_duplicates = len(
        publisher.observability.query.search(status="duplicate", limit=MESSAGES).entries
    )

    with engine.connect() as connection:
        effect_ids = {row.message_id for row in connection.execute(sa.select(EFFECTS))}
        by_pid: dict[int, int] = dict(connection.execute(
            sa.select(EFFECTS.c.pid, sa.func.count()).group_by(EFFECTS.c.pid)).all())
    assert effect_ids == {envelope.id for envelope in sent}
    assert rows == distinct == MESSAGES, "a side effect happened twice"
    assert redelivered + skipped_as_duplicates > 0, "nothing was redelivered after the kill"
    assert len(by_pid) == 2, "both processes did part of the work"

    await publisher.stop()
    cleaner = Bus(publisher.settings, source="crash-test")
    await cleaner.transport.connect()
    await cleaner.transport.delete_queue(f"{unique}.crash")
    await cleaner.transport.close()
    publisher.close()
    cleaner.close()
