"""The window is found through its entry point like any adapter and mounts its API at /v1."""

from __future__ import annotations

from importlib.metadata import entry_points

import httpx
import pytest

from bus.adapters import AdapterHost, LoadedAdapter
from bus.adapters.registry import ENTRY_POINT_GROUP
from bus.api.app import create_app
from tests.conftest import BusFactory
from window.component import WindowComponent
from window.settings import WindowSettings


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_discovered_built_and_mounted_under_v1(make_bus: BusFactory) -> None:
    [entry] = [e for e in entry_points(group=ENTRY_POINT_GROUP) if e.name == "window"]
    assert entry.load() is WindowComponent  # loading only this one: the others are slow
    loaded = LoadedAdapter("window", WindowComponent)
    bus = await make_bus(source="window", start=False)
    host = AdapterHost(bus, [loaded])
    host.build()
    await bus.start()
    await host.start()
    app = create_app(bus, host)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://esb") as client:
        sessions = await client.get("/v1/screen-pop/sessions")
        adapters = (await client.get("/v1/adapters")).json()["adapters"]

    assert loaded.instance is not None
    checked = await loaded.instance.check()
    await host.stop()
    assert loaded.state == "stopped"
    assert "billing (billing.accounts.requested.v1, 1 s)" in checked
    assert sessions.json() == {"agents": {}, "pushed": 0}
    [window] = [a for a in adapters if a["name"] == "window"]
    assert window["healthy"] is True
    assert "window.customer.view.v1" in window["publishes"]
    assert "billing.balance.changed.v1" in window["consumes"]
    queues = {s.name for s in bus.subscriptions}
    assert {"window.changes", "window.screen-pop"} <= queues


def test_settings_come_from_esb_window_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESB_WINDOW__DEADLINES__BILLING", "0.25")
    monkeypatch.setenv("ESB_WINDOW__CACHE_TTL", "5")
    monkeypatch.setenv("ESB_WINDOW__ENABLED", "false")

    settings = WindowSettings()

    assert settings.deadlines.billing == 0.25 and settings.deadlines.crm == 0.8
    assert settings.cache_ttl == 5 and settings.enabled is False
