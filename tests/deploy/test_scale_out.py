"""Scale-out on this machine: two ``esb run`` workers on one RabbitMQ and one PostgreSQL.

Both workers run the real program with a test adapter installed through entry
points (``scale_out_worker.py``); they are competing consumers of one subscription
queue (a quorum queue, as in production). Each test publishes a batch of messages
from its own bus, as another service would, and counts the side effects in
PostgreSQL: every message once, both workers with a share, and a worker killed
with SIGKILL mid-run changes nothing about that.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from bus.app import Bus
from bus.db import create_engine
from bus.envelope import Envelope
from bus.settings import Settings
from migrations.upgrade import upgrade
from tests.deploy.scale_out_worker import (
    EFFECTS,
    REDELIVERIES,
    SUBSCRIPTION,
    WORK_TYPE,
    create_tables,
)
from tests.entry_points import write_distribution
from tests.esb_processes import ROOT, Deployment, EsbProcess
from tests.services import postgres_schema, require_rabbitmq

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.slow]

MESSAGES = 1000
BATCH = 500


@dataclass(frozen=True)
class SharedServices:
    """The one RabbitMQ and the one PostgreSQL every worker of this module shares."""

    broker: str
    database: str
    run: str  # queue prefix, unique per module: its queues and rows are its own

    def settings(self, instance: str) -> Settings:
        return Settings(broker_url=self.broker, database_url=self.database,
                        exchange=f"{self.run}.events", queue_prefix=self.run,
                        instance=instance, delivery={"quorum_queues": True})

    def worker_env(self, deployment: Deployment, name: str, pythonpath: str) -> dict[str, str]:
        return deployment.env(
            PYTHONPATH=pythonpath,
            ESB_BROKER_URL=self.broker, ESB_DATABASE_URL=self.database,
            ESB_EXCHANGE=f"{self.run}.events", ESB_QUEUE_PREFIX=self.run,
            ESB_INSTANCE=f"{self.run}-{name}",
            ESB_DELIVERY__QUORUM_QUEUES="true", ESB_DELIVERY__PREFETCH="50",
            # Only the work under test: the built-in components would compete for 2 cores.
            ESB_SYNC__ENABLED="false", ESB_WINDOW__ENABLED="false",
            ESB_CONSOLE__ENABLED="false",
        )


@pytest.fixture(scope="module")
def work_plugin(tmp_path_factory: pytest.TempPathFactory) -> str:
    """``PYTHONPATH`` of an ``esb`` process with the test work installed as an adapter."""
    directory = tmp_path_factory.mktemp("plugins")
    write_distribution(directory, "esb-scale-out-work", {
        "esb.adapters": {"scale-out-work": "tests.deploy.scale_out_worker:ScaleOutWorkAdapter"}})
    return os.pathsep.join([str(directory), str(ROOT)])


@pytest.fixture(scope="module")
def services() -> Iterator[SharedServices]:
    """A database of the module's own, upgraded as a deployment's one-shot ``esb db
    upgrade`` does before the workers start."""
    with postgres_schema("scale") as database:
        shared = SharedServices(require_rabbitmq(), database, f"t{uuid.uuid4().hex[:10]}")
        engine = create_engine(shared.database)
        upgrade(engine)
        create_tables(engine)
        yield shared
        engine.dispose()
        asyncio.run(delete_queues(shared))


async def delete_queues(services: SharedServices) -> None:
    cleaner = Bus(services.settings(f"{services.run}-cleaner"), source="scale-out-test")
    await cleaner.transport.connect()
    await cleaner.transport.delete_queue(f"{services.run}.{SUBSCRIPTION}")
    await cleaner.transport.close()
    cleaner.close()


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory, services: SharedServices,
            work_plugin: str) -> Iterator[dict[str, EsbProcess]]:
    """Two ``esb run`` workers (started side by side), consuming before anything is published.

    Shared by the module's tests, in order: the last one kills a worker.
    """
    started: dict[str, EsbProcess] = {}
    for name in ("worker-a", "worker-b"):
        deployment = Deployment.in_directory(tmp_path_factory.mktemp(name))
        started[f"{services.run}-{name}"] = EsbProcess(
            deployment, "run", env=services.worker_env(deployment, name, work_plugin))
    try:
        with ThreadPoolExecutor(len(started)) as pool:
            for future in [pool.submit(worker.start, 60.0) for worker in started.values()]:
                future.result()
        yield started
    finally:
        for worker in started.values():
            if worker.process is not None:
                worker.stop()


# -- what the workers did -----------------------------------------------------------------


class Effects:
    """The rows one batch of messages left in PostgreSQL."""

    def __init__(self, services: SharedServices) -> None:
        self.engine = sa.create_engine(services.database)
        self.run = services.run
        self.batch = uuid.uuid4().hex[:12]

    def _where(self, table: sa.Table) -> sa.ColumnElement[bool]:
        return sa.and_(table.c.run == self.run, table.c.batch == self.batch)

    def count(self) -> int:
        """Distinct messages that took effect."""
        with self.engine.connect() as db:
            return int(db.scalar(sa.select(sa.func.count(sa.distinct(EFFECTS.c.message_id)))
                                 .where(self._where(EFFECTS))) or 0)

    def per_message(self) -> dict[str, int]:
        with self.engine.connect() as db:
            rows = db.execute(sa.select(EFFECTS.c.message_id, sa.func.count())
                              .where(self._where(EFFECTS)).group_by(EFFECTS.c.message_id))
            return {message_id: int(count) for message_id, count in rows}

    def per_worker(self) -> dict[str, int]:
        with self.engine.connect() as db:
            rows = db.execute(sa.select(EFFECTS.c.worker, sa.func.count())
                              .where(self._where(EFFECTS)).group_by(EFFECTS.c.worker))
            return {worker: int(count) for worker, count in rows}

    def redeliveries(self) -> dict[str, int]:
        with self.engine.connect() as db:
            rows = db.execute(sa.select(REDELIVERIES.c.worker, sa.func.count())
                              .where(self._where(REDELIVERIES))
                              .group_by(REDELIVERIES.c.worker))
            return {worker: int(count) for worker, count in rows}

    async def wait_for(self, done: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (count := await asyncio.to_thread(self.count)) < done:
            assert time.monotonic() < deadline, f"{count} of {done} messages in {timeout} s"
            await asyncio.sleep(0.1)

    def close(self) -> None:
        self.engine.dispose()


@pytest.fixture
def effects(services: SharedServices) -> Iterator[Effects]:
    found = Effects(services)
    yield found
    found.close()


async def publish_work(services: SharedServices, batch: str, count: int) -> list[Envelope]:
    """Publish ``count`` messages of the work type, as another service would."""
    publisher = Bus(services.settings(f"{services.run}-publisher-{batch}"),
                    source="scale-out-test")
    await publisher.start(consume=False)
    sent = [Envelope(type=WORK_TYPE, payload={"n": str(i), "batch": batch},
                     source="scale-out-test") for i in range(count)]
    try:
        for start in range(0, count, BATCH):
            await publisher.publish_many(sent[start:start + BATCH])
    finally:
        await publisher.stop()
        publisher.close()
    return sent


def assert_each_message_took_effect_once(effects: Effects, sent: list[Envelope]) -> None:
    per_message = effects.per_message()
    assert set(per_message) == {envelope.id for envelope in sent}, "messages lost or foreign"
    twice = {message_id: n for message_id, n in per_message.items() if n > 1}
    assert not twice, f"{len(twice)} messages took effect more than once"


# -- the proof ----------------------------------------------------------------------------


async def test_two_workers_share_one_subscription_and_each_message_takes_effect_once(
    services: SharedServices, workers: dict[str, EsbProcess], effects: Effects
) -> None:
    sent = await publish_work(services, effects.batch, MESSAGES)
    await effects.wait_for(MESSAGES, timeout=40)
    await asyncio.sleep(0.5)  # a duplicate would show up now

    assert_each_message_took_effect_once(effects, sent)
    shares = effects.per_worker()
    assert set(shares) == set(workers), f"work done by {sorted(shares)}"
    for worker, done in shares.items():
        assert done > MESSAGES // 10, f"{worker} did only {done} of {MESSAGES}: {shares}"


async def test_a_worker_killed_mid_run_leaves_every_message_taking_effect_once(
    services: SharedServices, workers: dict[str, EsbProcess], effects: Effects
) -> None:
    killed_name, survivor_name = sorted(workers)
    killed = workers[killed_name]

    sent = await publish_work(services, effects.batch, MESSAGES)
    await effects.wait_for(MESSAGES // 5, timeout=30)
    assert killed.process is not None
    killed.process.kill()  # SIGKILL: no shutdown, its unacked messages go back to the queue
    killed.process.wait(10)
    at_kill = await asyncio.to_thread(effects.per_worker)
    assert sum(at_kill.values()) < MESSAGES, "the kill came too late to prove anything"

    await effects.wait_for(MESSAGES, timeout=40)
    await asyncio.sleep(1.0)  # a duplicate would show up now

    assert_each_message_took_effect_once(effects, sent)
    shares = effects.per_worker()
    assert at_kill.get(killed_name, 0) > 0, f"the killed worker had done nothing: {at_kill}"
    assert shares[survivor_name] > at_kill.get(survivor_name, 0), "the survivor stopped too"
    redelivered = effects.redeliveries()
    assert redelivered.get(survivor_name, 0) > 0, (
        f"the killed worker's unacked messages were not redelivered to the survivor: {redelivered}")
