"""The match step split by blocking key over two worker processes on RabbitMQ, against
PostgreSQL, gives the clusters one process gives."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bus.db import create_engine
from bus.transport import transport_for
from sync.match import reconcile
from sync.model import RecordKey
from sync.service import SyncService
from sync.store.queue import load_decisions
from sync.store.records import iter_records
from sync.store.xref import read_xref
from tests.conftest import BusFactory, collector
from tests.services import require_postgres

pytestmark = [pytest.mark.parametrize("broker_url", ["rabbitmq"], indirect=True),
              pytest.mark.postgres, pytest.mark.rabbitmq, pytest.mark.slow]

ESB = Path(sys.executable).with_name("esb")


@pytest.fixture
def postgres_schema() -> Iterator[str]:
    url = require_postgres()
    schema = f"sync_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'create schema "{schema}"'))
    yield schema
    with admin.connect() as connection:
        connection.execute(sa.text(f'drop schema "{schema}" cascade'))
    admin.dispose()


def _ready(worker: subprocess.Popen[bytes], timeout: float) -> None:
    assert worker.stderr is not None
    selector = selectors.DefaultSelector()
    selector.register(worker.stderr, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    seen = b""
    while b"ready" not in seen:
        if time.monotonic() > deadline or worker.poll() is not None:
            raise AssertionError(f"worker did not start: {seen.decode(errors='replace')}")
        if selector.select(timeout=0.2):
            seen += os.read(worker.stderr.fileno(), 4096)


def _start_workers(env: dict[str, str], count: int) -> list[subprocess.Popen[bytes]]:
    """``esb sync worker`` processes: competing consumers of the partitions queue."""
    return [subprocess.Popen([str(ESB), "sync", "worker"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            for _ in range(count)]


def _clusters(owner: dict[RecordKey, object]) -> set[frozenset[RecordKey]]:
    grouped: dict[object, set[RecordKey]] = defaultdict(set)
    for key, label in owner.items():
        grouped[label].add(key)
    return {frozenset(keys) for keys in grouped.values()}


async def test_two_workers_on_rabbitmq_match_like_one_process(
        make_bus: BusFactory, broker_url: str, postgres_schema: str, generated: Path) -> None:
    url = f"{require_postgres()}?options=-csearch_path%3D{postgres_schema}"
    engine = create_engine(url)
    service = SyncService(engine)
    service.import_directory(generated)
    with engine.connect() as connection:
        records = list(iter_records(connection))
        alone = reconcile(records, service.match_settings, load_decisions(connection))
    watch, received = collector("sync.partition.matched.v1")
    bus = await make_bus(watch, source="sync")
    env = {**os.environ, "ESB_BROKER_URL": broker_url, "ESB_DATABASE_URL": url,
           "ESB_EXCHANGE": bus.settings.exchange, "ESB_QUEUE_PREFIX": bus.settings.queue_prefix,
           "ESB_DELIVERY__PREFETCH": "1"}
    workers = _start_workers(env, 2)
    try:
        for worker in workers:
            _ready(worker, timeout=40)
        outcome = await service.run_partitioned(bus, 8, timeout=60)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=20)
            if worker.stderr is not None:
                worker.stderr.close()
        cleaner = transport_for(broker_url)
        await cleaner.connect()
        await cleaner.delete_queue(f"{bus.settings.queue_prefix}.sync.partitions")
        await cleaner.close()
    with engine.connect() as connection:
        owner = read_xref(connection)
    engine.dispose()
    assert _clusters(dict(owner)) == _clusters(dict(alone.clusters))
    assert outcome.customers == len(set(alone.clusters.values()))
    assert len({e.payload["partition"] for e in received}) == 8
    assert len({e.payload["worker"] for e in received}) == 2
