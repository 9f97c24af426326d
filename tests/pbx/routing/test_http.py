"""The dialplan's HTTP endpoint and manual statuses, through the PBX adapter mounted in the
bus API (httpx over ASGI), with the adapter connected to the AMI simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from adapters.pbx.adapter import PbxAdapter
from adapters.pbx.simulator.server import AmiSimulator, SimulatorConfig
from bus.adapters import AdapterHost
from bus.adapters.registry import LoadedAdapter
from bus.api.app import create_app
from bus.envelope import Envelope
from tests.conftest import BusFactory, collector, eventually
from tests.pbx.conftest import ami_settings
from tests.pbx.routing.conftest import KNOWN_CALLER, STAFF, customer

pytestmark = pytest.mark.parametrize("broker_url", ["memory"], indirect=True)

ROUTE = "/v1/adapters/pbx/route"


@dataclass
class Setup:
    client: httpx.AsyncClient
    adapter: PbxAdapter
    decided: list[Envelope]
    simulator: AmiSimulator


@pytest.fixture
async def pbx_api(make_bus: BusFactory) -> AsyncIterator[Setup]:
    observer, decided = collector("pbx.route.decided.v1")
    async with AmiSimulator(SimulatorConfig(port=0, rate=0, user="esb", secret="secret",
                                            seed=1)) as simulator:
        bus = await make_bus(observer, start=False, source="pbx")
        settings = ami_settings(simulator.port, routing={"crm_lookup": False,
                                                         "unknown_strategy": "secretary",
                                                         "secretary": "2500"})
        adapter = PbxAdapter(settings, bus)
        host = AdapterHost(bus, [LoadedAdapter("pbx", PbxAdapter, instance=adapter,
                                               state="running")])
        for kind, provided in adapter.provide().items():
            bus.provide(kind, provided)
        bus.include(PbxAdapter.router)
        await bus.start()
        await adapter.start()
        app = create_app(bus, host)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://esb") as client:
            yield Setup(client, adapter, decided, simulator)
        await adapter.stop()


async def known_customer_of_anna(setup: Setup) -> None:
    for payload in STAFF:
        await setup.adapter.routing.manager_changed(payload)
    await setup.adapter.bus.emit("crm.customer.changed.v1",
                                 customer("C-1", KNOWN_CALLER, manager_id="anna"))
    await eventually(lambda: KNOWN_CALLER in setup.adapter.routing.directory.customers)


async def test_dialplan_gets_the_owner_as_json_and_as_a_curl_line(pbx_api: Setup) -> None:
    await known_customer_of_anna(pbx_api)

    answer = await pbx_api.client.get(ROUTE, params={
        "caller": "89161234567", "called": "74951234567", "linkedid": "1764054000.21"})
    line = await pbx_api.client.get(ROUTE, params={"caller": "89161234567", "format": "text"})

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["rule"], body["target_extension"], body["kind"]) == ("owner", "2001",
                                                                      "extension")
    assert body["linkedid"] == "1764054000.21" and "responsible manager" in body["reason"]
    assert line.headers["content-type"].startswith("text/plain")
    assert line.text == "extension,PJSIP/2001,owner"
    await eventually(lambda: len(pbx_api.decided) == 2)
    assert pbx_api.decided[0].payload["linkedid"] == "1764054000.21"


async def test_unknown_and_hidden_callers_get_an_answer_too(pbx_api: Setup) -> None:
    stranger = await pbx_api.client.get(ROUTE, params={"caller": "+79990001122",
                                                       "format": "text"})
    hidden = await pbx_api.client.get(ROUTE, params={"caller": "anonymous"})
    bad = await pbx_api.client.get(ROUTE, params={"linkedid": "no spaces allowed"})

    assert stranger.text == "extension,PJSIP/2500,secretary"
    assert hidden.json()["rule"] == "secretary"
    assert bad.status_code == 422


async def test_manual_status_through_the_api_flips_the_decision(pbx_api: Setup) -> None:
    await known_customer_of_anna(pbx_api)

    away = await pbx_api.client.put("/v1/adapters/pbx/presence/2001",
                                    json={"status": "away", "reason": "meeting"})
    while_away = (await pbx_api.client.get(ROUTE, params={"caller": KNOWN_CALLER})).json()
    board = (await pbx_api.client.get("/v1/adapters/pbx/presence")).json()
    await pbx_api.client.put("/v1/adapters/pbx/presence/2001", json={"status": None})
    back = (await pbx_api.client.get(ROUTE, params={"caller": KNOWN_CALLER})).json()
    refused = await pbx_api.client.put("/v1/adapters/pbx/presence/x1", json={"status": "away"})

    assert away.status_code == 200 and away.json()["free"] is False
    assert (while_away["rule"], while_away["target_queue"]) == ("group", "sales")
    assert "away by hand (meeting)" in while_away["reason"]
    assert board["agents"]["2001"]["why_not_free"] == "set away by hand (meeting)"
    assert (back["rule"], back["target_extension"]) == ("owner", "2001")
    assert refused.status_code == 422


async def test_presence_from_the_ami_stream_reaches_routing(pbx_api: Setup) -> None:
    await pbx_api.adapter.client.wait_connected(5)
    call = pbx_api.simulator.place_call()

    await eventually(lambda: any(a.device != "unknown"
                                 for a in pbx_api.adapter.routing.presence.agents.values()))
    assert call is not None
