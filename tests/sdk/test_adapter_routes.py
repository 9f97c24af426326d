"""An adapter's own HTTP routes are mounted under /v1/adapters/<name>/ or its api_prefix."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import APIRouter

from bus.adapters import AdapterHost
from bus.adapters.registry import LoadedAdapter
from bus.api.app import create_app
from tests.conftest import BusFactory
from tests.sdk.sample_adapter import NotifierAdapter, NotifierSettings


class HookedNotifier(NotifierAdapter):
    def api_routes(self) -> APIRouter:
        routes = APIRouter()

        @routes.post("/hooks/ping")
        async def ping() -> dict[str, Any]:
            return {"sender": self.outbox.sender}

        return routes


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_adapter_routes_are_mounted_under_their_name_and_others_add_none(
    make_bus: BusFactory,
) -> None:
    bus = await make_bus(start=False)
    settings = NotifierSettings(sender="ops")
    host = AdapterHost(bus, [
        LoadedAdapter("hooked", HookedNotifier, instance=HookedNotifier(settings, bus)),
        LoadedAdapter("plain", NotifierAdapter, instance=NotifierAdapter(settings, bus)),
        LoadedAdapter("broken", None, error="ImportError: gone", state="failed"),
    ])
    app = create_app(bus, host)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://esb") as client:
        hooked = await client.post("/v1/adapters/hooked/hooks/ping")
        plain = await client.post("/v1/adapters/plain/hooks/ping")

    assert hooked.json() == {"sender": "ops"}
    assert plain.status_code == 404


class FrontDoorNotifier(HookedNotifier):
    api_prefix = "/v1/notifier"


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_a_component_with_an_api_prefix_is_mounted_there_instead(
    make_bus: BusFactory,
) -> None:
    bus = await make_bus(start=False)
    instance = FrontDoorNotifier(NotifierSettings(sender="desk"), bus)
    app = create_app(bus, AdapterHost(bus, [LoadedAdapter("front", FrontDoorNotifier,
                                                          instance=instance)]))

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://esb") as client:
        mounted = await client.post("/v1/notifier/hooks/ping")
        default = await client.post("/v1/adapters/front/hooks/ping")

    assert mounted.json() == {"sender": "desk"}
    assert default.status_code == 404
