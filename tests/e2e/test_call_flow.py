"""End to end: calls played by the AMI simulator are logged once each in the CRM
simulator's history, missed calls from customers become call-back tasks, and a ringing
agent's page receives the local card, then the enriched one, over Server-Sent Events."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest

from adapters.crm.mapping import MISSED
from adapters.pbx.simulator.scenarios import GeneratedCall
from tests.conftest import eventually
from tests.e2e.conftest import CALLERS, KNOWN, Flow, FlowFactory, teach_the_window
from tests.window.sse import SseReader, serve

AGENT = "2001"
IVANOVA = "+79123456789"
MIX = ("queue_answered", "missed", "direct_answered", "blind_transfer", "abandoned_in_queue",
       "busy", "missed", "queue_answered", "missed", "blind_transfer", "direct_answered",
       "missed")
"""Every scenario of the simulator, missed ones several times (known and unknown callers)."""


async def pops_until_enriched(events: SseReader) -> list[dict[str, Any]]:
    """The screen pops the page receives until the enriched one (answered/ended skipped)."""
    pops: list[dict[str, Any]] = []
    while not pops or pops[-1]["stage"] != "enriched":
        event = await events.next(10)
        if event["event"] == "pop":
            pops.append(event)
    return pops


def history(flow: Flow) -> dict[str, dict[str, Any]]:
    """The CRM simulator's call logs, by the call's Linkedid."""
    with flow.crm.data.lock:
        logs = [dict(i) for i in flow.crm.data.interactions.values()]
    counted = Counter(str(i["call_id"]) for i in logs)
    assert max(counted.values(), default=1) == 1, f"logged twice: {counted.most_common(3)}"
    return {str(i["call_id"]): i for i in logs}


async def play(flow: Flow, scenarios: tuple[str, ...], gap: float = 0.05) -> None:
    for scenario in scenarios:
        flow.ami.place_call(scenario)
        await asyncio.sleep(gap)


async def all_logged(flow: Flow) -> tuple[list[GeneratedCall], dict[str, dict[str, Any]]]:
    """Wait until the simulator has played every call and the CRM holds as many logs."""
    await flow.ami.wait_idle(20)
    played = list(flow.ami.generated)
    await eventually(lambda: len(flow.crm.data.interactions) >= len(played), 20)
    await asyncio.sleep(0.3)  # a duplicate would come now
    return played, history(flow)


def assert_once_each(played: list[GeneratedCall], logged: dict[str, dict[str, Any]]) -> None:
    assert sorted(logged) == sorted(call.linkedid for call in played)
    for call in played:
        entry = logged[call.linkedid]
        assert entry["disposition"] == call.disposition, (call, entry)
        assert entry["phone"] == call.caller_number
        assert entry["participants"]["answered_by"] == call.answered_by, (call, entry)


def assert_callbacks(flow: Flow, played: list[GeneratedCall],
                     logged: dict[str, dict[str, Any]]) -> None:
    wanted = {f"call-{c.linkedid}": KNOWN[str(c.caller_number)] for c in played
              if c.disposition in MISSED and c.caller_number in KNOWN}
    assert wanted, "the mix must hold a missed call from a known customer"
    with flow.crm.data.lock:
        tasks = [dict(t) for t in flow.crm.data.tasks]
    assert sorted(t["interaction_id"] for t in tasks) == sorted(wanted)
    for task in tasks:
        assert task["customer_id"] == wanted[task["interaction_id"]]
        assert task["assignee_id"] == logged[task["interaction_id"].removeprefix("call-")][
            "manager_id"]


@pytest.mark.parametrize("broker_url", ["memory", "rabbitmq"], indirect=True)
async def test_every_call_is_logged_once_and_the_ringing_agent_sees_its_card(
        start_flow: FlowFactory) -> None:
    flow = await start_flow()
    await teach_the_window(flow, KNOWN[IVANOVA], IVANOVA)

    async with serve(flow.window.app) as base, \
            httpx.AsyncClient(base_url=base, timeout=30) as http, \
            http.stream("GET", "/v1/screen-pop/stream", params={"agent": AGENT}) as response:
        events = SseReader(response)
        assert await events.next() == {"event": "connected", "agent": AGENT}
        flow.ami.config.callers = (IVANOVA,)  # the first call: Ivanova, to every free agent
        first = flow.ami.place_call("queue_answered")
        pops = await pops_until_enriched(events)
        flow.ami.config.callers = CALLERS  # then known and unknown ones
        await play(flow, MIX)
        played, logged = await all_logged(flow)

    local, enriched = pops  # in this order; the call may be answered in between
    assert (local["stage"], local["call_id"]) == ("local", first.linkedid)
    assert AGENT in local["ring_targets"] and local["caller"] == IVANOVA
    assert local["card"]["known"] is True and local["card"]["name"].startswith("Иванова")
    assert (enriched["stage"], enriched["call_id"]) == ("enriched", first.linkedid)
    crm_section = enriched["view"]["sections"]["crm"]
    assert crm_section["status"] == "fresh", crm_section
    assert crm_section["data"]["customer"]["person"]["last_name"] == "Иванова"
    assert crm_section["data"]["manager"]["id"] == "M-1"  # from the CRM adapter, on the bus
    assert len(played) == len(MIX) + 1
    assert_once_each(played, logged)
    assert_callbacks(flow, played, logged)


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_the_ami_connection_cut_after_dial_end_still_logs_each_call_once(
        start_flow: FlowFactory) -> None:
    flow = await start_flow(cut=True)
    assert flow.cutter is not None

    cut = flow.ami.place_call("direct_answered")  # its DialEnd (ANSWER) is the last word
    await eventually(lambda: flow.pbx.rebuilds >= 1, 10)  # reconnected, state rebuilt
    await play(flow, MIX, gap=0.1)
    played, logged = await all_logged(flow)

    assert (flow.cutter.cuts, flow.cutter.connections) == (1, 2)
    assert played[0] == cut and logged[cut.linkedid]["disposition"] == "answered"
    assert_once_each(played, logged)
    assert_callbacks(flow, played, logged)


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_a_queue_call_answered_while_the_connection_is_down_is_logged_answered(
        start_flow: FlowFactory) -> None:
    flow = await start_flow(cut=True)

    cut = flow.ami.place_call("queue_answered")
    await eventually(lambda: flow.pbx.rebuilds >= 1, 10)
    played, logged = await all_logged(flow)

    assert played == [cut] and list(logged) == [cut.linkedid]  # once, in any case
    assert logged[cut.linkedid]["disposition"] == "answered"
