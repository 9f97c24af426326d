"""The AMI connection drops mid-call; calls that never end; both still give correct calls."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from adapters.pbx.adapter import PbxAdapter
from adapters.pbx.ami.protocol import AmiMessage, AmiParser
from adapters.pbx.events import CALL_ANSWERED, CALL_ENDED
from adapters.pbx.mapping import iso
from adapters.pbx.pipeline import Pipeline
from adapters.pbx.replay import replay
from tests.conftest import BusFactory, eventually
from tests.pbx.ami_server import FakeAmi, Session, block, blocks, split_transcript
from tests.pbx.conftest import (
    Collector,
    ami_settings,
    as_events,
    as_in_fixture,
    calls_of,
    expected,
    presence_of,
    scenario_names,
    transcript,
)


def needs(scenario: str) -> None:
    if scenario not in scenario_names():
        pytest.skip(f"AMI fixture {scenario} absent (../shared/fixtures/ami)")


Channels = list[list[tuple[str, str]]]


def cut_after_first_dial_end(scenario: str) -> tuple[bytes, bytes, bytes, Channels]:
    """(banner, first connection's bytes, the rest, channels up at the cut)."""
    banner, body = split_transcript(transcript(scenario).read_bytes())
    parts = blocks(body)
    cut = next(i for i, b in enumerate(parts) if b.startswith(b"Event: DialEnd")) + 1
    first = b"".join(parts[:cut])
    parser = AmiParser(expect_banner=False)
    alive: dict[str, list[tuple[str, str]]] = {}
    for message in parser.feed(first):
        uniqueid = message.get("Uniqueid") or ""
        if message.name == "Newchannel":
            alive[uniqueid] = [(k, message.get(k) or "") for k in (
                "Channel", "Uniqueid", "Linkedid", "CallerIDNum", "Exten", "Context",
                "ChannelState")] + [("BridgeId", ""), ("Application", "Dial")]
        elif message.name == "Hangup":
            alive.pop(uniqueid, None)
    return banner, first, b"".join(parts[cut:]), list(alive.values())


def greeting(scenario: str) -> bytes:
    """The transcript's Login reply and FullyBooted, as a second connection gets them."""
    _, body = split_transcript(transcript(scenario).read_bytes())
    return b"".join(blocks(body)[:2])


@pytest.mark.parametrize("broker_url", ["memory", "rabbitmq"], indirect=True)
@pytest.mark.parametrize("scenario", ["inbound_queue_answered", "inbound_direct_answered",
                                      "outbound_click_to_call"])
async def test_connection_dropped_after_dial_end_still_gives_one_correct_call(
    scenario: str, make_bus: BusFactory, collector: Collector,
) -> None:
    needs(scenario)
    banner, first, rest, alive = cut_after_first_dial_end(scenario)
    replayed = replay(transcript(scenario))
    router, seen = collector
    bus = await make_bus(router)
    sessions = [Session(after_login=first, close=True),
                Session(after_login=greeting(scenario), hold_until="CoreShowChannels",
                        rest=rest, channels=alive)]
    async with FakeAmi(sessions, banner=banner) as pbx:
        adapter = PbxAdapter(ami_settings(pbx.port), bus)
        await adapter.start()
        try:
            await eventually(lambda: len(seen) >= len(replayed), timeout=20)
            await asyncio.sleep(0.3)  # anything duplicated would arrive now
        finally:
            await adapter.stop()
    assert pbx.connections == 2
    assert [(c, a.action_id) for c, a in pbx.actions_named("Login")] == [
        (0, "login-1"), (1, "login-1")]
    assert [c for c, _ in pbx.actions_named("CoreShowChannels")] == [1]
    assert adapter.rebuilds == 1

    published = as_events(seen)
    assert len(published) == len(replayed)
    want = expected(scenario)["calls"]
    assert as_in_fixture(calls_of(published), want) == want
    assert presence_of(published) == expected(scenario)["presence"]
    assert sum(e["type"] == CALL_ANSWERED for e in published) == 1


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_call_that_ended_while_disconnected_is_closed_at_reconnect(
    make_bus: BusFactory, collector: Collector,
) -> None:
    scenario = "inbound_direct_answered"
    needs(scenario)
    banner, first, _lost, _alive = cut_after_first_dial_end(scenario)
    router, seen = collector
    bus = await make_bus(router)
    sessions = [Session(after_login=first, close=True),
                Session(after_login=greeting(scenario), channels=[])]  # its hangups were lost
    async with FakeAmi(sessions, banner=banner) as pbx:
        adapter = PbxAdapter(ami_settings(pbx.port), bus)
        await adapter.start()
        try:
            await eventually(lambda: any(e.type == CALL_ENDED for e in seen), timeout=10)
        finally:
            await adapter.stop()
    [call] = calls_of(as_events(seen))
    want = expected(scenario)["calls"][0]
    assert call["linkedid"] == want["linkedid"]
    assert call["disposition"] == "answered"
    assert call["answered_by_extension"] == want["answered_by_extension"]
    assert call["answered_at"] == want["answered_at"]
    assert call["hangup_cause"] is None  # never seen
    assert adapter.pipeline.calls.calls == {}


CHANNEL_FIELDS = ("Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum",
                  "ConnectedLineNum", "Context", "Exten", "Uniqueid", "Linkedid")


def channels_at(messages: list[AmiMessage], *, bridges: bool) -> Channels:
    """The CoreShowChannel items a PBX would report after these events: every live channel,
    its state and (``bridges``) the bridge it is in; without, as the simulator reports."""
    alive: dict[str, dict[str, str]] = {}
    for message in messages:
        uniqueid = message.get("Uniqueid") or ""
        if message.name in ("Newchannel", "Newstate"):
            bridge = alive.get(uniqueid, {}).get("BridgeId", "")
            alive[uniqueid] = {k: message.get(k) or "" for k in CHANNEL_FIELDS}
            alive[uniqueid]["BridgeId"] = bridge
        elif message.name in ("BridgeEnter", "BridgeLeave") and uniqueid in alive:
            entered = message.name == "BridgeEnter" and bridges
            alive[uniqueid]["BridgeId"] = (message.get("BridgeUniqueid") or "") if entered else ""
        elif message.name == "Hangup":
            alive.pop(uniqueid, None)
    return [list(item.items()) for item in alive.values()]


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
@pytest.mark.parametrize(("resume_at", "bridges"), [
    ("LocalOptimizationBegin", True),  # customer = Local;1, Local;2 = the agent's phone
    ("HangupRequest", True),  # the Local pair optimised away: customer = phone
    ("LocalOptimizationBegin", False),  # no BridgeId (the simulator): the Local;1 it dialled is Up
], ids=["through-local-pair", "bridged-directly", "channel-states-only"])
async def test_queue_call_answered_while_disconnected_is_answered_by_the_agent(
    resume_at: str, bridges: bool, make_bus: BusFactory, collector: Collector,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Cut after the agent leg's DialEnd; the customer's DialEnd, AgentConnect and the
    bridges are lost; the PBX comes back with the call in progress and finishes it."""
    scenario = "inbound_queue_answered"
    needs(scenario)
    banner, first, _rest, _alive = cut_after_first_dial_end(scenario)
    _, body = split_transcript(transcript(scenario).read_bytes())
    parts = blocks(body)
    resume = next(i for i, b in enumerate(parts) if b.startswith(b"Event: " + resume_at.encode()))
    parser = AmiParser(expect_banner=False)
    until_resume = parser.feed(b"".join(parts[:resume]))
    cut_dial_end = next(m for m in until_resume if m.name == "DialEnd")
    router, seen = collector
    bus = await make_bus(router)
    sessions = [Session(after_login=first, close=True),
                Session(after_login=greeting(scenario), hold_until="CoreShowChannels",
                        rest=b"".join(parts[resume:]),
                        channels=channels_at(until_resume, bridges=bridges))]
    async with FakeAmi(sessions, banner=banner) as pbx:
        adapter = PbxAdapter(ami_settings(pbx.port), bus)
        await adapter.start()
        try:
            with caplog.at_level(logging.WARNING, logger="adapters.pbx.snapshot"):
                await eventually(lambda: any(e.type == CALL_ENDED for e in seen), timeout=10)
            await asyncio.sleep(0.2)  # anything duplicated would arrive now
        finally:
            await adapter.stop()

    assert adapter.rebuilds == 1
    published = as_events(seen)
    want = expected(scenario)["calls"][0]
    [answered] = [e["payload"] for e in published if e["type"] == CALL_ANSWERED]
    [call] = calls_of(published)
    assert answered["answered_by_extension"] == call["answered_by_extension"] == "2002"
    assert call["disposition"] == "answered"
    assert call["linkedid"] == want["linkedid"]
    assert call["ring_targets"] == want["ring_targets"]
    assert call["ended_at"] == want["ended_at"] and call["hangup_cause"] == 16
    # approximated: the reconnect, at or after the last event seen before the cut
    assert cut_dial_end.timestamp_us is not None
    assert call["answered_at"] == answered["answered_at"]
    assert answered["answered_at"] >= iso(cut_dial_end.timestamp_us)
    assert abs(call["talk_seconds"] - want["talk_seconds"]) <= 1
    assert "answer time approximated" in caplog.text


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_queue_call_still_ringing_at_the_reconnect_is_not_answered(
    make_bus: BusFactory, collector: Collector,
) -> None:
    """Every member still ringing (nothing Up, nothing bridged): the rebuild answers nothing
    and the call ends abandoned when the caller hangs up."""
    scenario = "inbound_queue_answered"
    needs(scenario)
    banner, body = split_transcript(transcript(scenario).read_bytes())
    parts = blocks(body)
    ringing = next(i for i, b in enumerate(parts) if b"DialStatus: ANSWER" in b) - 4
    parser = AmiParser(expect_banner=False)
    before = parser.feed(b"".join(parts[:ringing]))
    linkedid, customer = "1710224107.1837", "PJSIP/trunk-0000001a"
    last_us = max(m.timestamp_us or 0 for m in before)
    hangup = block(("Event", "Hangup"), ("Timestamp", f"{last_us / 1e6 + 20:.6f}"),
                   ("Channel", customer), ("Uniqueid", linkedid), ("Linkedid", linkedid),
                   ("Cause", "16"))
    alive = [item for item in channels_at(before, bridges=True)
             if ("Channel", customer) in item]  # the caller alone: its legs are never seen again
    router, seen = collector
    bus = await make_bus(router)
    sessions = [Session(after_login=b"".join(parts[:ringing]), close=True),
                Session(after_login=greeting(scenario), hold_until="CoreShowChannels",
                        rest=hangup, channels=alive)]
    async with FakeAmi(sessions, banner=banner) as pbx:
        adapter = PbxAdapter(ami_settings(pbx.port), bus)
        await adapter.start()
        try:
            await eventually(lambda: any(e.type == CALL_ENDED for e in seen), timeout=10)
        finally:
            await adapter.stop()
    published = as_events(seen)
    assert not [e for e in published if e["type"] == CALL_ANSWERED]
    [call] = calls_of(published)
    assert call["answered_by_extension"] is None and call["disposition"] == "abandoned"


def _messages_until_first_answer(scenario: str) -> list[Any]:
    parser = AmiParser()
    messages = parser.feed(transcript(scenario).read_bytes()) + parser.flush()
    cut = next(i for i, m in enumerate(messages)
               if m.name == "DialEnd" and m.get("DialStatus") == "ANSWER")
    return messages[: cut + 1]


def test_a_call_that_never_ends_is_closed_by_the_timeout_as_failed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    scenario = "inbound_direct_answered"
    needs(scenario)
    parser = AmiParser()
    messages = parser.feed(transcript(scenario).read_bytes()) + parser.flush()
    head = _messages_until_first_answer(scenario)
    pipeline = Pipeline(call_timeout=60)
    pipeline.feed(head)
    assert len(pipeline.calls.calls) == 1
    last = pipeline.last_event_us
    assert last is not None
    assert pipeline.expire(last + 10_000_000) == []  # not yet
    with caplog.at_level(logging.WARNING, logger="adapters.pbx.calls"):
        [ended] = pipeline.expire(last + 61_000_000)
    assert "closed as failed" in caplog.text
    assert ended.type == CALL_ENDED
    assert ended.payload["disposition"] == "failed"
    assert ended.payload["answered_by_extension"] == "2004"
    assert pipeline.calls.calls == {}
    # the rest of the call arriving late does not open it again
    late = pipeline.feed(messages[len(head):])
    assert [e for e in late if e.type.startswith("pbx.call.")] == []


def test_the_timeout_also_fires_from_the_event_stream_itself() -> None:
    scenario = "inbound_direct_answered"
    needs(scenario)
    parser = AmiParser()
    messages = parser.feed(transcript(scenario).read_bytes()) + parser.flush()
    pipeline = Pipeline(call_timeout=3)  # shorter than the 58 s call
    ended = [e for e in pipeline.feed(messages) if e.type == CALL_ENDED]
    assert [e.payload["disposition"] for e in ended] == ["failed"]


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_adapter_closes_a_silent_call_after_the_timeout(
    make_bus: BusFactory, collector: Collector, caplog: pytest.LogCaptureFixture,
) -> None:
    scenario = "inbound_direct_answered"
    needs(scenario)
    banner, body = split_transcript(transcript(scenario).read_bytes())
    parts = blocks(body)
    cut = next(i for i, b in enumerate(parts) if b"DialStatus: ANSWER" in b) + 1
    router, seen = collector
    bus = await make_bus(router)
    async with FakeAmi([Session(after_login=b"".join(parts[:cut]))], banner=banner) as pbx:
        # the call's events span 6.1 s of PBX time: 7 s closes it about a second later
        adapter = PbxAdapter(ami_settings(pbx.port, call_timeout=7.0, sweep_interval=0.1), bus)
        await adapter.start()
        try:
            with caplog.at_level(logging.WARNING, logger="adapters.pbx.calls"):
                await eventually(lambda: any(e.type == CALL_ENDED for e in seen), timeout=10)
        finally:
            await adapter.stop()
    [call] = calls_of(as_events(seen))
    assert call["disposition"] == "failed"
    assert call["answered_by_extension"] == "2004"
    assert "closed as failed" in caplog.text


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_a_call_in_progress_when_the_adapter_starts_is_adopted_and_recorded_once(
    make_bus: BusFactory, collector: Collector,
) -> None:
    """The adapter's very first login lands mid-call: the call is taken in from
    CoreShowChannels, the events after it finish it, and it is recorded once."""
    scenario = "inbound_queue_answered"
    needs(scenario)
    banner, _first, rest, alive = cut_after_first_dial_end(scenario)
    router, seen = collector
    bus = await make_bus(router)
    sessions = [Session(after_login=greeting(scenario), hold_until="CoreShowChannels",
                        rest=rest, channels=alive)]
    async with FakeAmi(sessions, banner=banner) as pbx:
        adapter = PbxAdapter(ami_settings(pbx.port), bus)
        await adapter.start()
        try:
            await eventually(lambda: any(e.type == CALL_ENDED for e in seen), timeout=10)
            await asyncio.sleep(0.2)  # anything duplicated would arrive now
        finally:
            await adapter.stop()

    want = expected(scenario)["calls"][0]
    [call] = calls_of(as_events(seen))
    assert adapter.rebuilds == 0
    assert call["linkedid"] == want["linkedid"]
    assert call["ended_at"] == want["ended_at"] and call["hangup_cause"] == 16
