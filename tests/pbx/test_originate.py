"""Click-to-call on the PBX side: pbx.originate.requested.v1 -> AMI Originate on the AMI
simulator -> pbx.originate.replied.v1, then the call's own events."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from adapters.pbx.adapter import PbxAdapter
from adapters.pbx.events import CALL_ENDED
from adapters.pbx.originate import (
    ORIGINATE_REPLIED,
    ORIGINATE_REQUESTED,
    OriginateSettings,
    Originator,
)
from adapters.pbx.originate import router as originate_router
from adapters.pbx.simulator import AmiSimulator, SimulatorConfig
from bus.app import Bus
from bus.envelope import Envelope
from bus.schema import default_registry
from tests.conftest import BusFactory, collector, eventually
from tests.pbx.conftest import ami_settings

Started = tuple[Bus, list[Envelope], AmiSimulator]


@pytest.fixture
async def pbx_on(make_bus: BusFactory) -> AsyncIterator[Callable[..., Awaitable[Started]]]:
    """A bus with the originate handler, a PBX adapter connected to an AMI simulator."""
    adapters: list[PbxAdapter] = []
    simulators: list[AmiSimulator] = []

    async def start(connect: bool = True, speed: float = 100,
                    settings: OriginateSettings | None = None) -> Started:
        sim = AmiSimulator(SimulatorConfig(port=0, secret="secret", rate=0, speed=speed))
        await sim.start()
        simulators.append(sim)
        observer, seen = collector(ORIGINATE_REPLIED, CALL_ENDED)
        bus = await make_bus(originate_router, observer, start=False, source="pbx")
        port = sim.port if connect else 1  # nothing listens on port 1: never connected
        adapter = PbxAdapter(ami_settings(port), bus)
        if settings is not None:
            adapter.originator = Originator(adapter.client, settings)
        bus.provide(Originator, adapter.originator)
        await bus.start()
        await adapter.start()
        adapters.append(adapter)
        if connect:
            await adapter.client.wait_connected(5)
        return bus, seen, sim

    yield start
    for adapter in adapters:
        await adapter.stop()
    for sim in simulators:
        await sim.stop()


def request(agent: str = "2003", number: str = "+79123456789", **extra: object) -> Envelope:
    payload = {"agent_extension": agent, "number": number,
               "requested_by": {"system": "crm", "user_id": "17"},
               "crm_entity": {"type": "contact", "id": "C-1001"}, **extra}
    return Envelope(type=ORIGINATE_REQUESTED, source="crm", payload=payload)


def replies(seen: list[Envelope]) -> list[Envelope]:
    return [e for e in seen if e.type == ORIGINATE_REPLIED]


@pytest.mark.parametrize("broker_url", ["memory", "rabbitmq"], indirect=True)
async def test_click_to_call_rings_the_agent_then_the_number_and_replies_with_the_call_id(
    pbx_on: Callable[..., Awaitable[Started]],
) -> None:
    bus, seen, sim = await pbx_on()
    asked = request()

    await bus.publish(asked)
    await bus.publish(asked)  # redelivered: the agent's phone must not ring twice
    await eventually(lambda: len(replies(seen)) == 1)
    await eventually(lambda: any(e.type == CALL_ENDED for e in seen))

    [call] = sim.generated
    [reply] = replies(seen)
    default_registry().validate(ORIGINATE_REPLIED, reply.payload)
    assert (reply.payload["status"], reply.payload["call_id"]) == ("accepted", call.linkedid)
    assert reply.payload["crm_entity"] == {"type": "contact", "id": "C-1001"}
    assert reply.correlation_id == asked.correlation_id
    assert reply.causation_id == asked.id
    [ended] = [e for e in seen if e.type == CALL_ENDED]
    assert (ended.payload["linkedid"], ended.payload["direction"],
            ended.payload["called_number"], ended.payload["answered_by_extension"]) == (
        call.linkedid, "outbound", "+79123456789", "2003")


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_a_pbx_that_is_not_connected_fails_the_request_with_the_reason(
    pbx_on: Callable[..., Awaitable[Started]],
) -> None:
    bus, seen, sim = await pbx_on(connect=False)

    await bus.publish(request())
    await eventually(lambda: len(replies(seen)) == 1)

    [reply] = replies(seen)
    assert reply.payload["status"] == "failed"
    assert "not reachable" in reply.payload["reason"]
    assert list(sim.generated) == []


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_stale_or_malformed_requests_are_refused_without_ringing_anyone(
    pbx_on: Callable[..., Awaitable[Started]],
) -> None:
    bus, seen, sim = await pbx_on()
    stale = Envelope(type=ORIGINATE_REQUESTED, source="crm", payload=request().payload,
                     occurred_at=datetime.now(UTC) - timedelta(minutes=10))
    odd_agent = request(agent="99")  # valid on the bus, not an extension here

    await bus.publish(stale)
    await bus.publish(odd_agent)
    await eventually(lambda: len(replies(seen)) == 2)

    reasons = sorted(str(r.payload["reason"]) for r in replies(seen))
    assert [r.payload["status"] for r in replies(seen)] == ["failed", "failed"]
    assert "not an agent extension" in reasons[0]
    assert "old: not dialled" in reasons[1]
    assert list(sim.generated) == []


@pytest.mark.parametrize("broker_url", ["memory", "rabbitmq"], indirect=True)
async def test_a_requester_gets_a_direct_reply_with_the_call_id(
    pbx_on: Callable[..., Awaitable[Started]],
) -> None:
    bus, seen, sim = await pbx_on()

    reply = await bus.request(ORIGINATE_REQUESTED, request(agent="2004").payload, timeout=5)

    [call] = sim.generated
    assert (reply.payload["status"], reply.payload["call_id"]) == ("accepted", call.linkedid)
    await eventually(lambda: len(replies(seen)) == 1)  # and the event for everyone else
    assert replies(seen)[0].payload == reply.payload


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_a_slow_pick_up_is_answered_ringing_at_once_and_the_event_brings_the_call_id(
    pbx_on: Callable[..., Awaitable[Started]],
) -> None:
    bus, seen, sim = await pbx_on(speed=5, settings=OriginateSettings(reply_within=0.05))

    reply = await bus.request(ORIGINATE_REQUESTED, request(agent="2005").payload, timeout=5)

    assert (reply.payload["status"], reply.payload["call_id"]) == ("accepted", None)
    assert reply.payload["reason"] == "the agent's phone is ringing"
    await eventually(lambda: len(replies(seen)) == 1)  # the agent picks up 0.6 s later
    [call] = sim.generated
    assert replies(seen)[0].payload["call_id"] == call.linkedid
