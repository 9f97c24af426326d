"""The full export publishes the whole billing directory, page by page, as canonical events."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from adapters.billing import normalize as norm
from adapters.billing.simdata import BillingData
from adapters.billing.simulator import BillingSimulator
from bus.schema import default_registry
from tests.billing.conftest import AdapterFactory, settings_for
from tests.conftest import collector, eventually


@pytest.mark.slow
@pytest.mark.parametrize("broker_url", ["memory", "rabbitmq"], indirect=True)
async def test_full_export_publishes_every_account_holder_of_the_directory_once(
    datagen_dir: Path, billing_on: AdapterFactory,
) -> None:
    text = (datagen_dir / "billing_accounts.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    router, received = collector("billing.account.changed.v1")
    with BillingSimulator(BillingData.from_directory(datagen_dir)) as sim:
        _bus, adapter = await billing_on(settings_for(sim, page_size=100), router)

        published = await adapter.feed.export()
        await eventually(lambda: len(received) >= len(rows), timeout=30)

    assert published == len(rows) == len(received)
    numbers = [envelope.payload["account"]["number"] for envelope in received]
    assert sorted(numbers) == sorted(norm.transliterate(row["account_no"]) for row in rows)
    holders = {envelope.payload["customer"]["id"] for envelope in received}
    assert len(holders) == len(rows)  # the billing keeps one holder per personal account
    registry = default_registry()
    for envelope in received:
        registry.validate("billing.account.changed.v1", envelope.payload)
        assert envelope.source == "billing"
        assert envelope.key == envelope.payload["account"]["number"]
    by_number = {e.payload["account"]["number"]: e.payload for e in received}
    first = rows[0]
    sample = by_number[norm.transliterate(first["account_no"])]
    assert sample["account"]["balance"] == norm.money(first["balance"], "RUB")
    assert sample["account"]["tariff"] == first["tariff"]
    assert sample["customer"].get("inn") == (norm.inn(first["inn"]))
    companies = sum("company" in e.payload["customer"] for e in received)
    assert 0 < companies < len(rows)


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_an_export_can_be_limited_by_a_billing_filter(
    simulator: BillingSimulator, billing_on: AdapterFactory,
) -> None:
    router, received = collector("billing.account.changed.v1")
    _bus, adapter = await billing_on(settings_for(simulator), router)

    assert await adapter.feed.export(flt={"inn": "246512345678"}) == 1

    await eventually(lambda: len(received) == 1)
    account = received[0].payload["account"]
    assert (account["number"], account["tariff"]) == ("LS-00000003", "ТВ+Интернет")  # noqa: RUF001
    assert [service["kind"] for service in account["services"]] == ["internet", "tv"]
