"""The CRM adapter against its simulator (a real HTTP CRM on loopback), on a bus from make_bus."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest

from adapters.crm.adapter import CrmAdapter
from adapters.crm.settings import CrmSettings
from adapters.crm.simulator import CrmSimulator
from bus.adapters import AdapterHost
from bus.adapters.registry import LoadedAdapter
from bus.api.app import create_app
from bus.app import Bus
from tests.adapter_kit import adapters_on
from tests.conftest import BusFactory

AdapterFactory = Callable[..., Awaitable[tuple[Bus, CrmAdapter]]]

SECRET = "webhook-secret"


@pytest.fixture
def simulator() -> Iterator[CrmSimulator]:
    """The built-in seed: Ivanova (manager M-1), a company, a VIP, a customer with no manager."""
    with CrmSimulator() as sim:
        yield sim


def settings_for(sim: CrmSimulator, **overrides: Any) -> CrmSettings:
    values: dict[str, Any] = {"url": sim.url, "token": sim.token, "webhook_secret": SECRET,
                              "timeout": 2.0, **overrides}
    return CrmSettings(**values)


@pytest.fixture
async def crm_on(make_bus: BusFactory) -> AsyncIterator[AdapterFactory]:
    """Start a bus with the CRM adapter (as the adapter host would) and other routers."""
    async with adapters_on(make_bus, CrmAdapter) as starter:
        yield starter


def api_client(bus: Bus, crm: CrmAdapter) -> httpx.AsyncClient:
    """A client of the bus API with ``crm`` running on ``bus`` (its routes mounted)."""
    loaded = LoadedAdapter("crm", CrmAdapter, instance=crm, state="running")
    app = create_app(bus, AdapterHost(bus, [loaded]))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://esb")


def ended_call(linkedid: str = "1710224107.1837", caller: str | None = "89123456789",
               disposition: str = "answered", **overrides: Any) -> dict[str, Any]:
    """A ``pbx.call.ended.v1`` payload: by default Ivanova's answered inbound call."""
    answered = disposition == "answered"
    call: dict[str, Any] = {
        "linkedid": linkedid, "direction": "inbound", "caller_number": caller,
        "called_number": "73912001122", "queue": "support", "ring_targets": ["2001", "2002"],
        "answered_by_extension": "2002" if answered else None,
        "started_at": "2024-03-12T06:15:07.000715Z",
        "answered_at": "2024-03-12T06:15:15Z" if answered else None,
        "ended_at": "2024-03-12T06:17:01.499504Z", "ring_seconds": 8,
        "talk_seconds": 95 if answered else 0, "disposition": disposition,
        "transferred_to": None, "hangup_cause": 16,
    }
    call.update(overrides)
    return call
