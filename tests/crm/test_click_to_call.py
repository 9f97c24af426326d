"""Click-to-call end to end: CRM webhook -> bus API -> pbx.originate.requested.v1 -> PBX
adapter -> AMI Originate on the AMI simulator -> pbx.originate.replied.v1 -> the CRM; the
call's own events then log the call in the CRM."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from adapters.crm.simulator import CrmSimulator
from adapters.pbx.adapter import PbxAdapter
from adapters.pbx.originate import Originator
from adapters.pbx.originate import router as originate_router
from adapters.pbx.simulator import AmiSimulator, SimulatorConfig
from bus.envelope import Envelope
from tests.conftest import collector, eventually
from tests.crm.conftest import SECRET, AdapterFactory, api_client, settings_for
from tests.pbx.conftest import ami_settings

REPLIED = "pbx.originate.replied.v1"
WEBHOOK = "/v1/adapters/crm/webhooks/click-to-call"
API = "/v1/adapters/crm/click-to-call"

Setup = tuple[httpx.AsyncClient, list[Envelope], AmiSimulator]


@pytest.fixture
async def stack(simulator: CrmSimulator, crm_on: AdapterFactory
                ) -> AsyncIterator[Callable[[], Awaitable[Setup]]]:
    """The bus API with the CRM adapter, the PBX adapter's originate handler and an AMI
    simulator."""
    closing: list[Callable[[], Awaitable[None]]] = []

    async def setup() -> Setup:
        pbx = AmiSimulator(SimulatorConfig(port=0, secret="secret", rate=0, speed=100))
        await pbx.start()
        closing.append(pbx.stop)
        observer, seen = collector(REPLIED, "crm.interaction.logged.v1")
        holder: list[PbxAdapter] = []
        bus, crm = await crm_on(settings_for(simulator), originate_router, observer,
                                before_start=lambda bus: holder.append(_pbx(bus, pbx.port)))
        adapter = holder[0]
        await adapter.start()
        closing.append(adapter.stop)
        await adapter.client.wait_connected(5)
        client = api_client(bus, crm)
        closing.append(client.aclose)
        return client, seen, pbx

    yield setup
    for close in reversed(closing):
        await close()


def _pbx(bus: object, port: int) -> PbxAdapter:
    adapter = PbxAdapter(ami_settings(port), bus)
    adapter.bus.provide(Originator, adapter.originator)
    return adapter


def of(seen: list[Envelope], kind: str) -> list[Envelope]:
    return [e for e in seen if e.type == kind]


@pytest.mark.parametrize("broker_url", ["memory", "rabbitmq"], indirect=True)
async def test_a_click_in_the_crm_rings_the_agent_calls_the_customer_and_is_noted_in_the_crm(
    simulator: CrmSimulator, stack: Callable[[], Awaitable[Setup]],
) -> None:
    client, seen, pbx = await stack()
    body, headers = simulator.click_to_call_webhook(
        SECRET, "2001", "+79123456789", entity={"type": "contact", "id": "C-1001"})

    response = await client.post(WEBHOOK, content=body, headers=headers)
    replayed = await client.post(WEBHOOK, content=body, headers=headers)

    assert response.status_code == 202, response.text
    assert replayed.status_code == 401
    await eventually(lambda: len(simulator.data.activities) == 1)
    [call] = pbx.generated
    [activity] = simulator.data.activities.values()
    assert (activity["kind"], activity["status"], activity["call_id"]) == (
        "click_to_call", "accepted", call.linkedid)
    assert (activity["entity_type"], activity["entity_id"], activity["user_id"]) == (
        "contact", "C-1001", "17")
    [reply] = of(seen, REPLIED)
    assert reply.causation_id == response.json()["id"]
    # the call's own events flow as usual: the call lands in the customer's history
    await eventually(lambda: f"call-{call.linkedid}" in simulator.data.interactions)
    logged = simulator.data.interactions[f"call-{call.linkedid}"]
    assert (logged["customer_id"], logged["direction"], logged["phone"]) == (
        "C-1001", "outbound", "+79123456789")
    assert len(pbx.generated) == 1


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_the_api_asks_for_a_call_and_a_bad_signature_asks_for_nothing(
    simulator: CrmSimulator, stack: Callable[[], Awaitable[Setup]],
) -> None:
    client, seen, pbx = await stack()
    body, headers = simulator.click_to_call_webhook("guessed", "2002", "+79135550101")
    tampered = json.loads(simulator.click_to_call_webhook(SECRET, "2002", "+1")[0])

    forged = await client.post(WEBHOOK, content=body, headers=headers)
    unsigned = await client.post(WEBHOOK, content=json.dumps(tampered).encode(),
                                 headers={"Content-Type": "application/json"})
    asked = await client.post(API, json={"agent_extension": "2002", "number": "+79135550101",
                                         "requested_by": {"system": "window"}})
    malformed = await client.post(API, json={"number": "+79135550101"})

    assert [forged.status_code, unsigned.status_code] == [401, 401]
    assert (asked.status_code, malformed.status_code) == (202, 422)
    await eventually(lambda: len(of(seen, REPLIED)) == 1)
    [reply] = of(seen, REPLIED)
    assert reply.payload["status"] == "accepted"
    assert reply.payload["requested_by"] == {"system": "window"}
    assert [c.answered_by for c in pbx.generated] == ["2002"]
    assert simulator.data.activities == {}  # asked by the window: not written to the CRM
