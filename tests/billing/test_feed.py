"""The change feed: what changed since the watermark, published once, across restarts."""

from __future__ import annotations

from collections import Counter

import pytest

from adapters.billing.simulator import BillingSimulator
from bus.envelope import Envelope
from bus.errors import ExternalSystemUnavailable
from tests.billing.conftest import AdapterFactory, settings_for
from tests.conftest import collector, eventually

pytestmark = pytest.mark.parametrize("broker_url", ["memory"], indirect=True)

EVENT = "billing.account.changed.v1"


def by_holder(received: list[Envelope]) -> dict[str, Envelope]:
    return {e.payload["customer"]["id"]: e for e in received}


async def test_first_poll_publishes_every_account_then_nothing_until_something_changes(
    simulator: BillingSimulator, billing_on: AdapterFactory,
) -> None:
    router, received = collector(EVENT)
    _bus, adapter = await billing_on(settings_for(simulator, page_size=4), router)

    assert await adapter.feed.poll() == 6
    await eventually(lambda: len(received) == 6)
    assert {e.payload["change"] for e in received} == {"updated"}
    assert all("changed_fields" not in e.payload for e in received)
    assert adapter.feed.watermark("accounts") == "2023-09-25 12:00:00"

    assert await adapter.feed.poll() == 0
    assert await adapter.feed.poll() == 0


async def test_only_changed_holders_and_paid_agreements_are_published_with_what_changed(
    simulator: BillingSimulator, billing_on: AdapterFactory,
) -> None:
    router, received = collector(EVENT)
    _bus, adapter = await billing_on(settings_for(simulator, page_size=2), router)
    await adapter.feed.poll()
    await eventually(lambda: len(received) == 6)
    received.clear()

    simulator.data.touch(10001, mobile="+7 902 111-22-33")      # a new phone
    simulator.data.pay(20003, 1000.0)                           # balance, holder untouched
    simulator.data.touch(10004)                                 # saved, nothing changed
    new_uid = simulator.data.apply_change({
        "account_no": "ЛС-N0000001", "holder_name": "Чистякова Юлия Антоновна",
        "passport": "0920 135508", "phone": "9619270999", "opened_at": "2026-11-02",
        "status": "active", "balance": "0.00", "tariff": "Базовый"})

    assert await adapter.feed.poll() == 3
    await eventually(lambda: len(received) == 3)
    changed = by_holder(received)
    assert set(changed) == {"10001", "10003", str(new_uid)}
    assert changed["10001"].payload["changed_fields"] == ["customer.contacts"]
    assert changed["10001"].payload["change"] == "updated"
    assert changed["10003"].payload["changed_fields"] == ["balance"]
    assert changed["10003"].payload["account"]["balance"] == {"amount": "169.90",
                                                              "currency": "RUB"}
    assert changed[str(new_uid)].payload["change"] == "created"
    assert changed[str(new_uid)].payload["account"]["number"] == "LS-N0000001"

    assert await adapter.feed.poll() == 0


async def test_the_watermark_survives_a_restart_and_nothing_is_published_again(
    simulator: BillingSimulator, billing_on: AdapterFactory,
) -> None:
    router, received = collector(EVENT)
    bus, adapter = await billing_on(settings_for(simulator), router)
    await adapter.feed.poll()
    await eventually(lambda: len(received) == 6)
    watermark = adapter.feed.watermark("accounts")
    await adapter.stop()
    await bus.stop()

    _again, restarted = await billing_on(settings_for(simulator), router)
    before = Counter(simulator.calls)
    assert restarted.feed.watermark("accounts") == watermark
    assert await restarted.feed.poll() == 0
    simulator.data.touch(10002, email="office@sibseti.example")
    assert await restarted.feed.poll() == 1

    await eventually(lambda: len(received) == 7)
    assert received[-1].payload["changed_fields"] == ["customer.contacts"]
    fetched = Counter(simulator.calls) - before
    assert fetched["getAccount"] <= 5  # newest-first probes and the changed holders, not all


async def test_a_poll_that_fails_halfway_publishes_each_change_exactly_once_when_resumed(
    simulator: BillingSimulator, billing_on: AdapterFactory,
) -> None:
    router, received = collector(EVENT)
    _bus, adapter = await billing_on(settings_for(simulator, page_size=2), router)
    simulator.drop("getVgroups", times=1, after=2)  # the second page cannot be read

    with pytest.raises(ExternalSystemUnavailable, match="ConnectionError"):
        await adapter.feed.poll()
    await eventually(lambda: len(received) == 2)  # the first page was committed
    assert adapter.feed.watermark("accounts") is None

    assert await adapter.feed.poll() == 4
    assert await adapter.feed.poll() == 0
    await eventually(lambda: len(received) == 6)
    assert sorted(e.payload["account"]["id"] for e in received) == [
        str(n) for n in range(20001, 20007)]


async def test_the_running_feed_notices_changes_on_its_own(
    simulator: BillingSimulator, billing_on: AdapterFactory,
) -> None:
    router, received = collector(EVENT)
    _bus, adapter = await billing_on(settings_for(simulator, feed=True), router)
    await eventually(lambda: len(received) == 6)

    simulator.data.pay(20002, 250.5)

    await eventually(lambda: len(received) == 7)
    assert received[-1].payload["account"]["balance"]["amount"] == "15650.50"
    health = await adapter.health()
    assert health.ok, health.detail
    assert health.checks["published"] == 7


async def test_an_account_that_cannot_be_published_is_retried_without_blocking_the_others(
    simulator: BillingSimulator, billing_on: AdapterFactory,
) -> None:
    router, received = collector(EVENT)
    _bus, adapter = await billing_on(settings_for(simulator), router)
    simulator.data.agreements[20002]["balance"] = 1e20  # more digits than a canonical amount

    assert await adapter.feed.poll() == 5
    simulator.data.agreements[20002]["balance"] = 15400.0
    simulator.data.touch(10002)

    assert await adapter.feed.poll() == 1
    await eventually(lambda: len(received) == 6)
    assert received[-1].payload["account"]["id"] == "20002"
