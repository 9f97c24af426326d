"""The AMI simulator drives the real PBX adapter: every generated call comes out of the
bus once, valid, with the disposition the simulator says it played."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from adapters.pbx.adapter import PbxAdapter
from adapters.pbx.ami.client import AmiClient
from adapters.pbx.ami.protocol import AmiMessage
from adapters.pbx.events import CALL_ENDED
from adapters.pbx.simulator import SCENARIOS, AmiSimulator, SimulatorConfig
from bus.envelope import Envelope
from bus.router import Router
from bus.schema import default_registry
from tests.conftest import BusFactory, eventually
from tests.pbx.conftest import ami_settings

MEMORY = pytest.mark.parametrize("broker_url", ["memory"], indirect=True)

CALLS = 30


def ended_calls() -> tuple[Router, list[Envelope]]:
    router = Router()
    seen: list[Envelope] = []

    @router.subscriber("sim-ended", CALL_ENDED)
    async def keep(envelope: Envelope) -> None:
        seen.append(envelope)

    return router, seen


@MEMORY
async def test_each_generated_call_ends_once_on_the_bus_with_the_simulated_disposition(
    make_bus: BusFactory,
) -> None:
    router, seen = ended_calls()
    bus = await make_bus(router)
    config = SimulatorConfig(port=0, secret="secret", rate=40, speed=200, max_calls=CALLS,
                             seed=7)
    async with AmiSimulator(config) as sim:
        adapter = PbxAdapter(ami_settings(sim.port), bus)
        await adapter.start()
        try:
            await sim.wait_idle(timeout=20)
            await eventually(lambda: len(seen) >= CALLS, timeout=10)
            await asyncio.sleep(0.3)  # nothing more may follow
        finally:
            await adapter.stop()

    assert len(sim.generated) == CALLS
    assert len(seen) == CALLS
    for envelope in seen:
        default_registry().validate(CALL_ENDED, envelope.payload)
    published = {e.payload["linkedid"]: e.payload for e in seen}
    assert set(published) == {call.linkedid for call in sim.generated}
    for call in sim.generated:
        payload = published[call.linkedid]
        assert payload["disposition"] == call.disposition, call
        assert payload["direction"] == call.direction == "inbound"
        assert payload["caller_number"] == call.caller_number
        assert payload["answered_by_extension"] == call.answered_by
        assert payload["transferred_to"] == call.transferred_to
    # compressed time: the PBX's clock says the calls lasted minutes
    assert max(e.payload["talk_seconds"] for e in seen) > 20
    assert len(Counter(call.scenario for call in sim.generated)) >= 4


@MEMORY
async def test_every_scenario_gives_its_disposition(make_bus: BusFactory) -> None:
    router, seen = ended_calls()
    bus = await make_bus(router)
    async with AmiSimulator(SimulatorConfig(port=0, secret="secret", rate=0, speed=500,
                                            seed=1)) as sim:
        adapter = PbxAdapter(ami_settings(sim.port), bus)
        await adapter.start()
        try:
            await adapter.client.wait_connected(5)
            placed = {name: sim.place_call(name) for name in SCENARIOS}
            await sim.wait_idle(timeout=10)
            await eventually(lambda: len(seen) >= len(placed))
        finally:
            await adapter.stop()
    dispositions = {e.payload["linkedid"]: e.payload["disposition"] for e in seen}
    assert {name: dispositions[call.linkedid] for name, call in placed.items()} == {
        "queue_answered": "answered", "direct_answered": "answered", "missed": "missed",
        "abandoned_in_queue": "abandoned", "busy": "busy", "blind_transfer": "answered"}


@MEMORY
async def test_originate_plays_an_outbound_click_to_call(make_bus: BusFactory) -> None:
    router, seen = ended_calls()
    bus = await make_bus(router)
    async with AmiSimulator(SimulatorConfig(port=0, secret="secret", rate=0,
                                            speed=100)) as sim:
        adapter = PbxAdapter(ami_settings(sim.port, auth="md5"), bus)
        await adapter.start()
        try:
            await adapter.client.wait_connected(5)
            reply = await adapter.client.originate("PJSIP/2003", exten="89123456789",
                                                   context="from-internal")
            assert reply.name == "Success"
            await eventually(lambda: len(seen) == 1)
        finally:
            await adapter.stop()
    [call] = sim.generated
    payload = seen[0].payload
    default_registry().validate(CALL_ENDED, payload)
    assert payload["linkedid"] == call.linkedid
    assert (payload["direction"], payload["caller_number"], payload["called_number"],
            payload["answered_by_extension"], payload["disposition"]) == (
        "outbound", "2003", "89123456789", "2003", "answered")


async def test_list_actions_answer_with_the_calls_in_progress() -> None:
    events: list[AmiMessage] = []

    async def keep(batch: list[AmiMessage]) -> None:
        events.extend(batch)

    async with AmiSimulator(SimulatorConfig(port=0, secret="secret", rate=0)) as sim:
        client = AmiClient(ami_settings(sim.port, event_filters=("!Event: (Var|New)",)),
                           on_events=keep)
        await client.start()
        try:
            await client.wait_connected(5)
            call = sim.place_call("direct_answered")  # real time: still ringing below
            await eventually(lambda: any(e.name == "DialBegin" for e in events))
            channels = await client.core_show_channels()
            members = await client.queue_status()
            hints = await client.extension_state_list()
        finally:
            await client.stop()
    assert {c.get("Linkedid") for c in channels} == {call.linkedid}
    assert len(channels) == 2  # the trunk and the ringing phone
    assert [m.get("Name") for m in members if m.name == "QueueMember"] == list(
        sim.config.agents)
    assert "Ringing" in {h.get("StatusText") for h in hints}
    assert not any(e.name in ("VarSet", "Newexten", "Newstate") for e in events)


async def test_wrong_secret_is_refused() -> None:
    async with AmiSimulator(SimulatorConfig(port=0, secret="secret", rate=0)) as sim:
        client = AmiClient(ami_settings(sim.port, ami_secret="wrong"), on_events=_ignore)
        await client.start()
        try:
            await eventually(lambda: client.last_error is not None, timeout=5)
        finally:
            await client.stop()
    assert "refused" in (client.last_error or "")
    assert not sim.generated


async def _ignore(_batch: list[AmiMessage]) -> None:
    return None
