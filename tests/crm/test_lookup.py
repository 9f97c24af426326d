"""crm.customer.requested.v1: customers by phone, INN or id, answered live from the CRM."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.crm.simulator import CrmSimulator
from bus.errors import ExternalSystemRejected
from tests.crm.conftest import AdapterFactory, settings_for

REQUEST = "crm.customer.requested.v1"


@pytest.mark.parametrize("broker_url", ["memory", "rabbitmq"], indirect=True)
async def test_a_customer_found_by_phone_comes_back_with_the_responsible_manager(
    simulator: CrmSimulator, crm_on: AdapterFactory,
) -> None:
    bus, _adapter = await crm_on(settings_for(simulator))

    reply = await bus.request(REQUEST, {"phone": "+79123456789"}, timeout=5)

    assert reply.type == "crm.customer.replied.v1"
    [customer] = reply.payload["customers"]
    assert customer["id"] == "C-1001"
    assert customer["manager_id"] == "M-1"
    assert customer["person"]["last_name"] == "Иванова"


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
@pytest.mark.parametrize(("query", "ids"), [
    ({"inn": "2465012345"}, ["C-1002"]),
    ({"customer_id": "C-1003"}, ["C-1003"]),
    ({"customer_id": "C-9999"}, []),
    ({"phone": "+74950000000"}, []),
])
async def test_customers_are_found_by_inn_or_id_and_a_miss_says_not_found(
    simulator: CrmSimulator, crm_on: AdapterFactory, query: dict[str, Any], ids: list[str],
) -> None:
    bus, _adapter = await crm_on(settings_for(simulator))

    reply = await bus.request(REQUEST, query, timeout=5)

    assert [c["id"] for c in reply.payload["customers"]] == ids
    if not ids:
        assert reply.payload["error"]["code"] == "not_found"


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_a_crm_that_is_down_gives_an_unavailable_reply_not_a_timeout(
    simulator: CrmSimulator, crm_on: AdapterFactory,
) -> None:
    bus, adapter = await crm_on(settings_for(simulator))
    simulator.fail(503)

    reply = await bus.request(REQUEST, {"phone": "+79123456789"}, timeout=5)

    assert reply.payload["customers"] == []
    assert reply.payload["error"]["code"] == "unavailable"
    assert not (await adapter.health()).ok


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_check_searches_the_crm_by_a_phone_and_a_wrong_token_is_rejected(
    simulator: CrmSimulator, crm_on: AdapterFactory,
) -> None:
    _bus, adapter = await crm_on(settings_for(simulator))
    assert "1 customer(s) found" in await adapter.check("8 912 345-67-89")
    assert (await adapter.health()).ok

    _bus, wrong = await crm_on(settings_for(simulator, token="nope"))
    with pytest.raises(ExternalSystemRejected, match="HTTP 401"):
        await wrong.check()
