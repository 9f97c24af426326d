"""The bitrix24 profile against the simulator's Bitrix24 dialect: contact search by phone,
cards, calls registered and finished once per call, call-backs, notes, events in."""

# ruff: noqa: RUF001 - Russian names, on purpose

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from adapters.crm.bitrix.client import Bitrix24Client
from adapters.crm.settings import CrmSettings
from adapters.crm.simulator import CrmSimulator
from bus.envelope import Envelope
from bus.errors import ExternalSystemRejected, ExternalSystemUnavailable
from bus.schema import default_registry
from tests.conftest import collector, eventually
from tests.crm.conftest import AdapterFactory, api_client, ended_call

APP_TOKEN = "51856fefc120afa4b628cc82d3935cce"
EVENTS = "/v1/adapters/crm/webhooks/bitrix24"


def bitrix(sim: CrmSimulator, **overrides: Any) -> CrmSettings:
    values: dict[str, Any] = {"profile": "bitrix24", "url": sim.url,
                              "token": sim.bitrix_webhook, "application_token": APP_TOKEN,
                              "timeout": 2.0, **overrides}
    return CrmSettings(**values)


def finishes(sim: CrmSimulator) -> list[dict[str, Any]]:
    return [r for r in sim.data.received if r.get("dialect") == "bitrix24"]


@pytest.mark.parametrize("broker_url", ["memory", "rabbitmq"], indirect=True)
async def test_a_call_is_registered_and_finished_in_bitrix24_once_however_often_it_ends(
    simulator: CrmSimulator, crm_on: AdapterFactory,
) -> None:
    observer, logged = collector("crm.interaction.logged.v1")
    bus, _adapter = await crm_on(bitrix(simulator), observer)
    call = Envelope(type="pbx.call.ended.v1", source="pbx", payload=ended_call("1710224107.9"))

    await bus.publish(call)
    await bus.publish(call)  # redelivered
    await eventually(lambda: len(logged) == 1)
    await bus.emit("pbx.call.ended.v1", ended_call("1710224107.9"), source="pbx")  # again
    await asyncio.sleep(0.5)

    [registered] = simulator.bitrix.calls.values()
    params = registered["params"]
    assert (params["PHONE_NUMBER"], params["TYPE"], params["USER_ID"]) == ("+79123456789", 2, 1)
    assert (params["CRM_ENTITY_TYPE"], params["CRM_ENTITY_ID"]) == ("CONTACT", 1001)
    [finished] = finishes(simulator)
    assert (finished["DURATION"], finished["STATUS_CODE"], finished["USER_PHONE_INNER"]) == (
        95, "200", "2002")
    assert logged[0].payload["customer_id"] == "contact-1001"
    calls = [a for a in simulator.data.activities.values() if a.get("TYPE_ID") == 2]
    assert [(a["OWNER_TYPE_ID"], a["OWNER_ID"], a["DURATION"]) for a in calls] == [
        (3, 1001, 95)]


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_a_ringing_call_pops_its_card_for_the_ringing_agents_and_ends_as_one_call(
    simulator: CrmSimulator, crm_on: AdapterFactory,
) -> None:
    observer, logged = collector("crm.interaction.logged.v1")
    bus, _adapter = await crm_on(bitrix(simulator), observer)
    ringing = {"linkedid": "1710224107.12", "direction": "inbound",
               "caller_number": "89123456789", "called_number": "73912001122",
               "queue": "support", "ring_targets": ["2001", "2002"],
               "started_at": "2024-03-12T06:15:07.000715Z"}

    await bus.emit("pbx.call.ringing.v1", ringing, source="pbx")
    await eventually(lambda: len(simulator.bitrix.shown) == 1)
    await bus.emit("pbx.call.ended.v1", ended_call("1710224107.12"), source="pbx")
    await eventually(lambda: len(logged) == 1)

    [(call_id, registered)] = simulator.bitrix.calls.items()
    assert registered["params"]["USER_PHONE_INNER"] == "2001"
    assert registered["registered"]["CRM_ENTITY_ID"] == 1001  # found by the number
    assert simulator.bitrix.shown == [("show", call_id, [1, 2])]
    [finished] = finishes(simulator)
    assert (finished["CALL_ID"], finished["USER_PHONE_INNER"]) == (call_id, "2002")


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_a_missed_call_plans_one_call_back_for_the_responsible_user(
    simulator: CrmSimulator, crm_on: AdapterFactory,
) -> None:
    observer, logged = collector("crm.interaction.logged.v1")
    bus, _adapter = await crm_on(bitrix(simulator), observer)

    for _ in range(2):
        await bus.emit("pbx.call.ended.v1", ended_call("1710230000.9", disposition="missed"),
                       source="pbx")
    await eventually(lambda: len(logged) == 1)
    await asyncio.sleep(0.3)

    [finished] = finishes(simulator)
    assert (finished["STATUS_CODE"], finished["USER_ID"]) == ("304", 1)
    [planned] = [a for a in simulator.data.activities.values() if a.get("COMPLETED") == "N"]
    assert (planned["RESPONSIBLE_ID"], planned["OWNER_ID"], planned["ORIGIN_ID"]) == (
        1, 1001, "esb-callback-call-1710230000.9")
    assert planned["START_TIME"].startswith("2024-03-12T07:15:07")  # due an hour later


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_contacts_and_companies_are_found_by_phone_and_inn_and_carded(
    simulator: CrmSimulator, crm_on: AdapterFactory,
) -> None:
    bus, _adapter = await crm_on(bitrix(simulator))
    await bus.emit("pbx.call.ended.v1", ended_call("1710224107.10"), source="pbx")
    await eventually(lambda: len(finishes(simulator)) == 1)

    by_phone = await bus.request("crm.customer.requested.v1", {"phone": "+79123456789"})
    by_inn = await bus.request("crm.customer.requested.v1", {"inn": "2465012345"})
    card = await bus.request("crm.card.requested.v1", {"phone": "+79123456789"})
    nobody = await bus.request("crm.card.requested.v1", {"phone": "+74950000000"})

    [person] = by_phone.payload["customers"]
    assert (person["id"], person["person"]["last_name"], person["manager_id"]) == (
        "contact-1001", "Иванова", "1")
    assert person["contacts"][0] == {"phone": "+79123456789", "label": "mobile",
                                     "raw": "8 (912) 345-67-89", "primary": True}
    [company] = by_inn.payload["customers"]
    assert (company["id"], company["company"]["legal_name"], company["inn"]) == (
        "company-1002", "ООО «Ромашка»", "2465012345")
    default_registry().validate("crm.card.replied.v1", card.payload)
    shown = card.payload["card"]
    assert shown["manager"] == {"id": "1", "name": "Петров Иван", "extension": "2001"}
    assert [d["id"] for d in shown["deals"]] == ["deal-77", "deal-501"]
    assert [(i["channel"], i["direction"], i["duration_seconds"])
            for i in shown["interactions"]] == [("call", "inbound", 95)]
    assert nobody.payload["error"]["code"] == "not_found"


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_the_agents_result_and_notes_go_on_the_calls_activity(
    simulator: CrmSimulator, crm_on: AdapterFactory,
) -> None:
    bus, _adapter = await crm_on(bitrix(simulator), max_attempts=10)

    await bus.emit("crm.interaction.annotated.v1", {  # before the call is logged: retried
        "call_id": "1710224107.11", "result": "sale", "notes": "Продали роутер."},
        source="window")
    await bus.emit("pbx.call.ended.v1", ended_call("1710224107.11"), source="pbx")
    await eventually(lambda: any(a.get("DESCRIPTION", "").startswith("Result: sale")
                                 for a in simulator.data.activities.values()))

    [activity] = [a for a in simulator.data.activities.values() if a.get("TYPE_ID") == 2]
    assert activity["DESCRIPTION"] == "Result: sale\nПродали роутер."
    assert len(finishes(simulator)) == 1


@pytest.fixture
async def bitrix_api(simulator: CrmSimulator, crm_on: AdapterFactory
                     ) -> AsyncIterator[Callable[[], Awaitable[tuple[httpx.AsyncClient,
                                                                      list[Envelope]]]]]:
    clients: list[httpx.AsyncClient] = []

    async def setup() -> tuple[httpx.AsyncClient, list[Envelope]]:
        observer, seen = collector("crm.customer.changed.v1", "pbx.originate.requested.v1")
        bus, adapter = await crm_on(bitrix(simulator), observer)
        client = api_client(bus, adapter)
        clients.append(client)
        return client, seen

    yield setup
    for client in clients:
        await client.aclose()


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_contact_events_with_the_application_token_are_published_and_others_refused(
    simulator: CrmSimulator, bitrix_api: Callable[[], Awaitable[tuple[httpx.AsyncClient,
                                                                     list[Envelope]]]],
) -> None:
    client, seen = await bitrix_api()
    updated = simulator.bitrix_event(APP_TOKEN, "ONCRMCONTACTUPDATE", {"ID": 1003})
    forged = simulator.bitrix_event("guessed", "ONCRMCONTACTADD", {"ID": 1001})
    clicked = simulator.bitrix_event(APP_TOKEN, "ONEXTERNALCALLSTART", {
        "USER_ID": 2, "PHONE_NUMBER": "+79135550101", "CRM_ENTITY_TYPE": "CONTACT",
        "CRM_ENTITY_ID": 1003, "CALL_ID": "externalCall.1"}, data_key="")

    refused = await client.post(EVENTS, content=forged[0], headers=forged[1])
    unsigned = await client.post(EVENTS, content=b"event=ONCRMCONTACTADD&data[FIELDS][ID]=1",
                                 headers=forged[1])
    accepted = await client.post(EVENTS, content=updated[0], headers=updated[1])
    click = await client.post(EVENTS, content=clicked[0], headers=clicked[1])

    assert (refused.status_code, unsigned.status_code) == (401, 401)
    assert (accepted.status_code, click.status_code) == (202, 202)
    await eventually(lambda: len(seen) == 2)
    changed = next(e for e in seen if e.type == "crm.customer.changed.v1")
    assert (changed.payload["change"], changed.payload["customer"]["id"],
            changed.payload["customer"]["segment"]) == ("updated", "contact-1003", "vip")
    asked = next(e for e in seen if e.type == "pbx.originate.requested.v1")
    assert asked.payload == {"agent_extension": "2002", "number": "+79135550101",
                             "requested_by": {"system": "crm", "user_id": "2"},
                             "crm_entity": {"type": "contact", "id": "1003"}}


async def test_the_client_shows_and_hides_call_cards_and_maps_bitrix_errors(
    simulator: CrmSimulator,
) -> None:
    client = Bitrix24Client(simulator.url, simulator.bitrix_webhook, timeout=2.0)
    intruder = Bitrix24Client(simulator.url, "1/wrong-code", timeout=2.0)
    try:
        registered = await client.register_call({"USER_ID": 1, "PHONE_NUMBER": "+79135550101",
                                                 "TYPE": 2, "SHOW": 0})
        again = await client.register_call({"USER_ID": 1, "PHONE_NUMBER": "+79135550101",
                                            "TYPE": 2, "SHOW": 0})
        assert registered["CALL_ID"] == again["CALL_ID"]  # not finished: the same call
        assert (registered["CRM_ENTITY_TYPE"], registered["CRM_ENTITY_ID"]) == ("CONTACT", 1003)
        assert await client.show_call(registered["CALL_ID"], [1, 3])
        assert await client.hide_call(registered["CALL_ID"], [1])
        assert simulator.bitrix.shown == [("show", registered["CALL_ID"], [1, 3]),
                                          ("hide", registered["CALL_ID"], [1])]
        with pytest.raises(ExternalSystemRejected, match="INVALID_CREDENTIALS"):
            await intruder.call("crm.contact.get", {"id": 1001})
        with pytest.raises(ExternalSystemRejected, match="NOT_FOUND"):
            await client.entity("contact", 99999)
        simulator.fail(503, times=1)
        with pytest.raises(ExternalSystemUnavailable, match="HTTP 503"):
            await client.call("crm.contact.get", {"id": 1001})
    finally:
        await client.close()
        await intruder.close()
