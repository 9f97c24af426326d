"""Stopping and starting one adapter from the API: it lets go of what it runs, the bus and
the other adapters go on, only integrators and admins may, and the audit says who did."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from bus.adapters import Adapter, AdapterManifest, AdapterSettings, Health
from bus.adapters.registry import LoadedAdapter
from bus.app import Bus
from tests.api.auth_harness import Secured, auth_settings, components, key, secured_api
from tests.conftest import BusFactory

pytestmark = pytest.mark.parametrize("broker_url", ["memory"], indirect=True)


class Poller(Adapter):
    """An adapter with background work of its own: a poller that ticks while it runs."""

    manifest = AdapterManifest("poller", "1.0", "ticks while running")

    def __init__(self, settings: AdapterSettings, bus: Bus) -> None:
        super().__init__(settings, bus)
        self.ticking: asyncio.Task[None] | None = None
        self.starts = self.ticks = 0

    async def start(self) -> None:
        self.starts += 1
        self.ticking = asyncio.create_task(self._tick())

    async def stop(self) -> None:
        if self.ticking is not None:
            self.ticking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.ticking
            self.ticking = None

    async def health(self) -> Health:
        return Health(ok=self.ticking is not None, detail="ticking")

    async def _tick(self) -> None:
        while True:
            self.ticks += 1
            await asyncio.sleep(0.01)


@pytest.fixture
async def api(make_bus: BusFactory) -> AsyncIterator[Secured]:
    bus = await make_bus(source="lifecycle", start=False)
    loaded = components(LoadedAdapter("poller", Poller))
    async for secured in secured_api(bus, loaded, auth_settings()):
        yield secured


def poller(api: Secured) -> Poller:
    [instance] = [a.instance for a in api.host.adapters if a.name == "poller"]
    assert isinstance(instance, Poller)
    return instance


async def listed(api: Secured, name: str) -> dict[str, object]:
    adapters = (await api.client.get("/v1/adapters", headers=key("admin"))).json()["adapters"]
    [found] = [adapter for adapter in adapters if adapter["name"] == name]
    return dict(found)


async def test_an_integrator_stops_an_adapter_and_starts_it_again(api: Secured) -> None:
    integrator = await api.bearer("ivan")

    stopped = await api.client.post("/v1/adapters/poller/stop", headers=integrator)
    shown_stopped = await listed(api, "poller")
    ticking_while_stopped = poller(api).ticking
    started = await api.client.post("/v1/adapters/poller/start", headers=integrator)
    shown_started = await listed(api, "poller")

    assert stopped.status_code == 200, stopped.text
    assert ticking_while_stopped is None
    assert (shown_stopped["state"], shown_stopped["healthy"]) == ("stopped", False)
    assert shown_stopped["health"] == "stopped by ivan"
    assert started.status_code == 200, started.text
    assert (shown_started["state"], shown_started["healthy"]) == ("running", True)
    assert poller(api).starts == 2 and api.bus.running
    assert (await listed(api, "window"))["state"] == "running"  # the others went on


async def test_stopping_twice_starting_a_running_one_or_an_unknown_one_is_refused(
    api: Secured,
) -> None:
    admin = key("admin")
    first = await api.client.post("/v1/adapters/poller/stop", headers=admin)
    again = await api.client.post("/v1/adapters/poller/stop", headers=admin)
    running = await api.client.post("/v1/adapters/window/start", headers=admin)
    unknown = await api.client.post("/v1/adapters/nobody/stop", headers=admin)
    assert (first.status_code, again.status_code) == (200, 409)
    assert running.status_code == 409 and "not stopped" in running.json()["detail"]
    assert unknown.status_code == 404


async def test_operators_and_monitoring_may_not_and_every_attempt_is_audited(
    api: Secured,
) -> None:
    refused = [await api.client.post("/v1/adapters/poller/stop", headers=key(role))
               for role in ("operator", "monitoring")]
    done = await api.client.post("/v1/adapters/poller/stop", headers=await api.bearer("anna"))
    again = await api.client.post("/v1/adapters/poller/start", headers=key("integrator"))
    rows = (await api.client.get("/v1/audit", headers=key("admin"))).json()["entries"]

    assert [r.status_code for r in refused] == [403, 403]
    assert poller(api).starts == 2 and done.status_code == again.status_code == 200
    assert sorted((row["action"], row["actor"], row["target"], row["status"])
                  for row in rows if row["action"].startswith("adapter.")) == [
        ("adapter.start", "integrator-system", "poller", 200),
        ("adapter.stop", "anna", "poller", 200)]
    assert sorted((row["actor"], row["action"]) for row in rows if row["status"] == 403) == [
        ("monitoring-system", "POST /v1/adapters/poller/stop"),  # refused before routing
        ("operator-system", "POST /v1/adapters/poller/stop")]
