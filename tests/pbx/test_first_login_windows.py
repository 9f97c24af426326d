"""Issue #4: a call already in progress when the adapter first logs in is recorded once,
whichever window of the login its last events fall into.

The recorded call (an inbound call answered by 2004) is under way when the adapter logs
in: what happened before is never sent. Its ending (the agent's ``HangupRequest`` through
the customer's ``Hangup``) reaches the adapter in one of the awkward windows of the first
login, and ``CoreShowChannels`` answers with what is up at that point of the stream, as
Asterisk does.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from adapters.pbx.adapter import PbxAdapter
from adapters.pbx.ami.protocol import AmiParser
from adapters.pbx.events import CALL_ENDED
from adapters.pbx.pipeline import Pipeline, Snapshot
from adapters.pbx.simulator import AmiSimulator, SimulatorConfig
from tests.conftest import BusFactory, eventually
from tests.pbx.ami_server import FakeAmi, Session, blocks, split_transcript
from tests.pbx.conftest import (
    Collector,
    ami_settings,
    as_events,
    as_in_fixture,
    calls_of,
    expected,
    scenario_names,
    transcript,
)

SCENARIO = "inbound_direct_answered"
Channels = list[list[tuple[str, str]]]


@dataclass
class Parts:
    banner: bytes
    greeting: bytes
    """The Login reply and ``FullyBooted``."""
    before: bytes
    """The call up to its answer (bridged): happened before the adapter logged in."""
    phone_ends: bytes
    """The agent hangs up (``HangupRequest`` .. the phone's ``Hangup``)."""
    customer_ends: bytes
    """The customer's channel leaves the bridge and hangs up."""

    @property
    def ending(self) -> bytes:
        return self.phone_ends + self.customer_ends


def parts() -> Parts:
    if SCENARIO not in scenario_names():
        pytest.skip(f"AMI fixture {SCENARIO} absent (../shared/fixtures/ami)")
    banner, body = split_transcript(transcript(SCENARIO).read_bytes())
    every = blocks(body)
    hangup_request = next(i for i, b in enumerate(every) if b.startswith(b"Event: HangupRequest"))
    phone_hangup = next(i for i, b in enumerate(every) if b.startswith(b"Event: Hangup\r\n"))
    return Parts(banner, b"".join(every[:2]), b"".join(every[2:hangup_request]),
                 b"".join(every[hangup_request:phone_hangup + 1]),
                 b"".join(every[phone_hangup + 1:]))


def channels_up(*stream: bytes) -> Channels:
    """The ``CoreShowChannel`` items of the channels up after ``stream``, bridges included."""
    up: dict[str, dict[str, str]] = {}
    for message in AmiParser(expect_banner=False).feed(b"".join(stream)):
        uniqueid = message.get("Uniqueid") or ""
        if message.name in ("Newchannel", "Newstate") or uniqueid in up:
            item = up.setdefault(uniqueid, {"BridgeId": ""})
            for key in ("Channel", "ChannelState", "CallerIDNum", "ConnectedLineNum", "Context",
                        "Exten", "Uniqueid", "Linkedid"):
                item[key] = message.get(key) or item.get(key, "")
        if message.name == "BridgeEnter":
            up[uniqueid]["BridgeId"] = message.get("BridgeUniqueid") or ""
        elif message.name == "BridgeLeave":
            up[uniqueid]["BridgeId"] = ""
        elif message.name == "Hangup":
            up.pop(uniqueid, None)
    return [list(item.items()) for item in up.values()]


def session_for(window: str, call: Parts) -> Session:
    if window == "with the login reply":  # before the adapter even asked for a snapshot
        return Session(after_login=call.greeting + call.ending,
                       channels=channels_up(call.before, call.ending))
    if window == "before the snapshot's answer":  # the call ends while it is being asked
        return Session(after_login=call.greeting,
                       before_answer={"CoreShowChannels": call.ending},
                       channels=channels_up(call.before, call.ending))
    if window == "right after the snapshot":
        return Session(after_login=call.greeting, hold_until="CoreShowChannels",
                       rest=call.ending, channels=channels_up(call.before))
    if window == "between the snapshot's questions":  # CoreShowChannels answered, still held
        return Session(after_login=call.greeting,
                       before_answer={"QueueStatus": call.ending},
                       channels=channels_up(call.before))
    if window == "agent with the login reply, customer after the snapshot":
        return Session(after_login=call.greeting + call.phone_ends,
                       hold_until="CoreShowChannels", rest=call.customer_ends,
                       channels=channels_up(call.before, call.phone_ends))
    raise AssertionError(window)


WINDOWS = ["with the login reply", "before the snapshot's answer", "right after the snapshot",
           "between the snapshot's questions",
           "agent with the login reply, customer after the snapshot"]


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
@pytest.mark.parametrize("window", WINDOWS)
async def test_a_call_in_progress_at_the_first_login_is_recorded_once_whenever_it_ends(
    window: str, make_bus: BusFactory, collector: Collector,
) -> None:
    call = parts()
    router, seen = collector
    bus = await make_bus(router)
    async with FakeAmi([session_for(window, call)], banner=call.banner) as pbx:
        adapter = PbxAdapter(ami_settings(pbx.port), bus)
        await adapter.start()
        try:
            await eventually(lambda: bool(pbx.actions_named("ExtensionStateList"))
                             and not adapter.pipeline.waiting_for_snapshot, timeout=10)
            await asyncio.sleep(0.3)  # the record (or a duplicate) reaches the bus now
        finally:
            await adapter.stop()

    want = expected(SCENARIO)["calls"][0]
    records = [dict(e.payload) for e in seen if e.type == CALL_ENDED]
    assert [r["linkedid"] for r in records] == [want["linkedid"]]
    [record] = records
    assert record["ended_at"] == want["ended_at"]
    assert record["hangup_cause"] == want["hangup_cause"] == 16
    assert (record["direction"], record["caller_number"]) == ("inbound", want["caller_number"])
    assert (record["disposition"], record["answered_by_extension"]) == ("answered", "2004")
    assert adapter.rebuilds == 0


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_calls_in_progress_at_a_slow_first_snapshot_are_each_recorded_once(
    make_bus: BusFactory, collector: Collector,
) -> None:
    """The simulated PBX has been taking calls for a while when the adapter logs in, and
    takes its time to answer the snapshot while calls go on ending: every call not over
    before the login gets exactly one record."""
    router, seen = collector
    bus = await make_bus(router)
    config = SimulatorConfig(port=0, secret="secret", rate=40, speed=100, max_calls=60,
                             seed=11, start_on_login=False, list_delay=0.25)
    async with AmiSimulator(config) as sim:
        await asyncio.sleep(0.6)  # calls under way, none of them seen by the adapter
        adapter = PbxAdapter(ami_settings(sim.port), bus)
        await adapter.start()
        try:
            await sim.wait_idle(timeout=30)
            await asyncio.sleep(0.5)  # the last records (and any duplicate) arrive now
        finally:
            await adapter.stop()

    [login] = sim.logins
    generated = [call.linkedid for call in sim.generated]
    over_before_login = set(generated[:login.started]) - login.up
    records = [str(e.payload["linkedid"]) for e in seen if e.type == CALL_ENDED]
    assert len(login.up) >= 5, "the test needs calls in progress at the login"
    assert sorted(records) == sorted(set(records)), "a call recorded twice"
    assert set(records) >= set(generated) - over_before_login
    assert set(records) <= set(generated)


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_a_call_that_starts_while_the_first_snapshot_is_read_is_recorded_exactly(
    make_bus: BusFactory, collector: Collector,
) -> None:
    """A call whose start the held events show is built from them, not adopted from the
    snapshot: its record is the recorded one, to the microsecond and the number dialled."""
    call = parts()
    router, seen = collector
    bus = await make_bus(router)
    session = Session(after_login=call.greeting + call.before, hold_until="CoreShowChannels",
                      rest=call.ending, channels=channels_up(call.before))
    async with FakeAmi([session], banner=call.banner) as pbx:
        adapter = PbxAdapter(ami_settings(pbx.port), bus)
        await adapter.start()
        try:
            await eventually(lambda: any(e.type == CALL_ENDED for e in seen), timeout=10)
            await asyncio.sleep(0.3)  # anything duplicated would arrive now
        finally:
            await adapter.stop()
    want = expected(SCENARIO)["calls"]
    assert as_in_fixture(calls_of(as_events(seen)), want) == want


def test_a_call_unknown_at_a_reconnect_that_ends_before_the_snapshot_is_recorded_once() -> None:
    """The same window after a reconnect: a call that began while the connection was down
    ends between the new session's ``FullyBooted`` and the snapshot (which no longer
    shows it); its held events alone make its record."""
    call = parts()
    parser = AmiParser(expect_banner=False)
    pipeline = Pipeline()
    assert pipeline.feed(parser.feed(call.greeting)) == []  # the first session
    assert pipeline.feed(parser.feed(call.greeting + call.ending)) == []  # held: reconnected
    assert pipeline.waiting_for_snapshot
    want = expected(SCENARIO)["calls"][0]
    ended = [e for e in pipeline.reconcile(Snapshot(channels=[]), now_us=10**16)
             if e.type == CALL_ENDED]
    assert [e.payload["linkedid"] for e in ended] == [want["linkedid"]]
    assert ended[0].payload["ended_at"] == want["ended_at"]
    assert ended[0].payload["answered_by_extension"] == "2004"
    assert pipeline.reconcile(Snapshot(channels=[]), now_us=10**16) == []  # never twice
