"""crm.lead.requested.v1 (routing's auto-assign): a new caller becomes a customer with the
routed manager responsible, once per number, in both profiles."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from adapters.crm.settings import CrmSettings
from adapters.crm.simulator import CrmSimulator
from bus.envelope import Envelope
from tests.conftest import collector, eventually
from tests.crm.conftest import AdapterFactory, settings_for

LEAD = "crm.lead.requested.v1"
CHANGED = "crm.customer.changed.v1"


def lead(manager_id: str) -> dict[str, Any]:
    return {"phone": "+74951112233", "manager_id": manager_id, "linkedid": "1710240000.1",
            "called_number": "74951234567", "region": None,
            "requested_at": "2024-03-12T06:15:07Z"}


def bitrix(sim: CrmSimulator) -> CrmSettings:
    return CrmSettings(profile="bitrix24", url=sim.url, token=sim.bitrix_webhook,
                       timeout=2.0)


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
@pytest.mark.parametrize(("profile", "manager"), [("own", "M-2"), ("bitrix24", "2")])
async def test_a_new_callers_lead_is_created_once_with_the_routed_manager(
    simulator: CrmSimulator, crm_on: AdapterFactory, profile: str, manager: str,
) -> None:
    observer, changed = collector(CHANGED)
    settings = settings_for(simulator) if profile == "own" else bitrix(simulator)
    bus, _adapter = await crm_on(settings, observer)
    before = len(simulator.data.customers)

    await bus.publish(Envelope(type=LEAD, source="pbx", payload=lead(manager)))
    await eventually(lambda: len(changed) == 1)
    await bus.publish(Envelope(type=LEAD, source="pbx", payload=lead(manager)))  # again
    await eventually(lambda: len(changed) == 2)
    await asyncio.sleep(0.2)

    assert len(simulator.data.customers) == before + 1
    [new] = [c for c in simulator.data.customers.values()
             if any(p["number"] == "+74951112233" for p in c["phones"])]
    assert new["manager_id"] == "M-2"
    assert [e.payload["change"] for e in changed] == ["created", "updated"]
    customer = changed[0].payload["customer"]
    assert (customer["manager_id"], customer["contacts"][0]["phone"]) == (
        manager, "+74951112233")
    found = await bus.request("crm.customer.requested.v1", {"phone": "+74951112233"})
    assert [c["id"] for c in found.payload["customers"]] == [customer["id"]]
