"""Two bus processes polling one PostgreSQL staging table never publish a row twice."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import collector, eventually
from tests.services import require_postgres
from tests.staging.conftest import LegacyDatabase, StagingFactory, staging_settings

ROWS = 300


@pytest.mark.parametrize("broker_url", ["memory", "rabbitmq"], indirect=True)
async def test_two_pollers_on_postgres_share_the_rows_without_double_publishing(
    staging_on: StagingFactory, unique: str,
) -> None:
    legacy = LegacyDatabase(require_postgres(), f"{unique}_accounts")
    try:
        legacy.add(1, ROWS)
        listener, received = collector("billing.account.changed.v1")
        settings = staging_settings(legacy, batch_size=10, poll_interval=0.01)
        _, first = await staging_on(settings, listener, start=False)
        _, second = await staging_on(settings, start=False)
        await asyncio.gather(first.start(), second.start())

        await eventually(lambda: len(received) >= ROWS, timeout=20)
        await eventually(lambda: all(s == "done" for s, _ in legacy.statuses().values()))
        await asyncio.sleep(0.3)
        counts = Counter(e.payload["account"]["number"] for e in received)
        assert len(counts) == ROWS and set(counts.values()) == {1}
        assert first.poller.published + second.poller.published == ROWS
        assert first.poller.published > 0 and second.poller.published > 0
    finally:
        legacy.execute(f"drop table if exists {legacy.table}")
        legacy.engine.dispose()


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_a_staging_table_in_the_bus_database_is_marked_in_the_outbox_transaction(
    staging_on: StagingFactory, tmp_path: Path,
) -> None:
    legacy = LegacyDatabase(f"sqlite:///{tmp_path / 'bus.db'}", "legacy_accounts")
    legacy.add(1, 3)
    listener, received = collector("billing.account.changed.v1")
    _, adapter = await staging_on(staging_settings(legacy), listener)
    assert adapter.poller.shared  # one engine, one transaction for outbox and marks
    await eventually(lambda: len(received) == 3)
    await eventually(lambda: all(s == "done" for s, _ in legacy.statuses().values()))
    legacy.engine.dispose()
