"""crm.card.requested.v1 -> crm.card.replied.v1: the customer's card, live from the CRM."""

# ruff: noqa: RUF001 - Russian names, on purpose

from __future__ import annotations

import pytest

from adapters.crm.simulator import CrmSimulator
from bus.envelope import Envelope
from bus.schema import default_registry
from tests.conftest import collector, eventually
from tests.crm.conftest import AdapterFactory, ended_call, settings_for

CARD = "crm.card.requested.v1"


@pytest.mark.parametrize("broker_url", ["memory", "rabbitmq"], indirect=True)
async def test_the_card_by_phone_has_the_manager_segment_open_deals_and_the_last_calls(
    simulator: CrmSimulator, crm_on: AdapterFactory,
) -> None:
    observer, logged = collector("crm.interaction.logged.v1")
    bus, _adapter = await crm_on(settings_for(simulator), observer)
    await bus.publish(Envelope(type="pbx.call.ended.v1", source="pbx",
                               payload=ended_call("1710224107.1")))
    await bus.publish(Envelope(type="pbx.call.ended.v1", source="pbx", payload=ended_call(
        "1710230000.2", disposition="missed", started_at="2024-03-13T08:00:00Z")))
    await eventually(lambda: len(logged) == 2)

    reply = await bus.request(CARD, {"phone": "+79123456789", "interactions_limit": 5},
                              timeout=5)

    default_registry().validate("crm.card.replied.v1", reply.payload)
    card = reply.payload["card"]
    assert reply.payload["error"] is None
    assert card["customer"]["id"] == "C-1001"
    assert card["manager"] == {"id": "M-1", "name": "Петров Иван", "extension": "2001"}
    assert card["segment"] == "consumer"
    assert [d["id"] for d in card["deals"]] == ["R-77", "D-501"]  # open ones, newest first
    assert card["deals"][1]["amount"] == {"amount": "650.00", "currency": "RUB"}
    assert [i["call_linkedid"] for i in card["interactions"]] == [
        "1710230000.2", "1710224107.1"]
    assert card["interactions"][0]["result"] == "missed"


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_the_card_by_crm_id_limits_interactions_and_unknowns_get_not_found(
    simulator: CrmSimulator, crm_on: AdapterFactory,
) -> None:
    bus, _adapter = await crm_on(settings_for(simulator))

    company = await bus.request(CARD, {"customer_id": "C-1002", "interactions_limit": 0})
    nobody = await bus.request(CARD, {"phone": "+74950000000"})
    missing = await bus.request(CARD, {"customer_id": "C-9999"})

    card = company.payload["card"]
    assert card["customer"]["company"]["legal_name"] == "ООО «Ромашка»"
    assert (card["segment"], card["manager"]["id"], card["interactions"]) == (
        "corporate", "M-2", [])
    assert [d["title"] for d in card["deals"]] == ["Выделенная линия 1 Гбит/с"]
    for reply in (nobody, missing):
        assert reply.payload["card"] is None
        assert reply.payload["error"]["code"] == "not_found"


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_a_crm_that_is_down_gives_an_unavailable_card_not_a_hang(
    simulator: CrmSimulator, crm_on: AdapterFactory,
) -> None:
    bus, _adapter = await crm_on(settings_for(simulator))
    simulator.fail(503)

    reply = await bus.request(CARD, {"customer_id": "C-1001"}, timeout=5)

    assert reply.payload["card"] is None
    assert reply.payload["error"]["code"] == "unavailable"
