"""A second stop of an adapter while the first is still stopping it is refused (409), not
run twice: the adapter's own stop runs once and it ends ``stopped``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bus.adapters import AdapterSettings
from bus.adapters.registry import LoadedAdapter
from tests.api.auth_harness import Secured, auth_settings, secured_api
from tests.conftest import BusFactory, eventually
from tests.sdk.sample_adapter import NotifierAdapter

pytestmark = pytest.mark.parametrize("broker_url", ["memory", "rabbitmq"], indirect=True)


class SlowToStopNotifier(NotifierAdapter):
    """The notifier, whose stop (closing its connections, say) lasts until ``let_go``."""

    def __init__(self, settings: AdapterSettings, bus: Any) -> None:
        super().__init__(settings, bus)
        self.let_go = asyncio.Event()
        self.stops = 0

    async def stop(self) -> None:
        self.stops += 1
        await self.let_go.wait()
        await super().stop()


@pytest.fixture
async def api(make_bus: BusFactory) -> AsyncIterator[Secured]:
    bus = await make_bus(source="stop-twice", start=False)
    async for secured in secured_api(bus, [LoadedAdapter("notifier", SlowToStopNotifier)],
                                     auth_settings()):
        yield secured


def loaded_notifier(api: Secured) -> LoadedAdapter:
    [loaded] = [a for a in api.host.adapters if a.name == "notifier"]
    return loaded


async def test_a_second_stop_while_the_adapter_is_stopping_is_refused(api: Secured) -> None:
    integrator = await api.bearer("ivan")
    loaded = loaded_notifier(api)
    adapter = loaded.instance
    assert isinstance(adapter, SlowToStopNotifier)

    first = asyncio.create_task(api.client.post("/v1/adapters/notifier/stop",
                                                headers=integrator))
    await eventually(lambda: adapter.stops == 1)
    state_during = loaded.state
    try:  # run twice, the second stop would wait for ``let_go`` too: it must not
        second = await asyncio.wait_for(
            api.client.post("/v1/adapters/notifier/stop", headers=integrator), timeout=5)
    finally:
        adapter.let_go.set()
    first_done = await asyncio.wait_for(first, timeout=10)

    assert state_during == "stopping"
    assert second.status_code == 409, second.text
    assert second.json()["detail"] == "adapter 'notifier' is not running"
    assert first_done.status_code == 200, first_done.text
    assert first_done.json()["state"] == "stopped"
    assert adapter.stops == 1
    assert not adapter.started
