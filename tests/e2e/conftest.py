"""The telephony flow on one broker: AMI simulator -> PBX adapter -> bus -> CRM adapter ->
CRM simulator, and the window's screen pop served over HTTP on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest

from adapters.crm.adapter import CrmAdapter
from adapters.crm.settings import CrmSettings
from adapters.crm.simulator import CrmSimulator
from adapters.pbx.adapter import PbxAdapter
from adapters.pbx.simulator import AmiSimulator, SimulatorConfig
from bus.adapters import AdapterHost
from bus.adapters.registry import LoadedAdapter
from bus.api.app import create_app
from tests.conftest import BusFactory, eventually
from tests.e2e.ami_cutter import AmiCutter
from tests.pbx.conftest import ami_settings
from tests.window.conftest import Window, WindowFactory, start_window

__all__ = ["CALLERS", "KNOWN", "SECRET", "Flow", "FlowFactory", "start_window"]

SECRET = "webhook-secret"
KNOWN = {"+79123456789": "C-1001", "+73912001122": "C-1002", "+79135550101": "C-1003"}
"""Customers of the CRM simulator's seed who have a responsible manager."""
CALLERS = (*KNOWN, "+79991112233", "+79990001122", "+79990004455")
"""The known ones, one known without a manager, two strangers."""
AGENTS = ("2001", "2002", "2003")
"""Few enough that a queue call rings every free one (ring-all rings up to three)."""


@dataclass
class Flow:
    crm: CrmSimulator
    crm_api: httpx.AsyncClient
    pbx: PbxAdapter
    ami: AmiSimulator
    window: Window
    cutter: AmiCutter | None


FlowFactory = Callable[..., Awaitable[Flow]]


@pytest.fixture
async def start_flow(make_bus: BusFactory, start_window: WindowFactory
                     ) -> AsyncIterator[FlowFactory]:
    closing: list[Callable[[], Awaitable[None]]] = []
    with CrmSimulator() as crm:

        async def start(*, cut: bool = False, seed: int = 4) -> Flow:
            bus = await make_bus(CrmAdapter.router, source="crm", start=False)
            adapter = CrmAdapter(CrmSettings(url=crm.url, token=crm.token,
                                             webhook_secret=SECRET, timeout=2.0), bus)
            for kind, provided in adapter.provide().items():
                bus.provide(kind, provided)
            await bus.start()
            await adapter.start()
            closing.append(adapter.stop)
            app = create_app(bus, AdapterHost(bus, [LoadedAdapter(
                "crm", CrmAdapter, instance=adapter, state="running")]))
            crm_api = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                        base_url="http://esb")
            closing.append(crm_api.aclose)
            # the CRM section of the card is the real CRM adapter's; the others test ones
            window = await start_window(deadlines={"crm": 3.0}, absent=frozenset({"crm"}))

            ami = AmiSimulator(SimulatorConfig(port=0, secret="secret", rate=0, speed=100,
                                               seed=seed, callers=CALLERS,
                                               agents=AGENTS))
            await ami.start()
            closing.append(ami.stop)
            port, cutter = ami.port, None
            if cut:
                cutter = AmiCutter(ami.port)
                await cutter.start()
                closing.append(cutter.stop)
                port = cutter.port
            pbx_bus = await make_bus(source="pbx")
            pbx = PbxAdapter(ami_settings(port), pbx_bus)
            await pbx.start()
            closing.append(pbx.stop)
            await pbx.client.wait_connected(5)
            return Flow(crm, crm_api, pbx, ami, window, cutter)

        yield start
        for close in reversed(closing):
            await close()


async def teach_the_window(flow: Flow, customer_id: str, phone: str) -> None:
    """The CRM's own webhook for a customer -> ``crm.customer.changed.v1`` -> the window's
    directory: the caller's card is then known locally."""
    body, headers = flow.crm.customer_webhook(SECRET, customer_id)
    response = await flow.crm_api.post("/v1/adapters/crm/webhooks/customer", content=body,
                                       headers=headers)
    assert response.status_code == 202, response.text
    directory = flow.window.component.state.directory
    await eventually(lambda: directory.card(phone)["known"], 5)
