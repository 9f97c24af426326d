"""Write-back into an outbound staging table, and ``esb adapters check staging``."""

from __future__ import annotations

import asyncio
import json

import pytest
import sqlalchemy as sa

from adapters.staging.adapter import StagingAdapter
from adapters.staging.settings import StagingSettings
from bus.errors import ConfigurationError
from tests.conftest import BusFactory, eventually
from tests.staging.conftest import LegacyDatabase, StagingFactory, staging_settings

BALANCE = {"account_number": "LS-00000001", "balance": {"amount": "10.00", "currency": "RUB"},
           "reason": "payment", "changed_at": "2026-11-26T10:00:00Z"}


@pytest.mark.parametrize("broker_url", ["memory", "rabbitmq"], indirect=True)
async def test_messages_are_written_back_once_per_message(
    staging_on: StagingFactory, legacy: LegacyDatabase,
) -> None:
    outbound = f"{legacy.table}_out"
    settings = staging_settings(legacy, outbound_table=outbound,
                                outbound_types=["billing.balance.changed.v1"])
    bus, _ = await staging_on(settings)
    first = await bus.emit("billing.balance.changed.v1", BALANCE, source="test")
    await bus.emit("billing.balance.changed.v1", {**BALANCE, "reason": "charge"}, source="test")
    await bus.publish(first)  # redelivered

    def rows() -> list[tuple[str, str, str]]:
        with legacy.engine.connect() as db:
            return [(str(r[0]), str(r[1]), str(r[2])) for r in db.execute(
                sa.text(f"select message_id, payload, status from {outbound}"))]

    await eventually(lambda: len(rows()) == 2)
    await asyncio.sleep(0.3)
    found = {row[0]: row for row in rows()}
    assert len(found) == 2
    assert json.loads(found[first.id][1]) == BALANCE and found[first.id][2] == "new"


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_check_reports_the_table_or_the_missing_columns(
    make_bus: BusFactory, legacy: LegacyDatabase,
) -> None:
    legacy.add(1, 2)
    bus = await make_bus(start=False)
    adapter = StagingAdapter(staging_settings(legacy), bus)
    result = await adapter.check()
    assert "columns ok, 2 row(s) new, 0 row(s) error" in result

    wrong = StagingAdapter(staging_settings(legacy, status_column="state"), bus)
    with pytest.raises(ConfigurationError, match="no column state"):
        await wrong.check()


def test_adapter_is_disabled_without_a_url() -> None:
    assert StagingSettings().enabled is False
    assert StagingSettings(url="sqlite:///x.db").enabled is True
