"""billing.accounts.requested.v1: a customer's accounts with balances, answered live."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.billing.simulator import BillingSimulator
from tests.billing.conftest import AdapterFactory, settings_for

REQUEST = "billing.accounts.requested.v1"


@pytest.mark.parametrize("broker_url", ["memory", "rabbitmq"], indirect=True)
async def test_accounts_of_a_customer_come_back_with_balance_and_services(
    simulator: BillingSimulator, billing_on: AdapterFactory,
) -> None:
    bus, _adapter = await billing_on(settings_for(simulator))

    reply = await bus.request(REQUEST, {"account_number": "LS-00000003",
                                        "include_services": True}, timeout=5)

    assert reply.type == "billing.accounts.replied.v1"
    [account] = reply.payload["accounts"]
    assert account["number"] == "LS-00000003"
    assert account["customer_id"] == "10003"
    assert account["balance"] == {"amount": "-830.10", "currency": "RUB"}
    assert account["status"] == "blocked"
    assert [(s["kind"], s["status"]) for s in account["services"]] == [
        ("internet", "blocked"), ("tv", "blocked")]


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
@pytest.mark.parametrize(("query", "numbers"), [
    ({"customer_id": "10002"}, ["LS-00000002"]),
    ({"inn": "2465012345"}, ["LS-00000002"]),
    ({"phone": "+79123456789"}, ["LS-00000001", "LS-00000006"]),  # two holders, one person
    ({"account_number": "LS-99999999"}, []),
])
async def test_accounts_are_found_by_customer_id_inn_phone_or_account_number(
    simulator: BillingSimulator, billing_on: AdapterFactory, query: dict[str, Any],
    numbers: list[str],
) -> None:
    bus, _adapter = await billing_on(settings_for(simulator))

    reply = await bus.request(REQUEST, query, timeout=5)

    assert [a["number"] for a in reply.payload["accounts"]] == numbers
    assert all("services" not in a for a in reply.payload["accounts"])
    if not numbers:
        assert reply.payload["error"]["code"] == "not_found"


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_a_billing_that_does_not_answer_gives_an_unavailable_reply_not_a_timeout(
    simulator: BillingSimulator, billing_on: AdapterFactory,
) -> None:
    bus, _adapter = await billing_on(settings_for(simulator, timeout=0.3))
    simulator.slow(2.0, "getAccount")

    reply = await bus.request(REQUEST, {"customer_id": "10001"}, timeout=5)

    assert reply.payload["accounts"] == []
    assert reply.payload["error"]["code"] == "unavailable"
    assert "timed out" in reply.payload["error"]["message"]
