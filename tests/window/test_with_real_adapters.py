"""The window against a real adapter: the CRM adapter on its simulator answers the card."""

from __future__ import annotations

import pytest

from adapters.crm.adapter import CrmAdapter
from adapters.crm.settings import CrmSettings
from adapters.crm.simulator import CrmSimulator
from tests.conftest import BusFactory
from tests.window.conftest import WindowFactory

pytestmark = pytest.mark.parametrize("broker_url", ["memory"], indirect=True)


async def test_the_crm_card_comes_from_the_crm_adapter_on_its_simulator(
        make_bus: BusFactory, start_window: WindowFactory) -> None:
    with CrmSimulator() as crm:
        bus = await make_bus(CrmAdapter.router, source="crm", start=False)
        adapter = CrmAdapter(CrmSettings(url=crm.url, token=crm.token, timeout=2.0), bus)
        for kind, provided in adapter.provide().items():
            bus.provide(kind, provided)
        await bus.start()
        await adapter.start()
        try:
            # the other backends are the test ones; the CRM section is the real adapter's
            window = await start_window(deadlines={"crm": 3.0}, absent=frozenset({"crm"}))
            view = await window.view("/v1/customers/lookup", phone="89123456789")
        finally:
            await adapter.stop()

    crm_section = view["sections"]["crm"]
    assert crm_section["status"] == "fresh", crm_section["reason"]
    card = crm_section["data"]
    assert card["customer"]["person"]["last_name"] == "Иванова"
    assert card["manager"]["id"] == "M-1" and card["manager"]["extension"] == "2001"
    assert view["customer"]["manager"]["name"]
