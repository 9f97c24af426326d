from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from bus.adapters import AdapterHost, LoadedAdapter
from bus.api.app import create_app
from bus.app import Bus
from bus.router import Router
from tests.conftest import BusFactory
from tests.window.backends import Backends
from window.backends import SECTIONS
from window.component import WindowComponent
from window.settings import Deadlines, WindowSettings


@dataclass
class Window:
    bus: Bus
    component: WindowComponent
    app: FastAPI
    backends: Backends
    client: httpx.AsyncClient

    async def view(self, path: str, **params: Any) -> dict[str, Any]:
        response = await self.client.get(path, params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


WindowFactory = Callable[..., Awaitable[Window]]


@pytest.fixture
async def start_window(make_bus: BusFactory) -> AsyncIterator[WindowFactory]:
    """The window component on its own bus, the test backends on another, one broker."""
    started: list[Window] = []

    async def start(latency: Mapping[str, float | None] | None = None,
                    deadlines: Mapping[str, float] | None = None,
                    routers: tuple[Router, ...] = (), absent: frozenset[str] = frozenset(),
                    **settings: Any) -> Window:
        backends = Backends(latency=dict(latency or {}), absent=set(absent))
        await make_bus(backends.router(), *routers, source="backends")
        bus = await make_bus(source="window", start=False)
        # roomy deadlines unless a test is about them: a loaded machine must not flake it
        roomy = dict.fromkeys(SECTIONS, 3.0)
        config = WindowSettings(deadlines=Deadlines(**{**roomy, **(deadlines or {})}),
                                **settings)
        component = WindowComponent(config, bus)
        bus.include(component.router)
        for kind, provided in component.provide().items():
            bus.provide(kind, provided)
        await bus.start()
        await component.start()
        loaded = LoadedAdapter("window", WindowComponent, instance=component, state="running")
        app = create_app(bus, AdapterHost(bus, [loaded]))
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                   base_url="http://window.test")
        window = Window(bus, component, app, backends, client)
        started.append(window)
        return window

    yield start
    for window in started:
        window.backends.released.set()
        await window.client.aclose()
        await window.component.stop()
