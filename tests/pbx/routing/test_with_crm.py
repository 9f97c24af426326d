"""Routing with the real CRM adapter on the same bus, against the CRM simulator (HTTP on
loopback): a caller unknown locally is looked up over the bus, and an auto-assigned new
caller becomes the CRM's customer whose next call goes to the owner."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.crm.simulator import CrmSimulator
from adapters.pbx.routing import handlers
from adapters.pbx.routing.service import RoutingService
from adapters.pbx.routing.settings import RoutingSettings
from bus.app import Bus
from tests.conftest import collector, eventually
from tests.crm.conftest import AdapterFactory, crm_on, settings_for, simulator

__all__ = ["crm_on", "simulator"]  # fixtures of the CRM suite, used here

pytestmark = pytest.mark.parametrize("broker_url", ["memory"], indirect=True)


async def routing_with_crm(crm: CrmSimulator, crm_on: AdapterFactory,
                           **settings: Any) -> tuple[Bus, RoutingService, list[Any]]:
    services: list[RoutingService] = []

    def provide_routing(bus: Bus) -> None:
        service = RoutingService(RoutingSettings(crm_timeout_ms=3000, deadline_ms=5000,
                                                 **settings), bus, rng=random.Random(5))
        bus.provide(RoutingService, service)
        services.append(service)

    observer, leads = collector("crm.lead.requested.v1")
    bus, _crm = await crm_on(settings_for(crm), handlers.router, observer,
                             before_start=provide_routing)
    [service] = services
    await service.start()
    for manager in crm.data.managers.values():
        await bus.emit("crm.manager.changed.v1", {"change": "updated", "manager": {
            "id": manager["id"], "last_name": manager["last_name"],
            "first_name": manager["first_name"], "extension": manager["extension"],
            "queues": ["sales"], "active": True}})
    await eventually(lambda: len(service.directory.managers) == len(crm.data.managers))
    return bus, service, leads


@pytest.fixture
async def stopping() -> AsyncIterator[list[RoutingService]]:
    services: list[RoutingService] = []
    yield services
    for service in services:
        await service.stop()


async def test_callers_unknown_locally_are_found_in_the_crm_over_the_bus(
        simulator: CrmSimulator, crm_on: AdapterFactory,
        stopping: list[RoutingService]) -> None:
    _bus, service, _ = await routing_with_crm(simulator, crm_on, head_of_sales="2100")
    stopping.append(service)

    ivanova = await service.route(service.request_of("1.1", "89123456789", "73912001122"))
    vip = await service.route(service.request_of("1.2", "+79135550101", "73912001122"))
    again = await service.route(service.request_of("1.3", "+79123456789", "73912001122"))

    assert (ivanova.rule, ivanova.targets, ivanova.customer_id) == ("owner", ("2001",),
                                                                    "C-1001")
    assert (vip.rule, vip.targets, vip.customer_id) == ("vip", ("2100",), "C-1003")
    assert again.customer_id == "C-1001"
    assert service.directory.customers["+79123456789"].manager_id == "M-1"


async def test_an_auto_assigned_caller_becomes_a_crm_customer_owned_by_that_manager(
        simulator: CrmSimulator, crm_on: AdapterFactory,
        stopping: list[RoutingService]) -> None:
    _bus, service, leads = await routing_with_crm(simulator, crm_on,
                                                  unknown_strategy="auto_assign")
    stopping.append(service)
    stranger = "+74957770011"

    first = await service.route(service.request_of("1.4", stranger, "74951234567"))
    await eventually(lambda: stranger in service.directory.customers)
    second = await service.route(service.request_of("1.5", "84957770011", "74951234567"))

    assert first.rule == "auto_assign" and first.manager_id is not None
    assert [e.payload["manager_id"] for e in leads] == [first.manager_id]
    [created] = [c for c in simulator.data.customers.values()
                 if any(p["number"] == stranger for p in c["phones"])]
    assert created["manager_id"] == first.manager_id
    assert (second.rule, second.targets, second.customer_id) == (
        "owner", first.targets, created["id"])
