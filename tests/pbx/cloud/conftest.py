"""The bus API with the Zadarma adapter mounted, the Zadarma stand-in, and what reaches the bus."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest

from adapters.pbx.cloud.adapter import ZadarmaAdapter
from adapters.pbx.cloud.settings import ZadarmaSettings
from adapters.pbx.cloud.simulator import ZadarmaCloud
from bus.adapters import AdapterHost
from bus.adapters.registry import LoadedAdapter
from bus.api.app import create_app
from bus.app import Bus
from bus.envelope import Envelope
from bus.router import Router
from tests.conftest import BusFactory, collector

SECRET = "zadarma-api-secret"
URL = "/v1/adapters/zadarma/webhook"
ZONE = "Europe/Moscow"


@dataclass
class Site:
    bus: Bus
    adapter: ZadarmaAdapter
    client: httpx.AsyncClient
    events: list[Envelope]
    cloud: ZadarmaCloud

    def of(self, type_: str) -> list[Envelope]:
        return [e for e in self.events if e.type == type_]


SiteFactory = Callable[..., Awaitable[Site]]


@pytest.fixture
async def zadarma_site(make_bus: BusFactory) -> AsyncIterator[SiteFactory]:
    clients: list[httpx.AsyncClient] = []

    async def build(*routers: Router, secret: str = SECRET) -> Site:
        observer, events = collector("pbx.call.#")
        bus = await make_bus(observer, *routers, source="test")
        adapter = ZadarmaAdapter(ZadarmaSettings(enabled=True, api_secret=secret,
                                                 timezone=ZONE), bus)
        host = AdapterHost(bus, [LoadedAdapter("zadarma", ZadarmaAdapter, instance=adapter,
                                               state="running")])
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(bus, host)),
                                   base_url="http://esb")
        clients.append(client)
        return Site(bus, adapter, client, events, ZadarmaCloud(SECRET))

    yield build
    for client in clients:
        await client.aclose()
