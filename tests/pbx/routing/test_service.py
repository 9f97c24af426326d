"""Routing on a real bus: state from events, the CRM asked on a miss (and not waited for),
auto-assign that sticks, decisions journaled, request-reply, presence across a restart."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from adapters.pbx.routing import handlers
from adapters.pbx.routing.service import RoutingService
from adapters.pbx.routing.settings import RoutingSettings
from bus.app import Bus
from bus.journal.query import JournalQuery
from bus.router import Router
from tests.conftest import BusFactory, collector, eventually
from tests.pbx.routing.conftest import KNOWN_CALLER, STAFF, customer, presence

MEMORY = pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
Factory = Callable[..., Awaitable[tuple[Bus, RoutingService]]]


@pytest.fixture
async def routing_on(make_bus: BusFactory) -> AsyncIterator[Factory]:
    """A bus with routing's handlers and a started :class:`RoutingService`."""
    services: list[RoutingService] = []

    async def factory(*routers: Router, **settings: Any) -> tuple[Bus, RoutingService]:
        bus = await make_bus(handlers.router, *routers, start=False, source="pbx")
        service = RoutingService(RoutingSettings(**settings), bus, rng=random.Random(3))
        bus.provide(RoutingService, service)
        await bus.start()
        await service.start()
        services.append(service)
        return bus, service

    yield factory
    for service in services:
        await service.stop()


def ask(caller: str | None, linkedid: str = "1764054000.7") -> dict[str, Any]:
    return {"linkedid": linkedid, "caller_number": caller, "called_number": "74951234567",
            "queue": None, "requested_at": "2026-11-25T07:00:00.000000Z"}


async def staff(bus: Bus, service: RoutingService) -> None:
    for payload in STAFF:
        await bus.emit("crm.manager.changed.v1", payload)
    await eventually(lambda: len(service.directory.managers) == len(STAFF))


def crm_responder(answer: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]) -> Router:
    """A CRM stand-in on the bus answering crm.customer.requested.v1."""
    router = Router(source="crm")

    @router.responder("crm.customer.requested.v1", "crm.customer.replied.v1", name="test-crm")
    async def find(payload: dict[str, Any]) -> dict[str, Any]:
        return await answer(payload)

    return router


@MEMORY
async def test_managers_customers_and_presence_events_drive_the_decision(
        routing_on: Factory) -> None:
    bus, service = await routing_on(crm_lookup=False)
    await staff(bus, service)
    await bus.emit("crm.customer.changed.v1", customer("C-1", KNOWN_CALLER, manager_id="anna"))
    await eventually(lambda: KNOWN_CALLER in service.directory.customers)

    free = await bus.request("pbx.route.requested.v1", ask("89161234567"), timeout=5)
    await bus.emit("pbx.agent.presence.v1", presence("2001", "in_call"))
    await eventually(lambda: not service.presence.is_free("2001"))
    busy = await bus.request("pbx.route.requested.v1", ask("89161234567"), timeout=5)
    await bus.emit("crm.customer.changed.v1", customer("C-1", KNOWN_CALLER, change="deleted"))
    await eventually(lambda: KNOWN_CALLER not in service.directory.customers)
    gone = await bus.request("pbx.route.requested.v1", ask("89161234567"), timeout=5)

    assert (free.payload["rule"], free.payload["target_extension"]) == ("owner", "2001")
    assert (busy.payload["rule"], busy.payload["target_queue"]) == ("group", "sales")
    assert gone.payload["rule"] == "default" and gone.payload["customer_id"] is None


@MEMORY
async def test_golden_record_update_from_sync_makes_the_caller_known(routing_on: Factory) -> None:
    bus, service = await routing_on(crm_lookup=False)
    await staff(bus, service)
    golden = customer("G-77", KNOWN_CALLER, manager_id="vera")["customer"]
    await bus.emit("sync.customer.updated.v1", {
        "golden_id": "G-77", "customer": golden, "changed_fields": ["manager_id"],
        "sources": [{"system": "crm", "id": "C-1"}]})
    await eventually(lambda: KNOWN_CALLER in service.directory.customers)

    decision = await service.route(service.request_of("1.2", KNOWN_CALLER, None))

    assert (decision.rule, decision.targets, decision.customer_id) == ("owner", ("2003",),
                                                                       "G-77")


@MEMORY
async def test_a_crm_that_does_not_answer_in_time_sends_the_call_to_the_default_queue(
        routing_on: Factory) -> None:
    async def slow(_payload: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(1.0)
        return {"customers": []}

    _bus, service = await routing_on(crm_responder(slow), crm_timeout_ms=100,
                                    default_queue="main", unknown_strategy="secretary",
                                    secretary="2500")
    began = time.perf_counter()
    decision = await service.route(service.request_of("1.3", KNOWN_CALLER, None))
    elapsed = time.perf_counter() - began

    assert (decision.rule, decision.queue) == ("default", "main")
    assert decision.reason == "CRM did not answer within 100 ms"
    assert 0.09 <= elapsed < 0.5


@MEMORY
async def test_the_hard_deadline_answers_with_the_default_queue(routing_on: Factory) -> None:
    async def slow(_payload: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(1.0)
        return {"customers": []}

    _bus, service = await routing_on(crm_responder(slow), crm_timeout_ms=2000, deadline_ms=80)
    began = time.perf_counter()
    decision = await service.route(service.request_of("1.4", KNOWN_CALLER, None))

    assert time.perf_counter() - began < 0.5
    assert (decision.rule, decision.queue) == ("default", "support")
    assert "no decision within 80 ms" in decision.reason


@MEMORY
async def test_a_customer_the_crm_finds_is_routed_to_its_owner_and_remembered(
        routing_on: Factory) -> None:
    asked: list[dict[str, Any]] = []

    async def crm(payload: dict[str, Any]) -> dict[str, Any]:
        asked.append(payload)
        if payload["phone"] == KNOWN_CALLER:
            return {"customers": [customer("C-5", KNOWN_CALLER, manager_id="boris")["customer"]]}
        return {"customers": []}

    bus, service = await routing_on(crm_responder(crm), crm_timeout_ms=2000,
                                    deadline_ms=3000, unknown_strategy="secretary",
                                    secretary="2500")
    await staff(bus, service)

    first = await service.route(service.request_of("1.5", "89161234567", None))
    second = await service.route(service.request_of("1.6", "+79161234567", None))
    stranger = await service.route(service.request_of("1.7", "+79990001122", None))
    stranger_again = await service.route(service.request_of("1.8", "+79990001122", None))

    assert (first.rule, first.targets, first.customer_id) == ("owner", ("2002",), "C-5")
    assert second.targets == ("2002",)
    assert (stranger.rule, stranger_again.rule) == ("secretary", "secretary")
    assert [a["phone"] for a in asked] == [KNOWN_CALLER, "+79990001122"]


@MEMORY
async def test_auto_assign_picks_a_free_manager_requests_a_lead_and_sticks(
        routing_on: Factory) -> None:
    observer, leads = collector("crm.lead.requested.v1")
    bus, service = await routing_on(observer, crm_lookup=False, unknown_strategy="auto_assign",
                                    pool_queue="sales")
    await staff(bus, service)
    await bus.emit("pbx.agent.presence.v1", presence("2001", "in_call"))
    await eventually(lambda: not service.presence.is_free("2001"))

    first = await service.route(service.request_of("1.9", "+79990001122", "74951234567"))
    await bus.emit("pbx.agent.presence.v1", presence("2001", "idle"))
    await eventually(lambda: service.presence.is_free("2001"))
    second = await service.route(service.request_of("1.10", "89990001122", "74951234567"))
    other = await service.route(service.request_of("1.11", "+79990003344", "74951234567"))
    await eventually(lambda: len(leads) == 2)

    assert first.rule == "auto_assign" and first.targets[0] in ("2002", "2100")
    assert (second.rule, second.targets) == ("auto_assign", first.targets)
    assert "earlier call" in second.reason
    assert other.manager_id != first.manager_id  # the load is spread
    assert [(e.payload["phone"], e.payload["manager_id"]) for e in leads] == [
        ("+79990001122", first.manager_id), ("+79990003344", other.manager_id)]
    assert (leads[0].payload["linkedid"], leads[0].payload["called_number"]) == ("1.9",
                                                                                "74951234567")

    await service.stop()
    restarted = RoutingService(RoutingSettings(crm_lookup=False, unknown_strategy="auto_assign"),
                               bus)
    await restarted.start()
    after_restart = await restarted.decide(restarted.request_of("1.12", "+79990001122", None))
    await restarted.stop()
    assert after_restart.targets == first.targets


@MEMORY
async def test_an_auto_assigned_callers_lead_carries_the_callers_region(
        routing_on: Factory) -> None:
    observer, leads = collector("crm.lead.requested.v1")
    bus, service = await routing_on(observer, crm_lookup=False, unknown_strategy="auto_assign")
    await staff(bus, service)

    await service.route(service.request_of("1.20", "+73432123456", None))  # landline
    await service.route(service.request_of("1.21", "89501234567", None))   # DEF 950: Irkutsk
    await service.route(service.request_of("1.22", "88001234567", None))   # toll-free: none
    await eventually(lambda: len(leads) == 3)

    region = {e.payload["linkedid"]: e.payload["region"] for e in leads}
    assert region["1.20"].startswith("Свердловская")  # by area code 343
    assert region["1.21"] == "Иркутская область"
    assert region["1.22"] is None


@MEMORY
async def test_every_decision_is_published_as_route_decided_for_the_journal(
        routing_on: Factory) -> None:
    observer, decided = collector("pbx.route.decided.v1")
    bus, service = await routing_on(observer, crm_lookup=False, unknown_strategy="secretary",
                                    secretary="2500")

    await service.route(service.request_of("1.13", "+79990001122", None))
    reply = await bus.request("pbx.route.requested.v1", ask("+79990001122", "1.14"), timeout=5)
    await eventually(lambda: len(decided) == 2)

    journal = JournalQuery(bus.engine)
    await eventually(lambda: len(journal.search(type="pbx.route.decided.v1")) == 2)

    by_call = {e.payload["linkedid"]: e for e in decided}
    journaled = {e.payload["linkedid"]: e.payload
                 for e in journal.search(type="pbx.route.decided.v1")}
    assert journaled["1.13"]["reason"] == "unknown caller: the secretary"
    assert by_call["1.13"].payload["rule"] == "secretary"
    assert by_call["1.13"].payload["reason"] == "unknown caller: the secretary"
    assert by_call["1.14"].correlation_id == reply.correlation_id
    assert by_call["1.14"].payload["targets"] == ["2500"]


@pytest.mark.parametrize("broker_url", ["memory", "rabbitmq"], indirect=True)
async def test_route_requested_is_answered_with_route_decided(routing_on: Factory) -> None:
    bus, service = await routing_on(crm_lookup=False, unknown_strategy="ring_all",
                                    ring_all_queue="sales")
    await staff(bus, service)

    reply = await bus.request("pbx.route.requested.v1", ask("+79990001122"), timeout=10)

    assert reply.type == "pbx.route.decided.v1"
    assert reply.payload["rule"] == "ring_all"
    assert reply.payload["targets"] == ["2001", "2002", "2100"]
    assert reply.payload["linkedid"] == "1764054000.7"


@MEMORY
async def test_presence_and_manual_statuses_are_restored_after_a_restart(
        routing_on: Factory) -> None:
    bus, service = await routing_on(crm_lookup=False)
    await staff(bus, service)
    await bus.emit("crm.customer.changed.v1", customer("C-1", KNOWN_CALLER, manager_id="anna"))
    await bus.emit("pbx.agent.presence.v1", presence("2001", "logged_in", queue="sales"))
    await bus.emit("pbx.agent.presence.v1", presence("2001", "paused", queue="sales"))
    await bus.emit("pbx.agent.presence.v1", presence("2002", "in_call"))
    await eventually(lambda: not service.presence.is_free("2002")
                     and not service.presence.is_free("2001"))
    await service.set_manual("2003", "offline", "sick leave")
    before = await service.decide(service.request_of("1.15", KNOWN_CALLER, None))
    await service.stop()

    restarted = RoutingService(RoutingSettings(crm_lookup=False), bus)
    await restarted.start()
    after = await restarted.decide(restarted.request_of("1.16", KNOWN_CALLER, None))
    agents = restarted.presence.agents
    await restarted.stop()

    assert (before.rule, before.queue) == ("group", "sales")
    assert (after.rule, after.queue, after.reason) == (before.rule, before.queue, before.reason)
    assert agents["2001"].paused == {"sales"} and agents["2001"].queues == {"sales"}
    assert agents["2002"].device == "in_call"
    assert (agents["2003"].manual, agents["2003"].manual_reason) == ("offline", "sick leave")


@MEMORY
async def test_a_crm_that_is_down_sends_the_call_to_default_and_not_found_means_unknown(
        routing_on: Factory) -> None:
    async def crm(payload: dict[str, Any]) -> dict[str, Any]:
        code = "unavailable" if payload["phone"] == KNOWN_CALLER else "not_found"
        return {"customers": [], "error": {"code": code, "message": "as the CRM said"}}

    _bus, service = await routing_on(crm_responder(crm), crm_timeout_ms=2000,
                                     deadline_ms=3000, unknown_strategy="secretary",
                                     secretary="2500")

    down = await service.route(service.request_of("1.17", KNOWN_CALLER, None))
    stranger = await service.route(service.request_of("1.18", "+79990001122", None))

    assert (down.rule, down.reason) == ("default", "CRM lookup failed: unavailable")
    assert (stranger.rule, stranger.targets) == ("secretary", ("2500",))
